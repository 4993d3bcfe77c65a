#!/usr/bin/env node
// Release build of the crypto-health npm package into pkg/.
//
//   npm run build            (= node scripts/build.mjs)
//
// 1. wasm-pack build (release, --target web) WITHOUT wasm-pack's own wasm-opt;
// 2. wasm-opt from the npm package `binaryen` (node_modules/.bin) — never Debian's
//    binaryen, whose wasm-opt 108 silently breaks release builds (it drops the
//    externref table export: tests pass, the package fails at runtime);
// 3. copy the hand-written loader (index.js / index.d.ts) into pkg/;
// 3b. bundle loader + wasm-bindgen glue + our JS snippets into one minified
//     pkg/index.js with esbuild; the glue's doc comments live on in crypto_health.d.ts;
// 3c. compile the React kit (kit/react, folds components) into pkg/react/ with
//     esbuild + tsc declarations: the `crypto-health/react` subpath export, with
//     react and folds as peer dependencies; the main entry never loads it;
// 3d. copy the Cinny integrator (kit/cinny) to pkg/bin/: `npx crypto-health-cinny`;
// 4. rewrite pkg/package.json (name, main/module/types -> loader, exports, bin, files);
// 5. print raw + gzipped sizes, write target/size.json, and fail if what an
//    import loads (wasm + pkg/index.js) gzipped exceeds the 152 KiB budget;
//    with --warn-size (used by `npm start`) an over-budget build only warns;
//    with --kit-only only steps 3c and 3d run, into an existing pkg/.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zc } from 'node:zlib';

const WARN_ONLY = process.argv.includes('--warn-size');
// --panic-test: a test build into target/pkg-panic with the crate's `panic-test`
// feature (an export that panics on demand); no kit, no size gate.
const PANIC_TEST = process.argv.includes('--panic-test');
// --kit-only: recompile just the React kit into an existing pkg/ (kit development).
const KIT_ONLY = process.argv.includes('--kit-only');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rel = (p) => path.relative(ROOT, p) || '.';

const CRATE_DIR = path.join(ROOT, 'crates', 'wasm');
const PKG_DIR = PANIC_TEST ? path.join(ROOT, 'target', 'pkg-panic') : path.join(ROOT, 'pkg');
const OUT_NAME = 'crypto_health';
const PKG_NAME = 'crypto-health';
const WASM = path.join(PKG_DIR, `${OUT_NAME}_bg.wasm`);
const GLUE = path.join(PKG_DIR, `${OUT_NAME}.js`);
const SIZE_JSON = path.join(ROOT, 'target', 'size.json');
// What an import loads (wasm + pkg/index.js), gzipped: the build fails above
// this budget, so growth cannot go unnoticed (README "Size" has the history).
const BUDGET_GZIP_BYTES = 152 * 1024;
// The page that loads us also loads @matrix-org/matrix-sdk-crypto-wasm 18.9's
// matrix_sdk_crypto_wasm_bg.wasm: 2,095,562 B gzip -9. Our share of that is printed.
const CRYPTO_WASM_GZIP_BYTES = 2_095_562;
// The package entry, written by hand (shared init, startCryptoHealth).
const LOADER_DIR = path.join(CRATE_DIR, 'js', 'loader');
const LOADER_FILES = ['index.js', 'index.d.ts'];

