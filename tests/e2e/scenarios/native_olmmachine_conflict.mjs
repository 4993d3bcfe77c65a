// KE-1 reproduced with matrix-sdk-crypto's OlmMachine against the run's Synapse: the Rust
// integration test crates/e2e-native/tests/olm_machine_conflict.rs does the work; this module
// gives it users, runs it, and records its figures. It leaves behind (in its outDir, and in
// ctx.artifacts.ke1 for later scenarios) the report and ids the triage scenario needs.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const name = 'native_olmmachine_conflict';
export const order = 10;

const CARGO_ARGS = ['-p', 'crypto-health-e2e-native', '--features', 'synapse', '--test', 'olm_machine_conflict'];

export async function run({ synapse, log, outDir, artifacts, exec }) {
  const password = 'e2e-native-pw';
  const suffix = Date.now().toString(36);
  const ke1 = await synapse.registerUser(`ke1native${suffix}`, password);
  const healthy = await synapse.registerUser(`healthynative${suffix}`, password);

  // Build first, apart, so the figures tell compile time from test time.
  log('cargo test --no-run (matrix-sdk-crypto; slow the first time)');
  const build = await exec('cargo', ['test', ...CARGO_ARGS, '--no-run'], { echo: false });
  if (build.code !== 0) throw new Error(`cargo build failed (${build.code}):\n${build.stderr.slice(-4000)}`);
  log(`built in ${build.ms} ms; running against ${synapse.baseUrl}`);

  const env = {
    E2E_KE1_USER: ke1.userId.slice(1).split(':')[0],
    E2E_HEALTHY_USER: healthy.userId.slice(1).split(':')[0],
    E2E_PASSWORD: password,
    E2E_OUT: outDir,
  };
  const t = await exec('cargo', ['test', ...CARGO_ARGS, '--', '--test-threads=1'], { env });
  const summaryLine = (t.stdout.match(/test result: .*/g) ?? []).at(-1) ?? '(no test result line)';
  log(summaryLine);
  if (t.code !== 0) throw new Error(`olm_machine_conflict failed (exit ${t.code}):\n${t.stdout.slice(-6000)}\n${t.stderr.slice(-2000)}`);
  const passedTests = Number(summaryLine.match(/(\d+) passed/)?.[1] ?? 0);
  if (passedTests !== 2) throw new Error(`expected 2 passing tests, got: ${summaryLine}`);

  const figures = JSON.parse(readFileSync(path.join(outDir, 'ke1-figures.json'), 'utf8'));
  const healthyFigures = JSON.parse(readFileSync(path.join(outDir, 'healthy-figures.json'), 'utf8'));
  artifacts.ke1 = {
    outDir,
    report: path.join(outDir, 'ke1-report.json'),
    httpReport: path.join(outDir, 'ke1-report-http.json'),
    healthyReport: path.join(outDir, 'healthy-report.json'),
    figures,
    healthy: healthyFigures,
  };
  return {
    key_id: figures.key_id,
    counter: figures.counter,
    diverged: figures.diverged,
    device_id: figures.device_id,
    server_identity_replaced: figures.server_identity === figures.identity_second,
    tests_passed: passedTests,
    duration_ms: figures.duration_ms,
    test_run_ms: t.ms,
    build_ms: build.ms,
  };
}
