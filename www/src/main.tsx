// The demo's entry, laid out like a Cinny fork's src/index.tsx: crypto-health starts
// before anything else (console capture must be in place before the SDK and LiveKit
// load), then the React root mounts. No top-level await: Cinny's tsconfig (module
// ES2020, target ES2016) rejects it in `tsc --noEmit` (TS1378), although Vite with
// vite-plugin-top-level-await would build it.
import React from 'react';
import { createRoot } from 'react-dom/client';
import 'folds/dist/style.css';
import { configClass, lightTheme, varsClass } from 'folds';
import { startCryptoHealth } from 'crypto-health';
import type { StorageState } from 'crypto-health';
import type { KitApi } from 'crypto-health/react';
import { DemoApp } from './DemoApp';

function mountApp(api: KitApi | null, storage: StorageState | null) {
  const root = document.getElementById('root');
  if (root) createRoot(root).render(<DemoApp api={api} storage={storage} />);
}

// Load (one shared init promise), install the console and fetch taps, ask for
// persistent storage, check the crypto store. If the package cannot load, the app
// still starts.
// The demo names its reports as the fork it stands in for does (the default is
// crypto-health-report-<UTC>.json).
document.body.classList.add(configClass, varsClass, lightTheme); // folds' light theme, as Cinny's default
startCryptoHealth({ capacity: 200, reportPrefix: 'lotus-crypto-diag' })
  .then(({ api, storage }) => {
    const kit = api as KitApi;
    (globalThis as { cryptoHealth?: unknown }).cryptoHealth = api; // for poking from DevTools
    // Builds with the tab guard: one tab runs encryption per device. Mount once the
    // role is known, so TabGuardGate never renders the client part in a secondary tab.
    const state = typeof kit.getTabGuardState === 'function' ? kit.getTabGuardState() : null;
    const guard =
      typeof kit.acquireTabGuard === 'function' && (!state || !state.role || state.role === 'idle')
        ? kit.acquireTabGuard({}).catch(() => undefined)
        : Promise.resolve(undefined);
    return guard.then(() => mountApp(kit, storage));
  })
  .catch((e: unknown) => {
    console.warn('crypto-health did not load; starting without it:', e);
    mountApp(null, null);
  });
