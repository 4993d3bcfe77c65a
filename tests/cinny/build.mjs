// Builds for the `cinny` stage: the upstream tree (baseline, cached with its node_modules)
// and the patched tree (our package from `npm pack pkg/`, integrations/cinny's patch), Cinny's
// own `tsc --noEmit`, eslint and prettier on what the patch touches, and `vite build` of both.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync, constants as zc } from 'node:zlib';
import { CINNY_VERSION, ROOT, baseTree, sh, unpack } from './tree.mjs';

export const PATCH = path.join(ROOT, 'integrations', 'cinny', `cinny-v${CINNY_VERSION}.patch`);

const node = process.execPath;
const bin = (tree, name) => path.join(tree, 'node_modules', name);

/** `tsc --noEmit` errors as position-free keys (file: code message), so shifted lines still match. */
export function tscErrors(tree) {
  const r = sh(node, [bin(tree, 'typescript/bin/tsc'), '--noEmit'], { cwd: tree, allowFail: true });
  const keys = [];
  for (const line of `${r.stdout}${r.stderr}`.split('\n')) {
    const m = /^(.+?)\(\d+,\d+\): error (TS\d+): (.*)$/.exec(line);
    if (m) keys.push(`${m[1]}: ${m[2]} ${m[3]}`);
  }
  return keys;
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

/** The upstream baseline: tree, tsc errors and dist, cached beside node_modules. */
export function baseline() {
  const base = baseTree();
  const cacheDir = path.dirname(base.dir);
  const tscFile = path.join(cacheDir, 'tsc-errors.json');
  const distDone = path.join(cacheDir, 'dist.json');
  let tsc;
  if (existsSync(tscFile)) tsc = JSON.parse(readFileSync(tscFile, 'utf8'));
  else {
    tsc = tscErrors(base.dir);
    writeFileSync(tscFile, JSON.stringify(tsc));
  }
  let buildMs = null;
  if (!existsSync(distDone) || !existsSync(path.join(base.dir, 'dist', 'index.html'))) {
    buildMs = viteBuild(base.dir);
    writeFileSync(distDone, JSON.stringify({ buildMs }));
  } else {
    buildMs = JSON.parse(readFileSync(distDone, 'utf8')).buildMs;
    console.log(`info: upstream Cinny build from cache (${path.relative(ROOT, base.dir)}/dist)`);
  }
  return { ...base, tsc, dist: path.join(base.dir, 'dist'), buildMs };
}

/** Files the patch adds and the ones it modifies (paths inside the tree). */
export function patchFiles(text = readFileSync(PATCH, 'utf8')) {
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

/**
 * The patched tree in `dir`: fresh unpack, the cached node_modules hard-linked in, our
 * package installed as a file: dependency from its tarball, the patch applied.
 */
export function patchedTree(dir, base, tarball) {
  unpack(dir);
  sh('cp', ['-al', path.join(base.dir, 'node_modules'), path.join(dir, 'node_modules')], { quiet: true });
  // npm records the substituted lock it installed from; start from the same one.
  copyFileSync(path.join(base.dir, 'package-lock.json'), path.join(dir, 'package-lock.json'));
  mkdirSync(path.join(dir, 'vendor'), { recursive: true });
  const vendored = path.join(dir, 'vendor', path.basename(tarball));
  copyFileSync(tarball, vendored);
  sh('npm', ['install', '--save-exact', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', `./vendor/${path.basename(tarball)}`], { cwd: dir });
  // Outside any repository (the tree sits under this one's target/): git apply as a plain patch tool.
  sh('git', ['apply', '--verbose', PATCH], { cwd: dir, env: { GIT_CEILING_DIRECTORIES: path.dirname(dir) } });
  return dir;
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
