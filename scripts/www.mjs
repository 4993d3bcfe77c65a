#!/usr/bin/env node
// The demo page www/ as a consumer app, built the way a Cinny fork builds (Vite 5.4,
// @rollup/plugin-wasm, vite-plugin-top-level-await; www/vite.config.js).
//
//   node scripts/www.mjs install   pack pkg/ and install it as node_modules/crypto-health
//   node scripts/www.mjs build     install, then `vite build` www/ into www/dist
//   node scripts/www.mjs dev       install, then the Vite dev server (PORT, default 5173)
//
// The package reaches the page exactly as it reaches a fork: `npm pack pkg/` makes the
// tarball a fork installs (`npm install ./crypto-health-<version>.tgz`), and its
// contents land in node_modules/crypto-health. Nothing imports pkg/ by path, so a file
// missing from pkg/package.json "files" breaks this build as it would break the fork's.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG_DIR = path.join(ROOT, 'pkg');
const KIT_OUT = path.join(ROOT, 'target', 'kit');
const INSTALLED = path.join(ROOT, 'node_modules', 'crypto-health');
export const WWW_DIR = path.join(ROOT, 'www');
export const DIST_DIR = path.join(WWW_DIR, 'dist');
const CONFIG = path.join(WWW_DIR, 'vite.config.js');

function log(msg) {
  console.log(`[www] ${msg}`);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw new Error(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** `npm pack pkg/` into target/kit/, then unpack it as node_modules/crypto-health. Returns the tarball path. */
export function installPackage() {
  if (!existsSync(path.join(PKG_DIR, 'package.json'))) {
    throw new Error('pkg/ has not been built: run `npm run build` (or `node scripts/build.mjs --warn-size`) first');
  }
  mkdirSync(KIT_OUT, { recursive: true });
  const packed = JSON.parse(run('npm', ['pack', PKG_DIR, '--pack-destination', KIT_OUT, '--json', '--silent']));
  const tarball = path.join(KIT_OUT, packed[0].filename);
  const tmp = mkdtempSync(path.join(KIT_OUT, 'unpack-'));
  try {
    run('tar', ['-xzf', tarball, '-C', tmp]); // npm tarballs hold one top-level `package/`
    rmSync(INSTALLED, { recursive: true, force: true });
    mkdirSync(path.dirname(INSTALLED), { recursive: true });
    renameSync(path.join(tmp, 'package'), INSTALLED);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const version = JSON.parse(readFileSync(path.join(INSTALLED, 'package.json'), 'utf8')).version;
  log(`installed ${path.relative(ROOT, tarball)} as node_modules/crypto-health (${version}, ${packed[0].entryCount} files)`);
  return tarball;
}

/** `vite build` of www/ (production) into www/dist. */
export async function buildWww() {
  const { build } = await import('vite');
  await build({ configFile: CONFIG, logLevel: 'warn' });
  log(`built ${path.relative(ROOT, DIST_DIR)}`);
  return DIST_DIR;
}

async function dev() {
  const { createServer } = await import('vite');
  const port = Number.parseInt(process.env.PORT ?? '5173', 10);
  const server = await createServer({ configFile: CONFIG, server: { port, host: '127.0.0.1', strictPort: true } });
  await server.listen();
  server.printUrls();
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const cmd = process.argv[2] ?? 'build';
  try {
    if (!['install', 'build', 'dev'].includes(cmd)) {
      console.error('usage: node scripts/www.mjs install|build|dev');
      process.exit(2);
    }
    installPackage();
    if (cmd === 'build') await buildWww();
    if (cmd === 'dev') await dev();
  } catch (e) {
    console.error(`[www] ERROR: ${e?.message ?? e}`);
    process.exit(1);
  }
}
