// Builds for stage `forks`: the pristine tree (cached with its node_modules, its build only
// when compared), the integrated tree (our package from `npm pack pkg/`, the integrator run in
// the tree), the tree's type check, eslint and prettier on what the integrator touched, `vite build`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync, constants as zc } from 'node:zlib';
import { ROOT, TREES, baseTree, pnpmFor, sh, unpack } from './tree.mjs';


const node = process.execPath;
const bin = (tree, name) => path.join(tree, 'node_modules', name);

/** The tree's type errors in `files` only (tests/forks/typecheck.mjs), as position-free keys. */
export function tscFileErrors(tree, files) {
  const r = sh(node, [path.join(ROOT, 'tests', 'forks', 'typecheck.mjs'), tree, ...files.filter((f) => existsSync(path.join(tree, f)))], { cwd: tree, quiet: true, env: { NODE_OPTIONS: '--max-old-space-size=3072' } });
  return JSON.parse(r.stdout);
}

/** Keys in `after` beyond their count in `before` (a multiset difference). */
export function added(before, after) {
  const left = new Map();
  for (const k of before) left.set(k, (left.get(k) ?? 0) + 1);
  const out = [];
  for (const k of after) {
    const n = left.get(k) ?? 0;
    if (n > 0) left.set(k, n - 1);
    else out.push(k);
  }
  return out;
}

export function viteBuild(tree) {
  const t0 = Date.now();
  rmSync(path.join(tree, 'dist'), { recursive: true, force: true });
  sh(node, [bin(tree, 'vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: tree, env: { NODE_OPTIONS: '--max-old-space-size=3072' } });
  return Date.now() - t0;
}

/** Every shipped file of a build (source maps aside) with its gzip size. */
export function distSizes(dist) {
  const out = {};
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (!name.endsWith('.map')) {
        const buf = readFileSync(file);
        out[path.relative(dist, file)] = { raw: buf.length, gzip: gzipSync(buf, { level: zc.Z_BEST_COMPRESSION }).length };
      }
    }
  };
  walk(dist);
  return out;
}

/** The pristine tree (cached with its node_modules) and, with `build`, its dist (cached too). */
export function baseline(spec = TREES.upstream, { build = true } = {}) {
  const base = baseTree(spec);
  const cacheDir = path.dirname(base.dir);
  const distDone = path.join(cacheDir, 'dist.json');
  if (!build) return { ...base, dist: null, buildMs: null };
  let buildMs = null;
  if (!existsSync(distDone) || !existsSync(path.join(base.dir, 'dist', 'index.html'))) {
    buildMs = viteBuild(base.dir);
    writeFileSync(distDone, JSON.stringify({ buildMs }));
  } else {
    buildMs = JSON.parse(readFileSync(distDone, 'utf8')).buildMs;
    console.log(`info: pristine ${spec.id} build from cache (${path.relative(ROOT, base.dir)}/dist)`);
  }
  return { ...base, dist: path.join(base.dir, 'dist'), buildMs };
}

/** Files a unified diff adds and the ones it modifies (paths inside the tree). */
export function diffFiles(text) {
  const addedFiles = [];
  const modified = [];
  const blocks = text.split(/^diff .*$/m);
  for (const b of blocks) {
    const m = /^\+\+\+ b\/(\S+)/m.exec(b);
    if (!m) continue;
    if (/^--- \/dev\/null/m.test(b) || /^@@ -0,0 /m.test(b)) addedFiles.push(m[1]);
    else modified.push(m[1]);
  }
  return { added: addedFiles, modified };
}

/** The integrator as the package ships it (pkg/bin), else its source. */
export function integratorPath() {
  const shipped = path.join(ROOT, 'pkg', 'bin', 'crypto-health-cinny.mjs');
  return existsSync(shipped) ? shipped : path.join(ROOT, 'kit', 'cinny', 'crypto-health-cinny.mjs');
}

/**
 * A folder with a `pnpm` that is the tree's pinned pnpm with its Node engine check off: the tree
 * asks for Node 24 (engine-strict in pnpm-workspace.yaml), Node 20 runs it here. Only the
 * harness needs this; the integrator runs the tree's package manager as it finds it.
 */
function pnpmWrapper(tree) {
  const dir = path.join(ROOT, 'target', 'cinny-cache', 'pnpm-wrapper');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'pnpm'), `#!/bin/sh\nexec '${pnpmFor(tree)}' "$@" --config.engine-strict=false\n`, { mode: 0o755 });
  return dir;
}

