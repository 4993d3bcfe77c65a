// The checks of the browser test scripts: one `ok   - name` or
// `FAIL - name: detail` line per check and a closing `N passed, M failed` line
// (the line scripts/test.sh and CI read). The exit status is non-zero on any
// failure, or when no check ran at all.
//
//   const { check, failures, finish } = createChecks();
//   check('name', ok, detail);   // returns ok
//   finish();
export function createChecks({ formatDetail = (d) => d } = {}) {
  let passed = 0;
  let failed = 0;
  function check(name, ok, detail) {
    if (ok) {
      passed += 1;
      console.log(`ok   - ${name}`);
    } else {
      failed += 1;
      console.log(`FAIL - ${name}${detail === undefined ? '' : `: ${formatDetail(detail)}`}`);
    }
    return ok;
  }
  function finish() {
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
  }
  return { check, failures: () => failed, finish };
}
