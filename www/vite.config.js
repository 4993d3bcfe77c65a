// The demo page built with Cinny's bundler setup (cinnyapp/cinny vite.config.js, src/client/initMatrix.ts): Vite 5.4,
// @rollup/plugin-wasm and vite-plugin-top-level-await (not vite-plugin-wasm), and
// crypto-health excluded from dependency pre-bundling. JSX/TSX is compiled by
// Vite's own esbuild with the classic runtime, as Cinny's tsconfig ("jsx": "react")
// does, so no @vitejs/plugin-react is needed here.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { wasm } from '@rollup/plugin-wasm';
import topLevelAwait from 'vite-plugin-top-level-await';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

export default defineConfig({
  root: here,
  appType: 'spa',
  publicDir: false,
  base: './',
  plugins: [
    // Same options as Cinny's vite.config.js.
    topLevelAwait({
      promiseExportName: '__tla',
      promiseImportName: (i) => `__tla_${i}`,
    }),
    wasm(),
  ],
  esbuild: {
    jsx: 'transform',
    jsxFactory: 'React.createElement',
    jsxFragment: 'React.Fragment',
  },
  optimizeDeps: {
    // The wasm-bindgen glue finds its .wasm via new URL(…, import.meta.url); a
    // pre-bundled copy would look for it in .vite/deps and fail to load.
    exclude: ['crypto-health'],
  },
  server: {
    // The kit lives in kit/react/, outside www/.
    fs: { allow: [repo] },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
});
