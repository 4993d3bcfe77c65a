// A one-line module: tests/bench/init.html imports it first, so the module
// loader's start-up in a fresh document is not timed as ours.
export const warm = true;
