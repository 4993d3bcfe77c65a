// Upstream Cinny trees for the `cinny` stage: the pristine release tarball unpacked, the two
// registry substitutions applied (pins this registry does not serve), node_modules installed
// once and cached under target/cinny-cache/<key>/ (key: tarball + substitutions + Node major),
// so a second run only hard-links the cached node_modules into a fresh tree.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CINNY_VERSION = '4.12.6';

// Cinny v4.12.6 pins versions the npm registry reachable here lacks; the nearest published
// releases stand in (folds 2.6.2 has every component Cinny's Developer Tools page uses).
export const SUBSTITUTIONS = [
  { name: 'folds', from: '2.7.1', to: '2.6.2', section: 'dependencies' },
  { name: '@element-hq/element-call-embedded', from: '0.20.1', to: '0.20.0', section: 'devDependencies' },
];

/** The pristine tarball: CINNY_TARBALL, else ../shared/cinny/ beside the repository. */
export function tarballPath() {
  const file = process.env.CINNY_TARBALL ?? path.resolve(ROOT, '..', 'shared', 'cinny', `cinny-v${CINNY_VERSION}.tar.gz`);
  if (!existsSync(file)) throw new Error(`Cinny tarball not found at ${file} (set CINNY_TARBALL)`);
  return file;
}

export function sh(cmd, args, { cwd, quiet = false, env, allowFail = false, timeoutMs = 20 * 60_000 } = {}) {
  if (!quiet) console.log(`info: $ ${[cmd, ...args].join(' ')}${cwd ? `   (in ${path.relative(ROOT, cwd) || '.'})` : ''}`);
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0 && !allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${(r.stdout || '').slice(-4000)}\n${(r.stderr || '').slice(-4000)}`);
  }
  return r;
}

/** Unpack the tarball into `dir` (replaced), with the substitutions applied to package.json and the lock. */
export function unpack(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  sh('tar', ['xzf', tarballPath(), '-C', dir, '--strip-components=1'], { quiet: true });
  const pkgFile = path.join(dir, 'package.json');
  const lockFile = path.join(dir, 'package-lock.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  const lock = JSON.parse(readFileSync(lockFile, 'utf8'));
  for (const s of SUBSTITUTIONS) {
    if (pkg[s.section]?.[s.name] !== s.from) throw new Error(`${s.name} is not pinned to ${s.from} in Cinny's package.json`);
    pkg[s.section][s.name] = s.to;
    lock.packages[''][s.section][s.name] = s.to;
    // npm resolves the dropped entry again (version, resolved URL, integrity) from the registry.
    delete lock.packages[`node_modules/${s.name}`];
  }
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(lockFile, `${JSON.stringify(lock, null, 2)}\n`);
  return dir;
}

export function cacheKey() {
  const h = createHash('sha256');
  h.update(readFileSync(tarballPath()));
  h.update(JSON.stringify(SUBSTITUTIONS));
  h.update(process.versions.node.split('.')[0]);
  return h.digest('hex').slice(0, 16);
}

/**
 * The cached base tree (substituted, node_modules installed). Installs it when absent;
 * returns { dir, key, cached }.
 */
export function baseTree() {
  const key = cacheKey();
  const cacheDir = path.join(ROOT, 'target', 'cinny-cache', key);
  const dir = path.join(cacheDir, 'tree');
  const done = path.join(cacheDir, 'installed.json');
  for (const s of SUBSTITUTIONS) console.log(`info: registry substitution: ${s.name} ${s.from} -> ${s.to} (${s.from} is not in the registry reachable here)`);
  if (existsSync(done) && existsSync(path.join(dir, 'node_modules', 'vite'))) {
    console.log(`info: Cinny ${CINNY_VERSION} node_modules from cache ${path.relative(ROOT, cacheDir)}`);
    return { dir, key, cached: true };
  }
  rmSync(cacheDir, { recursive: true, force: true });
  const tmp = unpack(`${dir}.tmp`);
  const t0 = Date.now();
  sh('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: tmp });
  renameSync(tmp, dir);
  writeFileSync(done, `${JSON.stringify({ key, installedMs: Date.now() - t0, substitutions: SUBSTITUTIONS }, null, 2)}\n`);
  console.log(`info: Cinny ${CINNY_VERSION} npm install: ${((Date.now() - t0) / 1000).toFixed(0)} s (cached as ${path.relative(ROOT, cacheDir)})`);
  return { dir, key, cached: false };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(baseTree()));
