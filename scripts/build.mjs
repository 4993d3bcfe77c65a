#!/usr/bin/env node
// Release build of the crypto-health npm package into pkg/.
//
//   npm run build            (= node scripts/build.mjs)
//
// 1. wasm-pack build (release, --target web, no_std: `--no-default-features`)
//    WITHOUT wasm-pack's own wasm-opt;
// 2. wasm-opt from the npm package `binaryen` (node_modules/.bin) — never Debian's
//    binaryen, whose wasm-opt 108 silently breaks release builds (REFERENCE §8);
// 2b. minify the JS glue with esbuild (whitespace, JSDoc, local names; the
//     exports and the import object's keys stay): the glue loads on every page
//     view too, and its doc comments live on in crypto_health.d.ts;
// 3. copy the hand-written loader (index.js / index.d.ts) into pkg/;
// 4. rewrite pkg/package.json (name, main/module/types -> loader, files);
// 5. print raw + gzipped sizes, write target/size.json, and fail if
//    wasm + JS glue gzipped exceed the budget (60 KiB); with --warn-size (used by
//    `npm start`) an over-budget build only warns.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zc } from 'node:zlib';

const WARN_ONLY = process.argv.includes('--warn-size');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rel = (p) => path.relative(ROOT, p) || '.';

const CRATE_DIR = path.join(ROOT, 'crates', 'wasm');
const PKG_DIR = path.join(ROOT, 'pkg');
const OUT_NAME = 'crypto_health';
const PKG_NAME = 'crypto-health';
const WASM = path.join(PKG_DIR, `${OUT_NAME}_bg.wasm`);
const GLUE = path.join(PKG_DIR, `${OUT_NAME}.js`);
const SIZE_JSON = path.join(ROOT, 'target', 'size.json');
const BUDGET_GZIP_BYTES = 60 * 1024; // wasm + JS glue, gzipped
// Loader files written by the crate owner; first directory that has index.js wins.
const LOADER_DIRS = [path.join(CRATE_DIR, 'js', 'loader'), path.join(CRATE_DIR, 'js')];
const LOADER_FILES = ['index.js', 'index.d.ts'];

// rustc's wasm32-unknown-unknown target enables these by default (rustc 1.95:
// bulk-memory, multivalue, mutable-globals, nontrapping-fptoint, reference-types,
// sign-ext; LLVM adds bulk-memory-opt and call-indirect-overlong). wasm-opt must
// accept all of them or validation fails.
const WASM_OPT_FLAGS = [
  '-Oz',
  '--enable-reference-types',
  '--enable-bulk-memory',
  '--enable-bulk-memory-opt',
  '--enable-nontrapping-float-to-int',
  '--enable-sign-ext',
  '--enable-mutable-globals',
  '--enable-multivalue',
  '--enable-call-indirect-overlong',
  // Custom sections the browser does not need.
  '--strip-debug',
  '--strip-producers',
  '--strip-target-features',
];

function log(msg) {
  console.log(`[build] ${msg}`);
}
function fail(msg) {
  console.error(`[build] ERROR: ${msg}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} exited with ${r.status ?? r.signal}`);
}

// Panic locations name source files: without this the shipped wasm carries the
// build machine's paths (home, cargo registry, checkout). Shorter paths are also fewer bytes.
function remapFlags() {
  const cargoHome = process.env.CARGO_HOME || path.join(os.homedir(), '.cargo');
  const flags = [
    `--remap-path-prefix=${path.join(cargoHome, 'registry', 'src')}=/crates`,
    `--remap-path-prefix=${ROOT}=/crypto-health`,
  ];
  return [process.env.RUSTFLAGS, ...flags].filter(Boolean).join(' ');
}

// ---------------------------------------------------------------- 1. wasm-pack
function wasmPackBuild() {
  // --no-opt: belt and braces next to `wasm-opt = false` in the crate's
  // [package.metadata.wasm-pack.profile.release]; otherwise wasm-pack would pick
  // up whatever wasm-opt is first on PATH (possibly Debian's) or try to download one.
  run('wasm-pack', [
    'build',
    rel(CRATE_DIR),
    '--release',
    '--no-opt',
    '--target',
    'web',
    '--out-dir',
    path.relative(CRATE_DIR, PKG_DIR),
    '--out-name',
    OUT_NAME,
    // Cargo arguments: without the crate's default `std` feature the bundle is
    // no_std and a panic traps, so no panic/format machinery is shipped.
    '--',
    '--no-default-features',
  ], { env: { ...process.env, RUSTFLAGS: remapFlags() } });
  for (const f of [WASM, GLUE]) if (!existsSync(f)) fail(`wasm-pack did not produce ${rel(f)}`);
}

// ----------------------------------------------------------------- 2. wasm-opt
function wasmOpt() {
  const bin = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'wasm-opt.cmd' : 'wasm-opt');
  if (!existsSync(bin)) fail(`${rel(bin)} missing: run \`npm ci\` (or scripts/setup.sh) first`);
  const v = spawnSync(bin, ['--version'], { cwd: ROOT, encoding: 'utf8' });
  const version = Number((/version[_ ](\d+)/.exec(`${v.stdout}`) ?? [])[1]);
  if (!(version >= 116)) fail(`unexpected wasm-opt version: ${String(v.stdout || v.stderr).trim()}`);
  log(`wasm-opt ${version} (npm binaryen)`);

  const tmp = `${WASM}.opt.tmp`;
  rmSync(tmp, { force: true });
  run(rel(bin), [rel(WASM), ...WASM_OPT_FLAGS, '-o', rel(tmp)]);
  renameSync(tmp, WASM);
}

