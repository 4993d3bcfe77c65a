// Debian's Chromium for every browser test, and the flags it needs on the project machines
// (these machines): root (no sandbox), no internet (no background networking, component updates,
// sync or QUIC), no GPU. Playwright adds --headless itself; direct spawns add it.
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', // we run as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking', // no internet here
  '--disable-component-update',
  '--disable-sync',
];