/**
 * The integrated tree in `dir`: fresh unpack, the cached node_modules hard-linked in, our
 * package's tarball vendored, then the integrator run in the tree as a fork maintainer would
 * (`crypto-health-cinny --package ./vendor/<tgz>`): it adds the package with the tree's package
 * manager, edits the tree and formats what it touched. Returns { dir, diff, log, ms }.
 */
export function integratedTree(dir, base, tarball) {
  const spec = base.spec;
  unpack(dir, spec);
  sh('cp', ['-al', path.join(base.dir, 'node_modules'), path.join(dir, 'node_modules')], { quiet: true });
  // The package manager records the lock it installed from; start from the same one.
  for (const lock of ['package-lock.json', 'pnpm-lock.yaml']) if (existsSync(path.join(base.dir, lock))) copyFileSync(path.join(base.dir, lock), path.join(dir, lock));
  mkdirSync(path.join(dir, 'vendor'), { recursive: true });
  copyFileSync(tarball, path.join(dir, 'vendor', path.basename(tarball)));
  const pristine = unpack(`${dir}.pristine`, spec);
  const t0 = Date.now();
  const env = spec.pm === 'pnpm' ? { PATH: `${pnpmWrapper(dir)}:${process.env.PATH}`, CI: '1' } : {};
  const r = sh(process.execPath, [integratorPath(), '--package', `./vendor/${path.basename(tarball)}`], { cwd: dir, env });
  const ms = Date.now() - t0;
  // The source diff a maintainer reviews (the package manager's files aside), as a/ and b/.
  const cmp = `${dir}.cmp`;
  rmSync(cmp, { recursive: true, force: true });
  mkdirSync(cmp);
  symlinkSync(pristine, path.join(cmp, 'a'));
  symlinkSync(dir, path.join(cmp, 'b'));
  const d = sh('diff', ['-ruN', '-x', 'node_modules', '-x', 'vendor', '-x', 'package.json', '-x', 'package-lock.json', '-x', 'pnpm-lock.yaml', '-x', 'dist', 'a', 'b'], { cwd: cmp, allowFail: true, quiet: true }).stdout;
  rmSync(cmp, { recursive: true, force: true });
  rmSync(pristine, { recursive: true, force: true });
  // No dates in the kept example: the header names the file only.
  const diff = d.replace(/^(---|\+\+\+) ([ab]\/\S+)\t.*$/gm, '$1 $2');
  return { dir, diff, log: r.stdout, ms };
}

/** Cinny's eslint (its .eslintrc.cjs) on files; returns { errors, warnings, messages }. */
export function eslint(tree, files, extra = []) {
  if (files.length === 0) return { errors: 0, warnings: 0, messages: [] };
  const r = sh(node, [bin(tree, 'eslint/bin/eslint.js'), '--format', 'json', ...extra, ...files], { cwd: tree, allowFail: true, quiet: true });
  let results = [];
  try {
    results = JSON.parse(r.stdout);
  } catch {
    return { errors: 1, warnings: 0, messages: [`eslint did not answer: ${r.stderr.slice(0, 2000)}`] };
  }
  const messages = [];
  let errors = 0;
  let warnings = 0;
  for (const f of results) {
    errors += f.errorCount;
    warnings += f.warningCount;
    for (const m of f.messages) if (m.severity === 2) messages.push(`${path.relative(tree, f.filePath)}:${m.line} ${m.ruleId} ${m.message}`);
  }
  return { errors, warnings, messages };
}

/** Cinny's prettier (its .prettierrc.json) --check; returns the files it would change. */
export function prettierCheck(tree, files, extra = []) {
  if (files.length === 0) return [];
  const r = sh(node, [bin(tree, 'prettier/bin-prettier.js'), ...extra, '--list-different', ...files], { cwd: tree, allowFail: true, quiet: true });
  return r.stdout.split('\n').filter(Boolean).concat(r.status === 2 ? [`prettier failed: ${r.stderr.slice(0, 500)}`] : []);
}

export { spawnSync };
