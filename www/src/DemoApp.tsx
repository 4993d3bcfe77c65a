// The demo page: the kit exactly as a fork mounts it (card, recovery prompt host,
// another-tab notice), plus clearly labelled demo controls that replay recorded
// real failure lines through the real capture path.
import React, { useEffect, useState } from 'react';
import type { DiagEntry, StorageState } from 'crypto-health';
import { CryptoDiagnosticsCard, KitApi, RecoveryPromptHost, TabGuardGate } from 'crypto-health/react';
import { KE1_LINE, SAMPLES, STORM_REPEATS } from './samples';

const APP_VERSION = 'crypto-health demo';

function Entries({ api, tick }: { api: KitApi; tick: number }) {
  const [entries, setEntries] = useState<DiagEntry[]>([]);
  useEffect(() => {
    const read = () => {
      try {
        setEntries(api.getCryptoDiagEntries());
      } catch (_) {
        setEntries([]);
      }
    };
    read();
    const timer = window.setInterval(read, 1000);
    return () => window.clearInterval(timer);
  }, [api, tick]);
  return (
    <section>
      <h2>Captured entries</h2>
      <pre data-testid="entries">{JSON.stringify(entries, null, 2)}</pre>
    </section>
  );
}

function DemoControls({ api, onChange }: { api: KitApi; onChange: () => void }) {
  const replay = (level: keyof Console, line: string, times = 1) => {
    for (let i = 0; i < times; i += 1) (console[level] as (msg: string) => void)(line);
    onChange();
  };
  return (
    <section className="demo" data-testid="demo-controls">
      <h2>
        <span className="demo-tag">DEMO</span> Replay recorded real signatures
      </h2>
      <p>
        Nothing here talks to a homeserver. Each button logs a recorded real line through <code>console</code>, as
        matrix-js-sdk, crypto-wasm or LiveKit would; crypto-health captures it like any other line.
      </p>
      <div>
        {SAMPLES.map((s) => (
          <button key={s.label} type="button" onClick={() => replay(s.level, s.line)}>
            {s.label}
          </button>
        ))}
      </div>
      <p>
        <button type="button" data-testid="demo-storm" onClick={() => replay('error', KE1_LINE, STORM_REPEATS)}>
          KE-1 storm: {STORM_REPEATS} × Synapse &quot;One time key … already exists&quot; (shows the recovery prompt)
        </button>
        <button
          type="button"
          onClick={() => {
            api.clearCryptoDiagEntries();
            onChange();
          }}
        >
          Clear entries
        </button>
      </p>
      <p>
        Tab guard: <a href="./" target="_blank" rel="noreferrer">open this page in another tab</a> — the second tab
        shows the &quot;another tab&quot; notice (in builds with the tab guard).
      </p>
    </section>
  );
}

export function DemoApp({ api, storage }: { api: KitApi | null; storage: StorageState | null }) {
  const [tick, setTick] = useState(0);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    document.body.dataset.ready = 'true';
  }, []);
  if (!api) return <p>crypto-health failed to load on this page (see the console).</p>;
  return (
    <>
      {/* Where a fork wraps ClientRoot: in a secondary tab only the notice renders. */}
      <TabGuardGate api={api} appName="The crypto-health demo">
        <p data-testid="client-area" className="client-area">
          This tab holds the tab guard (or the build has none): a Matrix client would run here.
        </p>
      </TabGuardGate>
      <h1>crypto-health</h1>
      <p>
        The library is live on this page: console capture is installed, persistent storage was requested and the crypto
        store was checked. Below is the Crypto Diagnostics card as a Cinny fork shows it in Settings → Developer tools.
      </p>
      <CryptoDiagnosticsCard api={api} storage={storage} appVersion={APP_VERSION} />
      {note ? <p data-testid="demo-note">{note}</p> : null}
      <DemoControls api={api} onChange={() => setTick((t) => t + 1)} />
      <Entries api={api} tick={tick} />
      <RecoveryPromptHost
        api={api}
        appVersion={APP_VERSION}
        onLogout={() => setNote('DEMO: a real app logs this device out here (Cinny: logoutClient(mx)) and shows the login page.')}
      />
    </>
  );
}
