// Cinny-family trees for the `forks` stage: the pristine tarball unpacked, registry
// substitutions applied (pins this registry does not serve), installed with the tree's own
// package manager once and cached under target/cinny-cache/<key>/ (key: tarball +
// substitutions + Node major), so a second run only hard-links the cached node_modules into a
// fresh tree.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CINNY_VERSION = '4.12.6';

// The three trees. Pins the npm registry reachable here lacks are replaced by the nearest
// published releases: folds 2.6.2 has every component the trees' pages and the kit use.
export const TREES = {
  upstream: {
    id: 'upstream',
    label: 'Cinny v4.12.6 (upstream)',
    tarball: `cinny-v${CINNY_VERSION}.tar.gz`,
    pm: 'npm',
    substitutions: [
      { name: 'folds', from: '2.7.1', to: '2.6.2', section: 'dependencies' },
      { name: '@element-hq/element-call-embedded', from: '0.20.1', to: '0.20.0', section: 'devDependencies' },
    ],
  },
  calls: {
    id: 'calls',
    label: 'Cinny fork with its own call work (Cinny 4.8.1 base, matrix-js-sdk 37.5)',
    tarball: 'cinny-fork-calls-6547505.tar.gz',
    pm: 'npm',
    substitutions: [{ name: 'folds', from: '2.2.0', to: '2.6.2', section: 'dependencies' }],
  },
  sable: {
    id: 'sable',
    label: 'Sable 1.18.3 (pnpm, Vite 7, matrix-js-sdk 38.4)',
    tarball: 'sable-4ba206b.tar.gz',
    pm: 'pnpm',
    substitutions: [{ name: '@sableclient/twemoji-font', from: '^1.0.4', to: '1.0.3', section: 'dependencies' }],
  },
};
// The upstream tree's substitutions (the names the upstream stage has always used).
export const SUBSTITUTIONS = TREES.upstream.substitutions;

/** The pristine tarball: CINNY_TARBALL (upstream only), else ../shared/cinny/ beside the repository. */
export function tarballPath(spec = TREES.upstream) {
  const file = (spec.id === 'upstream' && process.env.CINNY_TARBALL) || path.resolve(ROOT, '..', 'shared', 'cinny', spec.tarball);
  if (!existsSync(file)) throw new Error(`tarball not found at ${file}${spec.id === 'upstream' ? ' (set CINNY_TARBALL)' : ''}`);
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
export function unpack(dir, spec = TREES.upstream) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  sh('tar', ['xzf', tarballPath(spec), '-C', dir, '--strip-components=1'], { quiet: true });
  if (spec.substitutions.length === 0) return dir;
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  if (spec.pm === 'pnpm') {
    // pnpm re-resolves what package.json changed in its lock (installCommand: not frozen).
    for (const s of spec.substitutions) {
      if (pkg[s.section]?.[s.name] !== s.from) throw new Error(`${s.name} is not ${s.from} in ${spec.id}'s package.json`);
      pkg[s.section][s.name] = s.to;
    }
    writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
    return dir;
  }
  const lockFile = path.join(dir, 'package-lock.json');
  const lock = JSON.parse(readFileSync(lockFile, 'utf8'));
  for (const s of spec.substitutions) {
    if (pkg[s.section]?.[s.name] !== s.from) throw new Error(`${s.name} is not pinned to ${s.from} in ${spec.id}'s package.json`);
    pkg[s.section][s.name] = s.to;
    lock.packages[''][s.section][s.name] = s.to;
    // npm resolves the dropped entry again (version, resolved URL, integrity) from the registry.
    delete lock.packages[`node_modules/${s.name}`];
  }
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(lockFile, `${JSON.stringify(lock, null, 2)}\n`);
  return dir;
}

export function cacheKey(spec = TREES.upstream) {
  const h = createHash('sha256');
  h.update(readFileSync(tarballPath(spec)));
  h.update(JSON.stringify(spec.substitutions));
  h.update(process.versions.node.split('.')[0]);
  return h.digest('hex').slice(0, 16);
}

/** The pnpm the tree pins (`packageManager`), installed from the npm registry under target/ once. */
export function pnpmFor(tree) {
  const pm = JSON.parse(readFileSync(path.join(tree, 'package.json'), 'utf8')).packageManager ?? 'pnpm@10';
  const version = /^pnpm@([^+]+)/.exec(pm)?.[1] ?? '10';
  const prefix = path.join(ROOT, 'target', 'cinny-cache', `pnpm-${version}`);
  const bin = path.join(prefix, 'node_modules', '.bin', 'pnpm');
  if (!existsSync(bin)) {
    mkdirSync(prefix, { recursive: true });
    sh('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', `pnpm@${version}`]);
  }
  return bin;
}

/** The install command of the tree's package manager (frozen lock; this Node's engine accepted). */
export function installCommand(spec, tree) {
  if (spec.pm === 'pnpm') {
    // The tree asks for Node 24 (engine-strict); Node 20 runs its build and tests here.
    const frozen = spec.substitutions.length ? '--no-frozen-lockfile' : '--frozen-lockfile';
    return [pnpmFor(tree), ['install', frozen, '--ignore-scripts', '--config.engine-strict=false', '--reporter=append-only'], { CI: '1' }];
  }
  return ['npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {}];
}

/**
 * The cached base tree (substituted, node_modules installed). Installs it when absent;
 * returns { dir, key, cached, spec }.
 */
export function baseTree(spec = TREES.upstream) {
  const key = cacheKey(spec);
  const cacheDir = path.join(ROOT, 'target', 'cinny-cache', key);
  const dir = path.join(cacheDir, 'tree');
  const done = path.join(cacheDir, 'installed.json');
  for (const s of spec.substitutions) console.log(`info: ${spec.id}: registry substitution: ${s.name} ${s.from} -> ${s.to} (${s.from} is not in the registry reachable here)`);
  if (existsSync(done) && existsSync(path.join(dir, 'node_modules', 'vite'))) {
    console.log(`info: ${spec.id}: node_modules from cache ${path.relative(ROOT, cacheDir)}`);
    return { dir, key, cached: true, spec };
  }
  rmSync(cacheDir, { recursive: true, force: true });
  const tmp = unpack(`${dir}.tmp`, spec);
  const t0 = Date.now();
  const [cmd, args, env] = installCommand(spec, tmp);
  sh(cmd, args, { cwd: tmp, env });
  renameSync(tmp, dir);
  writeFileSync(done, `${JSON.stringify({ key, installedMs: Date.now() - t0, substitutions: spec.substitutions }, null, 2)}\n`);
  console.log(`info: ${spec.id}: ${spec.pm} install: ${((Date.now() - t0) / 1000).toFixed(0)} s (cached as ${path.relative(ROOT, cacheDir)})`);
  return { dir, key, cached: false, spec };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(baseTree(TREES[process.argv[2] ?? 'upstream'])));
