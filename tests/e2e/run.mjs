#!/usr/bin/env node
// The end-to-end runner (`npm run e2e`): starts one real Synapse, runs every scenario module in
// tests/e2e/scenarios/*.mjs against it, writes target/e2e/summary.json, prints a table.
//
//   node tests/e2e/run.mjs [NAME_SUBSTRING...]     (no argument: every scenario)
//
// A scenario module:
//   export const name = 'snake_case_name';
//   export const order = 10;                 // optional, lower runs first (default 100), then by name
//   export async function run(ctx) { ...; return { figure: value, ... }; }   // throw = failed
// ctx = { synapse, log, root, outDir, artifacts, browser, exec }:
//   synapse     the running homeserver (tests/e2e/synapse.mjs)
//   log(...)    prefixed progress output
//   root        repository root; outDir: target/e2e/<scenario name>/ (created, emptied first)
//   artifacts   one object shared by all scenarios of the run (a scenario may leave facts for a later one)
//   browser()   a lazily launched playwright-core Chromium (Debian's), shared by the run, closed at the end
//   exec(cmd, args, opts?) → { code, stdout, stderr, ms }: a child process with the Synapse env vars set
// A scenario may push functions onto artifacts.cleanups (servers, contexts): run at the end.
//
// summary.json: {"scenarios": {"<name>": {"passed": bool, "ms": n, ...figures, "error"?: string}},
//                "synapse": {...}, "passed": n, "failed": n}
// Exit code: 0 when every selected scenario passed, 1 otherwise (Synapse log tail printed on failure).
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startSynapse } from './synapse.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../lib/chromium.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = path.join(ROOT, 'target', 'e2e');
const SCENARIO_DIR = path.join(ROOT, 'tests', 'e2e', 'scenarios');

async function loadScenarios(filters) {
  const files = readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.mjs')).sort();
  const mods = [];
  for (const f of files) {
    const m = await import(pathToFileURL(path.join(SCENARIO_DIR, f)).href);
    if (typeof m.name !== 'string' || typeof m.run !== 'function') {
      throw new Error(`scenario ${f} must export \`name\` (string) and \`run(ctx)\``);
    }
    mods.push({ file: f, name: m.name, order: m.order ?? 100, run: m.run });
  }
  mods.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
  return filters.length ? mods.filter((m) => filters.some((s) => m.name.includes(s))) : mods;
}

function execWith(env) {
  return (cmd, args, opts = {}) =>
    new Promise((resolve) => {
      const started = Date.now();
      const child = spawn(cmd, args, { cwd: ROOT, ...opts, env: { ...process.env, ...env, ...(opts.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
        if (opts.echo) process.stdout.write(d);
      });
      child.stderr.on('data', (d) => {
        stderr += d;
        if (opts.echo) process.stderr.write(d);
      });
      child.on('error', (e) => resolve({ code: 127, stdout, stderr: stderr + e.message, ms: Date.now() - started }));
      child.on('exit', (code, sig) => resolve({ code: code ?? 128, signal: sig, stdout, stderr, ms: Date.now() - started }));
    });
}

function table(rows) {
  const w = [0, 0, 0];
  const cells = rows.map((r) => r.map(String));
  for (const r of cells) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, c.length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n');
}

// Figures worth a glance in the table: scalars only, short.
function brief(figures) {
  return Object.entries(figures)
    .filter(([k, v]) => !['passed', 'ms', 'error'].includes(k) && v !== null && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v).slice(0, 40)}`)
    .join(' ');
}

async function main() {
  const filters = process.argv.slice(2);
  const scenarios = await loadScenarios(filters);
  if (scenarios.length === 0) throw new Error(`no scenario matches ${filters.join(', ') || '(none found)'}`);
  mkdirSync(OUT, { recursive: true });
  const summary = { scenarios: {}, synapse: null, passed: 0, failed: 0 };
  const t0 = Date.now();

  console.log(`e2e: starting Synapse for ${scenarios.length} scenario(s)`);
  const synapseDir = path.join(OUT, 'synapse');
  rmSync(synapseDir, { recursive: true, force: true });
  const synapse = await startSynapse({ dir: synapseDir });
  summary.synapse = { baseUrl: synapse.baseUrl, dir: path.relative(ROOT, synapse.dir), startupMs: synapse.startupMs };
  console.log(`e2e: Synapse ${synapse.baseUrl} healthy after ${synapse.startupMs} ms (${path.relative(ROOT, synapse.dir)})`);

  let browserPromise = null;
  const browser = () => {
    browserPromise ??= import('playwright-core').then(({ chromium }) =>
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }));
    return browserPromise;
  };
  const artifacts = {};
  let anyFailed = false;
  try {
    for (const s of scenarios) {
      const outDir = path.join(OUT, s.name);
      rmSync(outDir, { recursive: true, force: true });
      mkdirSync(outDir, { recursive: true });
      const log = (...a) => console.log(`  [${s.name}]`, ...a);
      console.log(`\n==> ${s.name}`);
      const started = Date.now();
      let result;
      try {
        const figures = (await s.run({ synapse, log, root: ROOT, outDir, artifacts, browser, exec: execWith(synapse.env()) })) ?? {};
        result = { passed: true, ms: Date.now() - started, ...figures };
      } catch (e) {
        anyFailed = true;
        result = { passed: false, ms: Date.now() - started, ...(e?.figures ?? {}), error: String(e?.stack ?? e) };
        console.log(`  [${s.name}] FAILED: ${e?.stack ?? e}`);
      }
      result.passed = result.error === undefined; // figures cannot claim a pass
      summary.scenarios[s.name] = result;
      summary[result.passed ? 'passed' : 'failed'] += 1;
    }
  } finally {
    for (const c of artifacts.cleanups ?? []) await Promise.resolve().then(c).catch(() => {});
    if (browserPromise) await browserPromise.then((b) => b.close()).catch(() => {});
    if (anyFailed) console.log(`\n--- Synapse log tail (${path.relative(ROOT, synapse.logPath)})\n${synapse.logTail(60)}`);
    await synapse.stop();
  }
  summary.ms = Date.now() - t0;
  writeFileSync(path.join(OUT, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');

  console.log('\n==> e2e summary');
  console.log(table([['result', 'scenario', 'ms', 'figures'],
    ...Object.entries(summary.scenarios).map(([n, r]) => [r.passed ? 'PASS' : 'FAIL', n, r.ms, brief(r)])]));
  console.log(`${summary.passed} passed, ${summary.failed} failed (${(summary.ms / 1000).toFixed(1)} s, target/e2e/summary.json)`);
  return summary.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`e2e: ${e?.stack ?? e}`);
    process.exit(1);
  },
);