// rustc's wasm32-unknown-unknown target enables these by default (rustc 1.95:
// bulk-memory, multivalue, mutable-globals, nontrapping-fptoint, reference-types,
// sign-ext; LLVM adds bulk-memory-opt and call-indirect-overlong). wasm-opt must
// accept all of them or validation fails.
const WASM_OPT_FLAGS = [
  // Flatten and re-run the relooper over rustc's control flow first: ~0.6 KB
  // less gzipped than -Oz alone.
  '--flatten',
  '--rereloop',
  '-Oz',
  // Whole-module flow analysis, then -Oz again over what it simplified: ~1.4 KB
  // less gzipped (constants through calls, unreachable paths dropped).
  '--gufa',
  '-Oz',
  // Repeat the last passes while they still shrink the module: ~0.4 KB.
  '--converge',
  // Nothing lives in the low 1 KiB of linear memory (rustc lays the stack out first, from 1 MiB
  // down, and the data and heap above it), so constant offsets fold into loads and stores: ~0.6 KB.
  '--low-memory-unused',
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
// With rustup's rust-src component installed (rust-analyzer wants it), rustc
// names std's sources by their path in the toolchain, under the home directory.
const CARGO_HOME = process.env.CARGO_HOME || path.join(os.homedir(), '.cargo');
const SYSROOT = spawnSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).stdout?.trim() || null;
function remapFlags() {
  const flags = [
    `--remap-path-prefix=${path.join(CARGO_HOME, 'registry', 'src')}=/crates`,
    `--remap-path-prefix=${ROOT}=/crypto-health`,
    ...(SYSROOT ? [`--remap-path-prefix=${path.join(SYSROOT, 'lib', 'rustlib', 'src', 'rust')}=/rust`] : []),
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
    ...(PANIC_TEST ? ['--', '--features', 'panic-test'] : []),
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
  checkNoMachinePaths(WASM);
}

// ------------------------------------------------------- 2b. short import names
// wasm-bindgen names each import of its glue module `__wbg_<name>_<16 hex>`: the
// hash is random, so gzip cannot shrink it, and it is stored twice (the wasm's
// import section and the glue's import object). Those imports are renamed here
// to short names in both files (the snippets' imports keep their names: the
// glue hands wasm their module objects as they are).
function shortImportNames() {
  const bytes = readFileSync(WASM);
  const leb = (at) => {
    let v = 0, shift = 0, b;
    do { b = bytes[at++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return [v, at];
  };
  const putLeb = (v) => {
    const out = [];
    do { let b = v & 0x7f; v = Math.floor(v / 128); if (v) b |= 0x80; out.push(b); } while (v);
    return Buffer.from(out);
  };
  const str = (s) => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([putLeb(b.length), b]); };
  let glue = readFileSync(GLUE, 'utf8');
  const GLUE_MODULE = `./${OUT_NAME}_bg.js`;
  // a, b, ..., Z, aa, ab, ...: property names that no object literal of the glue module uses otherwise.
  const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const shortName = (i) => (i < ALPHA.length ? ALPHA[i] : shortName(Math.floor(i / ALPHA.length) - 1) + ALPHA[i % ALPHA.length]);
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, body] = leb(at + 1);
    if (id !== 2) { at = body + size; continue; }
    let [count, p] = leb(body);
    const parts = [putLeb(count)];
    let renamed = 0;
    for (; count > 0; count--) {
      const [mlen, m0] = leb(p);
      const module = bytes.subarray(m0, m0 + mlen).toString('utf8');
      const [flen, f0] = leb(m0 + mlen);
      const field = bytes.subarray(f0, f0 + flen).toString('utf8');
      const descStart = f0 + flen;
      // The import's kind and type: copied as they are.
      let q = descStart + 1;
      const kind = bytes[descStart];
      if (kind === 0) q = leb(q)[1];
      else if (kind === 1) { q += 1; const [flags, r] = leb(q); q = leb(r)[1]; if (flags & 1) q = leb(q)[1]; }
      else if (kind === 2) { const [flags, r] = leb(q); q = leb(r)[1]; if (flags & 1) q = leb(q)[1]; }
      else if (kind === 3) q += 2;
      else fail(`unknown import kind ${kind} in ${rel(WASM)}`);
      let name = field;
      if (module === GLUE_MODULE) {
        const key = new RegExp(`(?<![\\w$])${field.replace(/[$]/g, '\\$')}(?=:)`, 'g');
        const uses = glue.match(key)?.length ?? 0;
        if (uses !== 1) fail(`glue import ${field}: ${uses} definitions in ${rel(GLUE)}, expected 1`);
        name = shortName(renamed++);
        glue = glue.replace(key, name);
      }
      parts.push(str(module), str(name), bytes.subarray(descStart, q));
      p = q;
    }
    if (p !== body + size) fail(`could not read the import section of ${rel(WASM)}`);
    const section = Buffer.concat(parts);
    writeFileSync(WASM, Buffer.concat([bytes.subarray(0, at), Buffer.from([2]), putLeb(section.length), section, bytes.subarray(body + size)]));
    writeFileSync(GLUE, glue);
    log(`${renamed} glue imports renamed to short names`);
    return;
  }
  fail(`no import section in ${rel(WASM)}`);
}