// ------------------------------------------------------------- 2b. the glue
function minifyGlue() {
  const bin = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'esbuild.cmd' : 'esbuild');
  if (!existsSync(bin)) fail(`${rel(bin)} missing: run \`npm ci\` (or scripts/setup.sh) first`);
  const before = statSync(GLUE).size;
  const tmp = `${GLUE}.min.tmp`;
  run(rel(bin), [rel(GLUE), '--minify', '--format=esm', '--log-level=warning', `--outfile=${rel(tmp)}`]);
  // Keep the pointer to the generated types (TypeScript reads it from the .js).
  const types = (/^\/\* @ts-self-types=.*?\*\/\n/.exec(readFileSync(GLUE, 'utf8')) ?? [''])[0];
  writeFileSync(GLUE, types + readFileSync(tmp, 'utf8'));
  rmSync(tmp, { force: true });
  log(`glue minified: ${before} B -> ${statSync(GLUE).size} B`);
}

// --------------------------------------------------------------- 3. the loader
function copyLoader() {
  const dir = LOADER_DIRS.find((d) => existsSync(path.join(d, 'index.js')));
  if (!dir) {
    console.warn(
      `[build] WARNING: no loader found (looked for index.js in ${LOADER_DIRS.map(rel).join(', ')}); ` +
        `pkg/ exposes the raw wasm-bindgen glue ${OUT_NAME}.js as its entry point`,
    );
    return [];
  }
  const copied = [];
  for (const f of LOADER_FILES) {
    const src = path.join(dir, f);
    if (!existsSync(src)) {
      console.warn(`[build] WARNING: ${rel(src)} missing; not copied`);
      continue;
    }
    copyFileSync(src, path.join(PKG_DIR, f));
    copied.push(f);
    log(`copied ${rel(src)} -> ${rel(path.join(PKG_DIR, f))}`);
  }
  return copied;
}

// ---------------------------------------------------------- 4. pkg/package.json
function rewritePackageJson(loaderFiles) {
  const file = path.join(PKG_DIR, 'package.json');
  if (!existsSync(file)) fail(`${rel(file)} missing after wasm-pack build`);
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  pkg.name = PKG_NAME;
  pkg.type = 'module';
  const hasJs = loaderFiles.includes('index.js');
  const hasDts = loaderFiles.includes('index.d.ts');
  if (hasJs) {
    pkg.main = 'index.js';
    pkg.module = 'index.js';
  }
  if (hasDts) pkg.types = 'index.d.ts';
  const files = new Set(Array.isArray(pkg.files) ? pkg.files : []);
  for (const f of [`${OUT_NAME}_bg.wasm`, `${OUT_NAME}.js`, `${OUT_NAME}.d.ts`, ...loaderFiles]) {
    if (existsSync(path.join(PKG_DIR, f))) files.add(f);
  }
  pkg.files = [...files];
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
  log(`rewrote ${rel(file)}: name=${pkg.name} main=${pkg.main} types=${pkg.types}`);
}

// ------------------------------------------------------------------- 5. sizes
function sizeOf(file) {
  const buf = readFileSync(file);
  return { file: rel(file), raw: buf.length, gzip: gzipSync(buf, { level: zc.Z_BEST_COMPRESSION }).length };
}

function reportSizes(loaderFiles) {
  const wasm = sizeOf(WASM);
  const glue = sizeOf(GLUE);
  const loader = loaderFiles.includes('index.js') ? sizeOf(path.join(PKG_DIR, 'index.js')) : null;
  const totalGzip = wasm.gzip + glue.gzip;
  const ok = totalGzip <= BUDGET_GZIP_BYTES;
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const row = (label, s) => `  ${label.padEnd(8)} ${String(s.raw).padStart(8)} B raw  ${String(s.gzip).padStart(7)} B gzip  (${kib(s.gzip)})  ${s.file}`;
  console.log('[build] sizes:');
  console.log(row('wasm', wasm));
  console.log(row('glue', glue));
  if (loader) console.log(row('loader', loader));
  console.log(
    `  wasm+glue gzipped: ${totalGzip} B (${kib(totalGzip)}) / budget ${BUDGET_GZIP_BYTES} B (${kib(BUDGET_GZIP_BYTES)}): ${ok ? 'OK' : 'OVER BUDGET'}`,
  );
  mkdirSync(path.dirname(SIZE_JSON), { recursive: true });
  const report = {
    wasm,
    glue,
    loader,
    total_gzip: totalGzip,
    total_raw: wasm.raw + glue.raw,
    budget_gzip: BUDGET_GZIP_BYTES,
    ok,
  };
  writeFileSync(SIZE_JSON, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${rel(SIZE_JSON)}`);
  if (!ok) {
    const msg = `wasm + glue gzipped is ${totalGzip} B, over the ${BUDGET_GZIP_BYTES} B budget`;
    if (WARN_ONLY) console.warn(`[build] WARNING: ${msg} (--warn-size: not failing)`);
    else fail(msg);
  }
}

function main() {
  if (!existsSync(path.join(CRATE_DIR, 'Cargo.toml'))) fail(`${rel(CRATE_DIR)}/Cargo.toml not found`);
  wasmPackBuild();
  const rawWasm = statSync(WASM).size;
  wasmOpt();
  log(`wasm-opt: ${rawWasm} B -> ${statSync(WASM).size} B`);
  minifyGlue();
  const loaderFiles = copyLoader();
  rewritePackageJson(loaderFiles);
  reportSizes(loaderFiles);
  log('done');
}

main();
