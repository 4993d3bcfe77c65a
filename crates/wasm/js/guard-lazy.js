// The tab guard, loaded on first use. Release builds (scripts/build.mjs) put
// this module in place of js/guard.js and ship js/guard.js beside it as
// guard-impl.js, its own file: the guard is opt-in (`acquireTabGuard`, or
// `startCryptoHealth({ tabGuard })`) and the largest snippet, so pages that do
// not use it never download it. Same exports, same contract as guard.js.
//
// Until the implementation has loaded there is no guard, so the state is the
// idle one (`null` here; the Rust side reads it as idle), as it is in the
// eager build while a first acquire is under way.

let impl = null;
let loading = null;
// Bumped by a release: an acquire that started before it never runs.
let generation = 0;

function load() {
  if (!loading) {
    loading = import('./guard-impl.js').then((m) => (impl = m));
    loading.catch(() => { loading = null; }); // a failed fetch may be retried
  }
  return loading;
}

export function guardAcquire(opts) {
  if (impl) return impl.guardAcquire(opts);
  const mine = generation;
  // Released before the code arrived: this tab does not drive the store.
  return load().then(
    (m) => (mine === generation ? m.guardAcquire(opts) : 'secondary'),
    () => 'unsupported', // the implementation could not be loaded: no guard
  );
}

export function guardTakeOver() {
  if (impl) return impl.guardTakeOver();
  // An acquire is waiting for the code: take over once it has run.
  if (loading) return load().then((m) => m.guardTakeOver());
  return Promise.reject(new Error('takeOverTabGuard: call acquireTabGuard first'));
}

export function guardRelease() {
  if (impl) return impl.guardRelease();
  if (!loading) return false;
  generation++;
  return true; // an acquire was waiting for the code: it will not run
}

export function guardState() {
  return impl ? impl.guardState() : null;
}
