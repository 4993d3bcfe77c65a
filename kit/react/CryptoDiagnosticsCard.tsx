// The Crypto Diagnostics card for Settings → Developer tools: live per-KE counts,
// persistent storage, tab-guard role, one-time-key health, latest findings and
// captured lines, and the report download. Plain React + the crypto-health package.
import React, { useEffect, useState } from 'react';
import type { DiagEntry, Finding, KeClass, StorageState } from 'crypto-health';
import { KitApi, MatrixClientLike, OtkHealth, TabGuardState, attempt, field, latestOtkConflict } from './api';
import { Counts, useCryptoHealthApi, useDiagnosticsSnapshot } from './hooks';
import * as s from './styles';

const CLASSES: { ke: KeClass; what: string }[] = [
  { ke: 'KE-1', what: 'one-time key upload rejected: crypto store diverged from the server' },
  { ke: 'KE-2', what: 'call media key missing' },
  { ke: 'KE-3', what: 'encrypted event without an algorithm' },
  { ke: 'KE-4', what: 'call membership (delayed event) timeouts' },
];

export interface CryptoDiagnosticsCardProps {
  /** The loaded package; loaded here through the shared promise when omitted. */
  api?: KitApi | null;
  /** The MatrixClient (optional): ids, sync state and crypto versions go into the report. */
  mx?: MatrixClientLike;
  /** The storage state `startCryptoHealth()` returned at app entry; asked again here when omitted. */
  storage?: StorageState | null;
  appVersion?: string;
  sdkVersion?: string;
  /** How often the counts are re-read (ms). */
  pollMs?: number;
  maxFindings?: number;
  maxEntries?: number;
}

function time(ms: unknown): string {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toLocaleTimeString() : '—';
}