// The shipped wasm must not name the build machine's directories (panic
// locations carry source paths): a remap that stops matching fails the build.
function checkNoMachinePaths(file) {
  const bytes = readFileSync(file);
  const dirs = [os.homedir(), ROOT, CARGO_HOME, SYSROOT].filter((d) => d && d.length > 1);
  const named = dirs.filter((d) => bytes.includes(Buffer.from(d)));
  if (named.length) fail(`${rel(file)} names build-machine directories: ${named.join(', ')}`);
  log(`no build-machine directory named in ${rel(file)}`);
}

// --------------------------------------------------------------- 3. the loader
function copyLoader() {
  for (const f of LOADER_FILES) {
    const src = path.join(LOADER_DIR, f);
    if (!existsSync(src)) fail(`${rel(src)} missing`);
    copyFileSync(src, path.join(PKG_DIR, f));
    log(`copied ${rel(src)} -> ${rel(path.join(PKG_DIR, f))}`);
  }
  // The loader imports the console tap early: the same module the glue imports,
  // under wasm-bindgen's snippet path (one module instance, one tap).
  const tap = listJs(path.join(PKG_DIR, 'snippets')).find((f) => f.endsWith(path.join('js', 'tap.js')));
  if (!tap) fail('pkg/snippets/**/js/tap.js missing');
  const entry = path.join(PKG_DIR, 'index.js');
  const spec = './' + path.relative(PKG_DIR, tap).split(path.sep).join('/');
  const text = readFileSync(entry, 'utf8');
  if (!text.includes("'./snippets/tap.js'")) fail('the loader no longer imports ./snippets/tap.js');
  writeFileSync(entry, text.replace("'./snippets/tap.js'", `'${spec}'`));
}

// ------------------------------------------------------------- 3b. one JS file
// The loader, the wasm-bindgen glue and our snippets (console tap, fetch tap,
// environment) become one minified ES module, pkg/index.js, with no imports:
// every page view loads all of it, and one gzip stream shares its dictionary
// (as separate files they cost ~18 KB gzipped, bundled ~7 KB). The glue and
// the snippets are then removed from pkg/ so that nothing can load a second
// copy of the module state; crypto_health.d.ts stays for the types.
function bundleJs() {
  const bin = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'esbuild.cmd' : 'esbuild');
  if (!existsSync(bin)) fail(`${rel(bin)} missing: run \`npm ci\` (or scripts/setup.sh) first`);
  const entry = path.join(PKG_DIR, 'index.js');
  const snippets = path.join(PKG_DIR, 'snippets');
  const before = [entry, GLUE, ...listJs(snippets)].reduce((n, f) => n + statSync(f).size, 0);
  const tmp = path.join(PKG_DIR, 'index.bundle.tmp');
  const meta = path.join(PKG_DIR, 'meta.tmp');
  run(rel(bin), [
    rel(entry),
    '--bundle',
    '--minify',
    '--format=esm',
    '--legal-comments=none',
    '--log-level=warning',
    // wasm-bindgen lists a snippet module once per extern block: same key, same value.
    '--log-override:duplicate-object-key=silent',
    `--metafile=${rel(meta)}`,
    `--outfile=${rel(tmp)}`,
  ]);
  const out = Object.values(JSON.parse(readFileSync(meta, 'utf8')).outputs)[0];
  const imports = out.imports.map((i) => `${i.kind} ${i.path}`);
  if (imports.length) fail(`unexpected imports in the bundle: ${imports.join(', ')}`);
  renameSync(tmp, entry);
  rmSync(meta, { force: true });
  rmSync(GLUE, { force: true });
  rmSync(snippets, { recursive: true, force: true });
  const after = jsFiles().reduce((n, f) => n + statSync(f).size, 0);
  log(`JS bundled and minified: ${before} B -> ${after} B (${jsFiles().map(rel).join(', ')})`);
}

function listJs(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => f.endsWith('.js') && statSync(f).isFile());
}

/** The package's JS files: index.js first, then the ones it loads on demand. */
function jsFiles() {
  const all = listJs(PKG_DIR).filter((f) => path.dirname(f) === PKG_DIR);
  const entry = path.join(PKG_DIR, 'index.js');
  return [entry, ...all.filter((f) => f !== entry).sort()];
}

// --------------------------------------------------------- 3c. the React kit
// The kit imports the package as 'crypto-health'; inside the package that is the
// entry beside it ('../index.js'), so an app gets one module instance either way.
const KIT_DIR = path.join(ROOT, 'kit', 'react');
const KIT_OUT = path.join(PKG_DIR, 'react');
const KIT_PEERS = { react: '>=17.0.0', folds: '>=2.6.0 <3' };

