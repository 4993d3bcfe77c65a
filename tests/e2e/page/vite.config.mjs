// The end-to-end test page, built the way Cinny builds (cinnyapp/cinny vite.config.js, src/client/initMatrix.ts): Vite 5.4 with
// @rollup/plugin-wasm and vite-plugin-top-level-await, the package excluded from optimizeDeps.
// `crypto-health` resolves to the release pkg/ built by `npm run build`.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { wasm } from '@rollup/plugin-wasm';
import topLevelAwait from 'vite-plugin-top-level-await';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');

// Element Call served from the page's own origin, as Cinny's vite.config.js copies
// @element-hq/element-call-embedded's dist to public/element-call/ (source maps left out).
function copyElementCall() {
  return {
    name: 'copy-element-call',
    closeBundle() {
      const out = path.join(root, 'target', 'e2e', 'page', 'element-call');
      cpSync(path.join(root, 'node_modules', '@element-hq', 'element-call-embedded', 'dist'), out, {
        recursive: true,
        filter: (src) => !src.endsWith('.map'),
      });
      // Element Call's own config option for its SFU's JWT service: a loopback port nothing
      // listens on (no LiveKit server is reachable here), so it gets as far as it can without media.
      const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
      config.livekit = { livekit_service_url: 'http://127.0.0.1:9/livekit/jwt' };
      writeFileSync(path.join(out, 'config.json'), JSON.stringify(config));
    },
  };
}

// The report's sdkVersion is the matrix-js-sdk this page was built with (the flood page swaps it).
export const sdkVersionOf = (modules) => JSON.parse(readFileSync(path.join(modules, 'matrix-js-sdk', 'package.json'), 'utf8')).version;

export default defineConfig({
  root: here,
  define: { __SDK_VERSION__: JSON.stringify(sdkVersionOf(path.join(root, 'node_modules'))) },
  base: './',
  logLevel: 'warn',
  resolve: { alias: { 'crypto-health': path.join(root, 'pkg', 'index.js') } },
  plugins: [wasm(), topLevelAwait(), copyElementCall()],
  optimizeDeps: { exclude: ['crypto-health', '@matrix-org/matrix-sdk-crypto-wasm'] },
  build: { outDir: path.join(root, 'target', 'e2e', 'page'), emptyOutDir: true, target: 'esnext', sourcemap: false, chunkSizeWarningLimit: 10000 },
});
