// The e2e page (tests/e2e/page, Cinny's Vite setup) built against the one-time-key flood's
// affected pair instead of the project's current matrix-js-sdk: matrix-js-sdk 42.3.0 (before its
// single receiveSyncChanges call, matrix-org/matrix-js-sdk#5503) with matrix-sdk-crypto-wasm
// 18.5.0, from target/flood-page/node_modules (tests/e2e/flood-page/package.json, installed by
// the otk_flood_detected scenario). Same page code, same crypto-health.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import base, { sdkVersionOf } from '../page/vite.config.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const modules = path.join(root, 'target', 'flood-page', 'node_modules');

export default {
  ...base,
  define: { __SDK_VERSION__: JSON.stringify(sdkVersionOf(modules)) },
  resolve: {
    alias: [
      ...Object.entries(base.resolve.alias).map(([find, replacement]) => ({ find, replacement })),
      { find: /^matrix-js-sdk(?=\/|$)/, replacement: path.join(modules, 'matrix-js-sdk') },
    ],
  },
  // No Element Call copy: the flood needs no call, and that page's output is not ours.
  plugins: base.plugins.filter((p) => !p || p.name !== 'copy-element-call'),
  build: { ...base.build, outDir: path.join(root, 'target', 'e2e', 'flood-page') },
};