async function buildKit() {
  const esbuild = await import('esbuild');
  mkdirSync(KIT_OUT, { recursive: true });
  const self = {
    name: 'crypto-health-self',
    setup(b) {
      b.onResolve({ filter: /^crypto-health$/ }, () => ({ path: '../index.js', external: true }));
    },
  };
  await esbuild.build({
    entryPoints: [path.join(KIT_DIR, 'index.ts')],
    outfile: path.join(KIT_OUT, 'index.js'),
    bundle: true,
    format: 'esm',
    target: 'es2020',
    jsx: 'transform', // React.createElement, as the kit's sources import React
    external: ['react', 'react-dom', 'folds'],
    plugins: [self],
    legalComments: 'none',
    logLevel: 'warning',
  });
  // Declarations with Cinny's compiler options; 'crypto-health' resolves to pkg/index.d.ts.
  const tmp = path.join(ROOT, 'target', 'kit-dts');
  mkdirSync(tmp, { recursive: true });
  const tsconfig = path.join(tmp, 'tsconfig.json');
  writeFileSync(tsconfig, `${JSON.stringify({
    compilerOptions: {
      jsx: 'react', target: 'ES2016', module: 'ES2020', moduleResolution: 'Node', strict: true,
      esModuleInterop: true, skipLibCheck: true, lib: ['ES2016', 'DOM'],
      declaration: true, emitDeclarationOnly: true, outDir: KIT_OUT, rootDir: KIT_DIR,
      baseUrl: ROOT, paths: { 'crypto-health': [path.join(PKG_DIR, 'index.d.ts')] },
    },
    files: [path.join(KIT_DIR, 'index.ts')],
  }, null, 2)}\n`);
  const tsc = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');
  if (!existsSync(tsc)) fail(`${rel(tsc)} missing: run \`npm ci\` (or scripts/setup.sh) first`);
  run(rel(tsc), ['-p', rel(tsconfig)]);
  for (const f of readdirSync(KIT_OUT).filter((n) => n.endsWith('.d.ts'))) {
    const file = path.join(KIT_OUT, f);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/from 'crypto-health'/g, "from '../index.js'"));
  }
  log(`kit compiled: ${rel(path.join(KIT_OUT, 'index.js'))} + ${readdirSync(KIT_OUT).filter((n) => n.endsWith('.d.ts')).length} declaration files`);
}

// ------------------------------------------- 3d. the Cinny integrator (a bin)
// `npx crypto-health-cinny` in a Cinny-family tree: plain ESM run by Node, it parses the tree
// with the tree's own TypeScript (no dependency of the package). Not loaded by any import.
const INTEGRATOR = path.join(ROOT, 'kit', 'cinny', 'crypto-health-cinny.mjs');
function copyIntegrator() {
  mkdirSync(path.join(PKG_DIR, 'bin'), { recursive: true });
  const out = path.join(PKG_DIR, 'bin', 'crypto-health-cinny.mjs');
  copyFileSync(INTEGRATOR, out);
  chmodSync(out, 0o755);
  log(`integrator: ${rel(out)}`);
}

// ---------------------------------------------------------- 4. pkg/package.json
function rewritePackageJson() {
  const file = path.join(PKG_DIR, 'package.json');
  if (!existsSync(file)) fail(`${rel(file)} missing after wasm-pack build`);
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  pkg.name = PKG_NAME;
  pkg.type = 'module';
  pkg.main = 'index.js';
  pkg.module = 'index.js';
  pkg.types = 'index.d.ts';
  delete pkg.sideEffects; // wasm-bindgen lists the removed snippets there; the entry has side effects anyway
  // `crypto-health/react` is the kit; older resolvers (TypeScript's "node") find
  // react/index.js and react/index.d.ts by path, so both layouts agree.
  pkg.exports = {
    '.': { types: './index.d.ts', default: './index.js' },
    './react': { types: './react/index.d.ts', default: './react/index.js' },
    './package.json': './package.json',
  };
  // Only the kit needs them; the main entry has no dependencies at all.
  pkg.peerDependencies = KIT_PEERS;
  pkg.peerDependenciesMeta = Object.fromEntries(Object.keys(KIT_PEERS).map((k) => [k, { optional: true }]));
  pkg.bin = { 'crypto-health-cinny': 'bin/crypto-health-cinny.mjs' };
  pkg.files = [`${OUT_NAME}_bg.wasm`, `${OUT_NAME}.d.ts`, 'index.d.ts', ...jsFiles().map((f) => path.basename(f)), 'react/', 'bin/'];
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
  log(`rewrote ${rel(file)}: name=${pkg.name} main=${pkg.main} files=${pkg.files.join(',')}`);
}