function size(bytes: number | null | undefined): string {
  if (typeof bytes !== 'number') return '?';
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function overallTone(counts: Counts, findings: Finding[], otk: OtkHealth | null): s.Tone {
  if (findings.some((f) => f.level === 'critical')) return 'critical';
  if (otk && (otk.outcome === 'diverged' || otk.outcome === 'unrecoverable')) return 'critical';
  if ((counts['KE-1']?.failures ?? 0) > 0) return 'critical';
  if (otk && otk.outcome === 'retrying') return 'warning';
  if (findings.some((f) => f.level === 'warning')) return 'warning';
  if (CLASSES.some(({ ke }) => (counts[ke]?.failures ?? 0) > 0)) return 'warning';
  return 'ok';
}

function StorageRow({ storage }: { storage: StorageState | null }) {
  if (!storage) return <span style={s.small}>checking…</span>;
  const tone: s.Tone = storage.status === 'persisted' ? 'ok' : storage.status === 'not_persisted' ? 'warning' : 'muted';
  const store = storage.cryptoStore;
  return (
    <span>
      <span style={s.badge(tone)} data-testid="storage-status">
        {storage.status.replace('_', ' ')}
      </span>
      {storage.requested ? <span style={s.small}>(asked this session) </span> : null}
      {storage.estimate ? (
        <span style={s.small}>
          {size(storage.estimate.usage)} used of {size(storage.estimate.quota)}.{' '}
        </span>
      ) : null}
      {store && store.present !== null ? (
        <span style={s.small}>Crypto store {store.present ? 'present' : 'MISSING'}. </span>
      ) : null}
      {storage.notes.length > 0 ? <div style={s.small}>{storage.notes.join('; ')}</div> : null}
      {storage.status === 'not_persisted' ? (
        <div style={s.small}>
          The browser may evict this site&apos;s data under storage pressure; losing the crypto store under a live
          session is how KE-1 starts.
        </div>
      ) : null}
    </span>
  );
}

function GuardRow({ api, guard }: { api: KitApi; guard: TabGuardState | null }) {
  if (typeof api.getTabGuardState !== 'function') {
    return <span style={s.badge('muted')} data-testid="tab-guard-role">not in this build</span>;
  }
  if (!guard || !guard.role || guard.role === 'idle' || guard.role === 'released') {
    return <span style={s.badge('muted')} data-testid="tab-guard-role">not acquired</span>;
  }
  const tone: s.Tone = guard.role === 'primary' ? 'ok' : guard.role === 'secondary' ? 'warning' : 'muted';
  return (
    <span>
      <span style={s.badge(tone)} data-testid="tab-guard-role">
        {guard.role}
      </span>
      <span style={s.small}>
        via {guard.mechanism}
        {typeof guard.takeovers === 'number' ? `, ${guard.takeovers} takeover(s)` : ''}
        {typeof guard.conflicts === 'number' ? `, ${guard.conflicts} conflict(s)` : ''}
      </span>
    </span>
  );
}

function OtkRow({ api, otk, entries }: { api: KitApi; otk: OtkHealth | null; entries: DiagEntry[] }) {
  if (typeof api.otkHealth !== 'function' || !otk) {
    // Package builds without the HTTP tap: what the console tap captured.
    const conflict = latestOtkConflict(entries);
    return (
      <span data-testid="otk-health">
        <span style={s.badge(conflict ? 'critical' : 'muted')}>{conflict ? 'conflict seen' : 'no HTTP tap in this build'}</span>
        {conflict ? (
          <span style={s.small}>
            console: {String(field(conflict, 'algorithm'))}:{String(field(conflict, 'key_id'))} (counter{' '}
            {String(field(conflict, 'counter'))}) already on the server
            {field(conflict, 'diverged') === true ? ' with a different key' : ''}, {conflict.repeats + 1}×
          </span>
        ) : (
          <span style={s.small}>only console evidence is available</span>
        )}
      </span>
    );
  }
  const tone: s.Tone = otk.outcome === 'healthy' ? 'ok' : otk.outcome === 'retrying' ? 'warning' : 'critical';
  const u = otk.uploads;
  const parts: string[] = [`phase ${otk.phase}`];
  parts.push(
    u.requests === 0
      ? 'no keys/upload seen yet'
      : `keys/upload: ${u.requests} sent, ${u.accepted} accepted, ${u.conflicts} conflict(s), ${u.rejected} other rejection(s)`,
  );
  if (otk.breaker && otk.breaker.enabled && otk.breaker.savedRequests > 0) {
    parts.push(`${otk.breaker.savedRequests} held back by the storm breaker`);
  }
  if (otk.proof) {
    parts.push(`${otk.proof.algorithm}:${otk.proof.keyId} (counter ${String(otk.proof.counter)}, from ${otk.proof.source})`);
  }
  if (otk.trigger && otk.trigger.kind !== 'unknown') parts.push(`likely ${otk.trigger.kind.replace('_', ' ')}`);
  if (otk.identity && otk.identity.replacedBy) parts.push('device identity keys replaced on the server');
  return (
    <span data-testid="otk-health" data-outcome={otk.outcome}>
      <span style={s.badge(tone)}>{otk.outcome}</span>
      <span style={s.small}>{parts.join('; ')}</span>
    </span>
  );
}

export function CryptoDiagnosticsCard(props: CryptoDiagnosticsCardProps) {
  const { mx, appVersion, sdkVersion, pollMs = 1000, maxFindings = 5, maxEntries = 5 } = props;
  const loaded = useCryptoHealthApi();
  const api = props.api ?? loaded.api;
  const { snapshot, refresh } = useDiagnosticsSnapshot(api, mx, pollMs);
  const [storage, setStorage] = useState<StorageState | null>(props.storage ?? null);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => {
    if (props.storage) {
      setStorage(props.storage);
      return undefined;
    }
    if (!api) return undefined;
    let live = true;
    // persisted() first, persist() only if needed; never rejects.
    api.requestPersistentStorage().then((st) => live && setStorage(st), () => undefined);
    return () => {
      live = false;
    };
  }, [api, props.storage]);

  if (!api) {
    return (
      <section style={s.card} data-testid="crypto-diagnostics-card" data-state="loading">
        <h3 style={{ margin: 0 }}>Crypto Diagnostics</h3>
        <p style={s.small}>{loaded.error ? `crypto-health failed to load: ${loaded.error}` : 'Loading…'}</p>
      </section>
    );
  }

  const { counts, entries, findings, otk, guard } = snapshot;
  const tone = overallTone(counts, findings, otk);
  const newestFindings = findings.slice().sort((a, b) => b.ts - a.ts).slice(0, maxFindings);
  const keEntries = entries.filter((e) => e.ke !== null).slice(-maxEntries).reverse();

  const download = () => {
    const name = attempt(() => api.downloadCryptoDiagReport(mx, { appVersion, sdkVersion }), null as string | null);
    setSaved(name ? `Saved ${name}` : 'The report could not be saved from this page.');
  };

  return (
    <section style={s.card} data-testid="crypto-diagnostics-card" data-state="ready" data-tone={tone}>
      <div style={{ ...s.row, justifyContent: 'space-between' }}>
        <h3 style={{ margin: 0 }}>Crypto Diagnostics</h3>
        <span style={s.badge(tone)} data-testid="overall">
          {tone === 'ok' ? 'healthy' : tone}
        </span>
      </div>

      <div style={s.row} data-testid="ke-counts">
        {CLASSES.map(({ ke, what }) => {
          const c = counts[ke];
          const failures = c?.failures ?? 0;
          const t: s.Tone = failures > 0 ? (ke === 'KE-1' ? 'critical' : 'warning') : (c?.count ?? 0) > 0 ? 'info' : 'muted';
          return (
            <span key={ke} style={s.badge(t)} title={`${ke}: ${what}. Last seen ${time(c?.lastSeen)}`} data-testid={`ke-badge-${ke}`}>
              {ke}: {c?.count ?? 0}
            </span>
          );
        })}
      </div>

      <div style={s.row}>
        <span style={s.label}>Persistent storage</span>
        <span style={s.value}>
          <StorageRow storage={storage} />
        </span>
      </div>
      <div style={s.row}>
        <span style={s.label}>This tab</span>
        <span style={s.value}>
          <GuardRow api={api} guard={guard} />
        </span>
      </div>
      <div style={s.row}>
        <span style={s.label}>One-time keys</span>
        <span style={s.value}>
          <OtkRow api={api} otk={otk} entries={entries} />
        </span>
      </div>

      <div data-testid="findings">
        {newestFindings.length === 0 ? (
          <p style={s.small}>No findings.</p>
        ) : (
          newestFindings.map((f) => (
            <div key={f.id} style={s.panel(f.level === 'critical' ? 'critical' : f.level === 'warning' ? 'warning' : 'info')}>
              <strong>{f.title}</strong>
              <div>{f.detail}</div>
              <div style={s.small}>
                {f.id} · {f.at}
              </div>
            </div>
          ))
        )}
      </div>

      {keEntries.length > 0 ? (
        <details>
          <summary style={s.small}>Latest captured lines ({keEntries.length})</summary>
          {keEntries.map((e, i) => (
            <div key={`${i}-${e.ts}`} style={{ margin: '6px 0' }}>
              <span style={s.small}>
                {time(e.ts)} {e.ke} {e.signature}
                {e.repeats > 0 ? ` ×${e.repeats + 1}` : ''}
              </span>
              <div style={s.mono}>{e.message.length > 240 ? `${e.message.slice(0, 240)}…` : e.message}</div>
            </div>
          ))}
        </details>
      ) : null}

      <div style={{ marginTop: 10 }}>
        <button type="button" style={s.primaryButton} onClick={download} data-testid="download-report">
          Download report
        </button>
        <button type="button" style={s.button} onClick={refresh}>
          Refresh
        </button>
        {saved ? <span style={s.small}>{saved}</span> : null}
      </div>
      <p style={s.small}>
        The report holds captured error lines, counts, storage and session ids; tokens, passwords and recovery keys
        are removed before anything is stored.
      </p>
    </section>
  );
}

export default CryptoDiagnosticsCard;
