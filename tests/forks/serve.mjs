// A built Cinny-family tree served as its deployments serve it, for stage `forks` and the startup
// bench: Cinny's router uses paths (/login/…, /home/…), so unknown paths without an extension get
// index.html; with `gzip`, text and wasm go gzipped when the browser accepts it (as nginx/Caddy
// serve Cinny), so the bytes on a throttled link are the real ones.
import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { MIME_TYPES } from '../../scripts/serve.mjs';

export function serve(dist, { gzip = false } = {}) {
  const gzipped = new Map();
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      let rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      let file = path.join(dist, path.posix.normalize(rel));
      if (!file.startsWith(dist)) return void res.writeHead(403).end();
      let st = existsSync(file) ? statSync(file) : null;
      if (st && st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = existsSync(file) ? statSync(file) : null;
      }
      if (!st && !path.extname(rel)) {
        file = path.join(dist, 'index.html');
        st = statSync(file);
        rel = '/index.html';
      }
      if (!st) return void res.writeHead(404).end();
      const type = MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
      if (gzip && /gzip/.test(req.headers['accept-encoding'] ?? '') && /javascript|json|wasm|css|html|svg|text/.test(type)) {
        let body = gzipped.get(file);
        if (!body) gzipped.set(file, (body = gzipSync(readFileSync(file), { level: 6 })));
        return void res.writeHead(200, { 'content-type': type, 'content-encoding': 'gzip', 'content-length': body.length, 'cache-control': 'no-store', vary: 'accept-encoding' }).end(body);
      }
      res.writeHead(200, { 'content-type': type, 'content-length': st.size, 'cache-control': 'no-store' });
      createReadStream(file).pipe(res);
    });
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) }));
  });
}

/** The build's config.json: the test homeserver only, no featured communities. */
export function pointConfigAt(dist, hs) {
  const file = path.join(dist, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  config.defaultHomeserver = 0;
  config.homeserverList = [hs.baseUrl];
  config.allowCustomHomeservers = false;
  config.featuredCommunities = { openAsDefault: false, spaces: [], rooms: [], servers: [] };
  // Sable: classic /sync, whose requests the storm windows count (its sliding sync is its own feature).
  if (config.slidingSync) config.slidingSync.enabled = false;
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}