// ------------------------------------------------------------------- 5. sizes
function sizeOf(file) {
  const buf = readFileSync(file);
  return { file: rel(file), raw: buf.length, gzip: gzipSync(buf, { level: zc.Z_BEST_COMPRESSION }).length };
}

// The budget counts what an import of the package loads: the wasm and
// pkg/index.js. Chunks that load only when a feature is first used are
// listed apart (`lazy`) with their own sizes.
function reportSizes() {
  const wasm = sizeOf(WASM);
  const [entry, ...chunks] = jsFiles();
  const js = sizeOf(entry);
  const lazy = chunks.map(sizeOf);
  // The kit (crypto-health/react) is what an app bundles only where it imports it.
  const kit = existsSync(path.join(KIT_OUT, 'index.js')) ? sizeOf(path.join(KIT_OUT, 'index.js')) : null;
  const totalGzip = wasm.gzip + js.gzip;
  const ok = totalGzip <= BUDGET_GZIP_BYTES;
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const row = (label, s) => `  ${label.padEnd(8)} ${String(s.raw).padStart(8)} B raw  ${String(s.gzip).padStart(7)} B gzip  (${kib(s.gzip)})  ${s.file}`;
  console.log('[build] sizes:');
  console.log(row('wasm', wasm));
  console.log(row('js', js));
  for (const c of lazy) console.log(row('lazy', c));
  if (kit) console.log(row('kit', kit));
  console.log(
    `  loaded at import (wasm + js) gzipped: ${totalGzip} B (${kib(totalGzip)}) / budget ${BUDGET_GZIP_BYTES} B (${kib(BUDGET_GZIP_BYTES)}): ${ok ? 'OK' : 'OVER BUDGET'}`,
  );
  const share = (100 * totalGzip) / CRYPTO_WASM_GZIP_BYTES;
  console.log(`  share of matrix-sdk-crypto-wasm 18.9's wasm (${CRYPTO_WASM_GZIP_BYTES} B gzip) on the same page: ${share.toFixed(2)} %`);
  mkdirSync(path.dirname(SIZE_JSON), { recursive: true });
  const report = {
    wasm,
    js,
    lazy,
    kit,
    total_gzip: totalGzip,
    total_raw: wasm.raw + js.raw,
    budget_gzip: BUDGET_GZIP_BYTES,
    crypto_wasm_gzip: CRYPTO_WASM_GZIP_BYTES,
    share_of_crypto_wasm_pct: Number(share.toFixed(2)),
    ok,
  };
  writeFileSync(SIZE_JSON, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${rel(SIZE_JSON)}`);
  if (!ok) {
    const msg = `wasm + js gzipped is ${totalGzip} B, over the ${BUDGET_GZIP_BYTES} B budget`;
    if (WARN_ONLY) console.warn(`[build] WARNING: ${msg} (--warn-size: not failing)`);
    else fail(msg);
  }
}

async function main() {
  if (!existsSync(path.join(CRATE_DIR, 'Cargo.toml'))) fail(`${rel(CRATE_DIR)}/Cargo.toml not found`);
  if (KIT_ONLY) {
    if (!existsSync(path.join(PKG_DIR, 'index.d.ts'))) fail('--kit-only needs a built pkg/');
    rmSync(KIT_OUT, { recursive: true, force: true });
    await buildKit();
    copyIntegrator();
    log('done (kit only)');
    return;
  }
  rmSync(PKG_DIR, { recursive: true, force: true }); // no files left from an earlier build
  wasmPackBuild();
  const rawWasm = statSync(WASM).size;
  wasmOpt();
  log(`wasm-opt: ${rawWasm} B -> ${statSync(WASM).size} B`);
  shortImportNames();
  copyLoader();
  bundleJs();
  if (PANIC_TEST) {
    log(`done (panic-test build in ${rel(PKG_DIR)})`);
    return;
  }
  await buildKit();
  copyIntegrator();
  rewritePackageJson();
  reportSizes();
  log('done');
}

await main();
