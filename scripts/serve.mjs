#!/usr/bin/env node
// Tiny dependency-free static file server for local development and tests.
//
//   node scripts/serve.mjs [ROOT_DIR]        (default ROOT_DIR: www; PORT env, default 8080)
//
// Serves ROOT_DIR at "/" and the repository's pkg/ directory at "/pkg/".
// Binds to 127.0.0.1 only. Tests import { startServer } and pass port 0 for an
// ephemeral port.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';

export const MIME_TYPES = {
  '.wasm': 'application/wasm',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

function mimeFor(file) {
  return MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

// Resolve a URL path inside `base`; null if it escapes `base`.
function within(base, rel) {
  const full = path.resolve(base, '.' + path.posix.normalize('/' + rel));
  if (full !== base && !full.startsWith(base + path.sep)) return null;
  return full;
}

async function resolveFile(candidate) {
  if (!candidate) return null;
  try {
    let st = await stat(candidate);
    if (st.isDirectory()) {
      candidate = path.join(candidate, 'index.html');
      st = await stat(candidate);
    }
    return st.isFile() ? { file: candidate, size: st.size } : null;
  } catch {
    return null;
  }
}

/**
 * Start the static server.
 * @param {{root?: string, port?: number, pkgDir?: string, quiet?: boolean}} [opts]
 *   root: directory served at "/" (relative paths resolve against the repo root);
 *   port: TCP port, 0 for an ephemeral one; pkgDir: directory served at "/pkg/".
 * @returns {Promise<{url: string, port: number, close: () => Promise<void>}>}
 */
export async function startServer({ root = 'www', port = 8080, pkgDir = 'pkg', quiet = true } = {}) {
  const rootDir = path.resolve(REPO_ROOT, root);
  const pkgRoot = path.resolve(REPO_ROOT, pkgDir);

  const server = createServer(async (req, res) => {
    const done = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      if (!quiet) console.log(`${status} ${req.method} ${req.url}`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return done(405, 'Method Not Allowed\n');

    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    } catch {
      return done(400, 'Bad Request\n');
    }
    if (pathname.includes('\0')) return done(400, 'Bad Request\n');

    let candidate;
    if (pathname === '/pkg' || pathname.startsWith('/pkg/')) {
      candidate = within(pkgRoot, pathname.slice('/pkg'.length));
    } else {
      candidate = within(rootDir, pathname);
    }
    const found = await resolveFile(candidate);
    if (!found) return done(404, 'Not Found\n');

    res.writeHead(200, {
      'Content-Type': mimeFor(found.file),
      'Content-Length': found.size,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    if (!quiet) console.log(`200 ${req.method} ${req.url}`);
    if (req.method === 'HEAD') return res.end();
    const stream = createReadStream(found.file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  return {
    url: `http://${HOST}:${actualPort}/`,
    port: actualPort,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const root = process.argv[2] ?? 'www';
  const port = Number.parseInt(process.env.PORT ?? '8080', 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid PORT: ${process.env.PORT}`);
    process.exit(2);
  }
  const srv = await startServer({ root: path.resolve(process.cwd(), root), port, quiet: false });
  console.log(`Serving ${root} (and /pkg/ from pkg/) at ${srv.url}  (Ctrl+C to stop)`);
  const stop = () => srv.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
