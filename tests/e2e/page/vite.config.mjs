// The end-to-end test page, built the way Cinny builds (cinnyapp/cinny vite.config.js, src/client/initMatrix.ts): Vite 5.4 with
// @rollup/plugin-wasm and vite-plugin-top-level-await, the package excluded from optimizeDeps.
// `crypto-health` resolves to the release pkg/ built by `npm run build`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { wasm } from '@rollup/plugin-wasm';
import topLevelAwait from 'vite-plugin-top-level-await';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  resolve: { alias: { 'crypto-health': path.join(root, 'pkg', 'index.js') } },
  plugins: [wasm(), topLevelAwait()],
  optimizeDeps: { exclude: ['crypto-health', '@matrix-org/matrix-sdk-crypto-wasm'] },
  build: { outDir: path.join(root, 'target', 'e2e', 'page'), emptyOutDir: true, target: 'esnext', sourcemap: false, chunkSizeWarningLimit: 10000 },
});
