#!/usr/bin/env node
// The Cinny integrator (kit/cinny/crypto-health-cinny.mjs) on a real tree, without a build:
// pristine upstream Cinny (the cached install of tests/cinny/tree.mjs lends its node_modules,
// the integrator needs the tree's own TypeScript and prettier).
//
//   node tests/forks/integrator.mjs
//
// Checks: --check fails on the pristine tree; --dry-run prints the diff and writes nothing; a
// run changes the expected files in small hunks; a second run changes nothing and says so;
// --check passes; --check fails again once one edit is removed (naming it); a tree missing an
// anchor gets a message naming it and the manual step, and no file changes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createChecks } from '../lib/checks.mjs';
import { ROOT, baseTree, unpack } from './tree.mjs';

export const INTEGRATOR = path.join(ROOT, 'kit', 'cinny', 'crypto-health-cinny.mjs');
const OUT = path.join(ROOT, 'target', 'forks', 'integrator');
const { check, finish } = createChecks();

export function integrator(tree, args = []) {
  const r = spawnSync(process.execPath, [INTEGRATOR, tree, ...args], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** Content hash of every file under the tree (node_modules aside). */
export function snapshot(tree) {
  const out = new Map();
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules') continue;
      const file = path.join(dir, name);
      const st = statSync(file);
      if (st.isDirectory()) walk(file);
      else out.set(path.relative(tree, file), createHash('sha256').update(readFileSync(file)).digest('hex'));
    }
  };
  walk(tree);
  return out;
}
export function changed(a, b) {
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names].filter((n) => a.get(n) !== b.get(n)).sort();
}

function fresh(name, base) {
  const dir = unpack(path.join(OUT, name));
  symlinkSync(path.join(base.dir, 'node_modules'), path.join(dir, 'node_modules'));
  // As if the package had been installed already (the stage installs it for real).
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  pkg.dependencies['crypto-health'] = 'file:vendor/crypto-health.tgz';
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  return dir;
}

function main() {
  const base = baseTree();
  const tree = fresh('upstream', base);
  const s0 = snapshot(tree);

  let r = integrator(tree, ['--check']);
  check('--check on the pristine tree exits 1 and lists what is missing', r.status === 1 && /not integrated/.test(r.err) && /gated/.test(r.err), `${r.status} ${r.err}`);

  r = integrator(tree, ['--dry-run']);
  check('--dry-run prints a unified diff and writes nothing', r.status === 0 && /^\+\+\+ b\/src\/app\/pages\/Router\.tsx$/m.test(r.out) && changed(s0, snapshot(tree)).length === 0, `${r.status} ${r.err}`);
  writeFileSync(path.join(ROOT, 'target', 'forks', 'upstream-dry-run.diff'), r.out);

  r = integrator(tree, ['--no-install']);
  const s1 = snapshot(tree);
  const files = changed(s0, s1);
  const expected = ['src/app/features/crypto-health/index.ts', 'src/app/features/settings/developer-tools/DevelopTools.tsx', 'src/app/pages/Router.tsx', 'src/app/pages/client/ClientRoot.tsx', 'src/index.tsx', 'vite.config.js'];
  check('a run integrates: the glue file and five anchors change, nothing else', r.status === 0 && JSON.stringify(files) === JSON.stringify(expected), `${r.status} ${JSON.stringify(files)}\n${r.err}`);
  // Small hunks: the router's subtree is not re-indented (only the two tags and the imports change).
  const d = spawnSync('diff', ['-u', path.join(base.dir, 'src/app/pages/Router.tsx'), path.join(tree, 'src/app/pages/Router.tsx')], { encoding: 'utf8' }).stdout;
  const minus = d.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
  check('the router: only the two client-root tags are rewritten (no re-indented subtree)', minus.length === 2 && minus.every((l) => /<\/?ClientRoot>/.test(l)), d);

  r = integrator(tree, ['--no-install']);
  check('a second run changes nothing and says so', r.status === 0 && /already integrated, nothing to change/.test(r.out) && changed(s1, snapshot(tree)).length === 0, `${r.status} ${r.out} ${r.err}`);
  r = integrator(tree, ['--check']);
  check('--check passes on the integrated tree', r.status === 0, `${r.status} ${r.err}`);

  // The integration removed from one place (a merge from upstream dropped the card).
  copyFileSync(path.join(base.dir, 'src/app/features/settings/developer-tools/DevelopTools.tsx'), path.join(tree, 'src/app/features/settings/developer-tools/DevelopTools.tsx'));
  r = integrator(tree, ['--check']);
  check('--check fails once the card is removed, naming it', r.status === 1 && /Developer Tools/.test(r.err) && !/gated/.test(r.err), `${r.status} ${r.err}`);

  // A tree missing an anchor: no MatrixClientProvider anywhere.
  const broken = fresh('missing-anchor', base);
  const rootFile = path.join(broken, 'src/app/pages/client/ClientRoot.tsx');
  writeFileSync(rootFile, readFileSync(rootFile, 'utf8').replaceAll('MatrixClientProvider', 'ClientContextProvider'));
  const b0 = snapshot(broken);
  r = integrator(broken, []);
  check(
    'a missing anchor: exit 2, names what it looked for and where, points to the manual step, changes no file',
    r.status === 2 && /MatrixClientProvider/.test(r.err) && /looked in: src/.test(r.err) && /INTEGRATION\.md/.test(r.err) && /Nothing was changed/.test(r.err) && changed(b0, snapshot(broken)).length === 0,
    `${r.status} ${r.err} ${JSON.stringify(changed(b0, snapshot(broken)))}`,
  );
  check('the guide has the manual steps the messages point to', ['The app entry', 'The gate around the client root', 'Recovery prompt inside the client root', 'The card in Developer Tools', 'The Vite config', 'The glue file'].every((s) => readFileSync(path.join(ROOT, 'docs', 'INTEGRATION.md'), 'utf8').includes(s)));
  if (!existsSync(path.join(ROOT, 'pkg', 'bin', 'crypto-health-cinny.mjs'))) console.log('info: pkg/bin not built (node scripts/build.mjs ships the integrator there)');
}

main();
finish();
