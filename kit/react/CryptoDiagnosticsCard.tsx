// The Crypto Diagnostics section for Settings → Developer Tools: live per-KE counts,
// persistent storage and the crypto store (checked again under the live client), the
// tab-guard role, one-time-key health, latest findings and captured lines, and the
// report download. Built from folds like Cinny's own Developer Tools sections.
import React, { useState } from 'react';
import { Box, Button, Text } from 'folds';
import type {
  CryptoDiagHealth,
  DecryptionSection,
  UtdCauseStats,
  DiagEntry,
  Finding,
  StorageState,
} from 'crypto-health';
import {
  KitApi,
  MatrixClientLike,
  OtkHealth,
  TabGuardState,
  attempt,
  field,
  latestOtkConflict,
} from './api';
import { useCryptoHealthApi, useDiagnosticsSnapshot, useStorageState } from './hooks';
import { Note, SettingCard, Tile, Tone, ToneBadge, monoStyle } from './ui';

export interface CryptoDiagnosticsCardProps {
  /** The loaded package; loaded here through the shared promise when omitted. */
  api?: KitApi | null;
  /** The MatrixClient (optional): ids, sync state and crypto versions go into the report. */
  mx?: MatrixClientLike;
  /** The storage state `startCryptoHealth()` returned at app entry, shown until asked again. */
  storage?: StorageState | null;
  /** Written into the report as `versions.app`. */
  appVersion?: string;
  /** Written into the report as `versions.sdk`. */
  sdkVersion?: string;
  /** How often the counts are re-read (ms). */
  pollMs?: number;
  maxFindings?: number;
  maxEntries?: number;
}

function time(ms: unknown): string {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toLocaleTimeString() : '—';
}

function isoTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toLocaleTimeString();
}

function size(bytes: number | null | undefined): string {
  if (typeof bytes !== 'number') return '?';
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

// The levels are the core's (getCryptoDiagHealth: crates/core/src/report/health.rs); this only
// picks the colour for each.
function statusTone(
  status: CryptoDiagHealth['status'] | CryptoDiagHealth['classes'][number]['status']
): Tone {
  return status === 'none' ? 'muted' : status;
}

function levelTone(level: string): Tone {
  if (level === 'critical') return 'critical';
  if (level === 'warning') return 'warning';
  return 'info';
}

function storageTone(status: string): Tone {
  if (status === 'persisted') return 'ok';
  if (status === 'not_persisted') return 'warning';
  return 'muted';
}

function StorageTile({ storage }: { storage: StorageState | null }) {
  if (!storage) return <Tile title="Persistent storage" description="Checking…" />;
  const parts: string[] = [];
  if (storage.requested) parts.push('asked this session');
  if (storage.estimate) {
    parts.push(`${size(storage.estimate.usage)} used of ${size(storage.estimate.quota)}`);
  }
  parts.push(...storage.notes);
  if (storage.status === 'not_persisted') {
    parts.push(
      "the browser may evict this site's data under storage pressure; losing the crypto store under a live session is how KE-1 starts"
    );
  }
  return (
    <Tile
      title="Persistent storage"
      description={parts.join('; ') || undefined}
      after={
        <ToneBadge tone={storageTone(storage.status)} testId="storage-status">
          {storage.status.replace('_', ' ')}
        </ToneBadge>
      }
    />
  );
}

type StoreTileProps = {
  storage: StorageState | null;
  /** The crypto_store_missing finding: kept by later checks, which add `presentAgain`. */
  eviction: Finding | null;
  onRecheck: () => void;
};

function StoreTile({ storage, eviction, onRecheck }: StoreTileProps) {
  const store = storage ? storage.cryptoStore : null;
  const present = store ? store.present : null;
  // "missing" is the eviction finding (a session without its store); no store and no
  // session is a login that has not happened yet.
  const again = eviction
    ? ((eviction.evidence as Record<string, unknown> | null)?.presentAgain as
        | { at?: string; sameDevice?: boolean }
        | undefined)
    : undefined;
  // A store present again under a new login's device is that login's own: not evicted.
  const evicted = !!eviction && !(again && again.sameDevice === false);
  let label = 'unknown';
  let tone: Tone = 'muted';
  if (evicted) {
    label = 'evicted';
    tone = 'critical';
  } else if (present === true) {
    label = 'present';
    tone = 'ok';
  } else if (present === false) {
    label = 'none yet';
  }
  let now = 'unknown';
  if (present === true) now = 'present';
  if (present === false) now = 'absent';
  const parts = [
    `Rust crypto IndexedDB ${now}, checked at ${isoTime(store ? store.checkedAt : null)}`,
  ];
  if (store && store.seenAt) parts.push(`first seen ${isoTime(store.seenAt)}`);
  if (eviction)
    parts.push('it was gone at app load while the session stayed (crypto_store_missing)');
  if (again && again.at)
    parts.push(
      again.sameDevice
        ? `re-created by the client under the same device at ${isoTime(again.at)}`
        : `a new login has its own store since ${isoTime(again.at)}`
    );
  return (
    <Tile
      title="Crypto store"
      description={<span data-testid="store-checked">{parts.join('; ')}</span>}
      after={
        <Box gap="200" alignItems="Center">
          <ToneBadge tone={tone} testId="crypto-store">
            {label}
          </ToneBadge>
          <Button
            variant="Secondary"
            fill="Soft"
            size="300"
            radii="300"
            outlined
            onClick={onRecheck}
            data-testid="store-recheck"
          >
            <Text size="B300">Check again</Text>
          </Button>
        </Box>
      }
    />
  );
}

function GuardTile({ api, guard }: { api: KitApi; guard: TabGuardState | null }) {
  if (typeof api.getTabGuardState !== 'function') {
    return (
      <Tile
        title="This tab"
        after={
          <ToneBadge tone="muted" testId="tab-guard-role">
            not in this build
          </ToneBadge>
        }
      />
    );
  }
  if (!guard || !guard.role || guard.role === 'idle' || guard.role === 'released') {
    return (
      <Tile
        title="This tab"
        after={
          <ToneBadge tone="muted" testId="tab-guard-role">
            not acquired
          </ToneBadge>
        }
      />
    );
  }
  let tone: Tone = 'muted';
  if (guard.role === 'primary') tone = 'ok';
  if (guard.role === 'secondary') tone = 'warning';
  const bits = [`via ${guard.mechanism}`];
  if (typeof guard.takeovers === 'number') bits.push(`${guard.takeovers} takeover(s)`);
  if (typeof guard.conflicts === 'number') bits.push(`${guard.conflicts} conflict(s)`);
  return (
    <Tile
      title="This tab"
      description={`Runs encryption for this device ${
        guard.role === 'primary' ? 'here' : 'elsewhere'
      }; ${bits.join(', ')}`}
      after={
        <ToneBadge tone={tone} testId="tab-guard-role">
          {guard.role}
        </ToneBadge>
      }
    />
  );
}

function otkTone(outcome: string): Tone {
  if (outcome === 'healthy') return 'ok';
  // flooding: the keys are sound, the client needs an upgrade (its finding says which).
  if (outcome === 'retrying' || outcome === 'flooding') return 'warning';
  return 'critical';
}

function OtkTile({
  api,
  otk,
  entries,
}: {
  api: KitApi;
  otk: OtkHealth | null;
  entries: DiagEntry[];
}) {
  if (typeof api.otkHealth !== 'function' || !otk) {
    // Package builds without the HTTP tap: what the console tap captured.
    const conflict = latestOtkConflict(entries);
    const text = conflict
      ? `console: ${String(field(conflict, 'algorithm'))}:${String(
          field(conflict, 'key_id')
        )} (counter ${String(field(conflict, 'counter'))}) already on the server${
          field(conflict, 'diverged') === true ? ' with a different key' : ''
        }, ${conflict.repeats + 1}×`
      : 'only console evidence is available';
    return (
      <Tile
        title="One-time keys"
        description={text}
        after={
          <span data-testid="otk-health">
            <ToneBadge tone={conflict ? 'critical' : 'muted'}>
              {conflict ? 'conflict seen' : 'no HTTP tap in this build'}
            </ToneBadge>
          </span>
        }
      />
    );
  }
  const u = otk.uploads;
  const parts: string[] = [`phase ${otk.phase}`];
  parts.push(
    u.requests === 0
      ? 'no keys/upload seen yet'
      : `keys/upload: ${u.requests} sent, ${u.accepted} accepted, ${u.conflicts} conflict(s), ${u.rejected} other rejection(s)`
  );
  if (otk.breaker && otk.breaker.enabled && otk.breaker.savedRequests > 0) {
    parts.push(`${otk.breaker.savedRequests} held back by the storm breaker`);
  }
  if (otk.proof) {
    parts.push(
      `${otk.proof.algorithm}:${otk.proof.keyId} (counter ${String(otk.proof.counter)}, from ${
        otk.proof.source
      })`
    );
  }
  if (otk.trigger && otk.trigger.kind !== 'unknown') {
    parts.push(`likely ${otk.trigger.kind.replace('_', ' ')}`);
  }
  if (otk.identity && otk.identity.replacedBy)
    parts.push('device identity keys replaced on the server');
  return (
    <Tile
      title="One-time keys"
      description={parts.join('; ')}
      after={
        <span data-testid="otk-health" data-outcome={otk.outcome}>
          <ToneBadge tone={otkTone(otk.outcome)}>{otk.outcome}</ToneBadge>
        </span>
      }
    />
  );
}

/** Why messages fail to decrypt: one badge per cause, KE-3 (malformed data) apart from key problems. */
function DecryptionTile({ decryption }: { decryption: DecryptionSection | null }) {
  if (!decryption) return null;
  const all = decryption.causes as Record<string, UtdCauseStats | undefined>;
  const causes: [string, UtdCauseStats][] = [];
  Object.keys(all).forEach((k) => {
    const c = all[k];
    if (c && c.count > 0) causes.push([k, c]);
  });
  const parts: string[] = [];
  parts.push(
    decryption.watching
      ? `${decryption.failures} undecryptable message(s)`
      : 'not watching the client'
  );
  if (decryption.lateDecryptions > 0) parts.push(`${decryption.lateDecryptions} decrypted late`);
  if (decryption.pending > 0) parts.push(`${decryption.pending} waiting for keys`);
  return (
    <Tile
      title="Why messages fail to decrypt"
      description={parts.join('; ')}
      after={
        <Box gap="200" wrap="Wrap" data-testid="utd-causes">
          {causes.length === 0 ? (
            <ToneBadge tone="ok">none</ToneBadge>
          ) : (
            causes.map(([cause, c]) => (
              <ToneBadge
                key={cause}
                tone={c.kind === 'data' ? 'critical' : 'warning'}
                title={`${c.kind} problem${c.ke ? ` (${c.ke})` : ''}${
                  c.explainedBy === 'crypto_store_reset'
                    ? "; lost with this device's crypto store (reset under the same device id), not a new login"
                    : ''
                }; e.g. ${c.events[0]?.eventId ?? '?'} in ${c.events[0]?.roomId ?? '?'}`}
                testId={`utd-cause-${cause}`}
              >
                {`${cause.replace(/_/g, ' ')}: ${c.count}`}
              </ToneBadge>
            ))
          )}
        </Box>
      }
    />
  );
}

/** The overall level in a word: `healthy`, `warning`, `critical`, or `unknown` before the first check. */
function healthLabel(health: { status: string } | null | undefined): string {
  if (!health) return 'unknown';
  return health.status === 'ok' ? 'healthy' : health.status;
}

/** The call findings, most actionable first: what this device cannot hear, whom it cannot reach. */
const CALL_FINDINGS = [
  'call_keys_undecryptable',
  'peer_unreachable',
  'peer_identity_replaced',
  'call_keys_missing',
];

/** Calls in one line a person can act on: whose keys do not get through, and what to do. */
function CallTile({ findings }: { findings: Finding[] }) {
  const call = CALL_FINDINGS.map((id) => findings.find((f) => f.id === id)).filter(
    (f): f is Finding => f !== undefined
  );
  if (call.length === 0) return null;
  const first = call[0];
  const mine = first.id === 'call_keys_undecryptable';
  let action = 'The fix is on that device: sign out and back in there.';
  if (mine) action = 'Sign out and back in (check key backup first).';
  else if (first.id === 'call_keys_missing') action = 'Ask them to rejoin the call.';
  return (
    <Tile
      title="Calls"
      description={`${first.title}. ${action}`}
      after={
        <span data-testid="call-keys" data-finding={first.id}>
          <ToneBadge tone={levelTone(first.level)}>
            {mine ? 'you cannot hear them' : 'they cannot hear you'}
          </ToneBadge>
        </span>
      }
    />
  );
}

function FindingsCard({ findings }: { findings: Finding[] }) {
  return (
    <SettingCard testId="findings">
      {findings.length === 0 ? (
        <Tile title="Findings" description="No findings." />
      ) : (
        findings.map((f) => (
          <Note key={f.id} tone={levelTone(f.level)}>
            <Text size="T300" data-finding={f.id}>
              <b>{f.title}</b>
            </Text>
            <Text size="T200">{f.detail}</Text>
            <Text size="T200" priority="300">
              {`${f.id} · ${f.at}`}
            </Text>
          </Note>
        ))
      )}
    </SettingCard>
  );
}

function LinesCard({ entries }: { entries: DiagEntry[] }) {
  return (
    <SettingCard>
      <details>
        <summary>
          <Text as="span" size="T300">
            {`Latest captured lines (${entries.length})`}
          </Text>
        </summary>
        <Box direction="Column" gap="200" style={{ marginTop: '0.5rem' }}>
          {entries.map((e) => (
            <Box key={`${e.ts}-${e.signature}-${e.repeats}`} direction="Column" gap="100">
              <Text size="T200" priority="300">
                {`${time(e.ts)} ${e.ke} ${e.signature}${e.repeats > 0 ? ` ×${e.repeats + 1}` : ''}`}
              </Text>
              <div style={monoStyle}>
                {e.message.length > 240 ? `${e.message.slice(0, 240)}…` : e.message}
              </div>
            </Box>
          ))}
        </Box>
      </details>
    </SettingCard>
  );
}

export function CryptoDiagnosticsCard({
  api: given,
  mx,
  storage: givenStorage,
  appVersion,
  sdkVersion,
  pollMs = 1000,
  maxFindings = 5,
  maxEntries = 5,
}: CryptoDiagnosticsCardProps) {
  const loaded = useCryptoHealthApi();
  const api = given ?? loaded.api;
  const { snapshot, refresh } = useDiagnosticsSnapshot(api, mx, pollMs);
  const { storage, recheck } = useStorageState(api, givenStorage, mx);
  const [saved, setSaved] = useState<string | null>(null);

  if (!api) {
    return (
      <Box direction="Column" gap="100" data-testid="crypto-diagnostics-card" data-state="loading">
        <Text size="L400">Crypto Diagnostics</Text>
        <SettingCard>
          <Tile
            title="crypto-health"
            description={
              loaded.error ? `crypto-health failed to load: ${loaded.error}` : 'Loading…'
            }
          />
        </SettingCard>
      </Box>
    );
  }

  const { health, entries, findings, otk, guard, decryption } = snapshot;
  const tone: Tone = health ? statusTone(health.status) : 'muted';
  const newestFindings = findings
    .slice()
    .sort((a, b) => b.ts - a.ts)
    .slice(0, maxFindings);
  const keEntries = entries
    .filter((e) => e.ke !== null)
    .slice(-maxEntries)
    .reverse();

  const download = () => {
    const name = attempt(
      () => api.downloadCryptoDiagReport(mx, { appVersion, sdkVersion }),
      null as string | null
    );
    setSaved(name ? `Saved ${name}` : 'The report could not be saved from this page.');
  };
  const refreshAll = () => {
    refresh();
    recheck();
  };

  return (
    <Box
      direction="Column"
      gap="100"
      data-testid="crypto-diagnostics-card"
      data-state="ready"
      data-tone={tone}
    >
      <Text size="L400">Crypto Diagnostics</Text>
      <SettingCard tone={tone}>
        <Tile
          title="End-to-end encryption health"
          description="Errors captured on this device, by class. Hover a count for what it means."
          after={
            <ToneBadge tone={tone} testId="overall">
              {healthLabel(health)}
            </ToneBadge>
          }
        />
        <Box gap="200" wrap="Wrap" data-testid="ke-counts">
          {(health?.classes ?? []).map(({ ke, what, status, count, lastSeen }) => (
            <ToneBadge
              key={ke}
              tone={statusTone(status)}
              title={`${ke}: ${what}. Last seen ${time(lastSeen)}`}
              testId={`ke-badge-${ke}`}
            >
              {`${ke}: ${count}`}
            </ToneBadge>
          ))}
        </Box>
      </SettingCard>
      <SettingCard>
        <StorageTile storage={storage} />
        <StoreTile
          storage={storage}
          eviction={findings.find((f) => f.id === 'crypto_store_missing') ?? null}
          onRecheck={recheck}
        />
        <GuardTile api={api} guard={guard} />
        <OtkTile api={api} otk={otk} entries={entries} />
        <DecryptionTile decryption={decryption} />
        <CallTile findings={findings} />
      </SettingCard>
      <FindingsCard findings={newestFindings} />
      {keEntries.length > 0 ? <LinesCard entries={keEntries} /> : null}
      <SettingCard>
        <Tile
          title="Diagnostics report"
          description={
            saved ??
            'Captured error lines, counts, storage and session ids; tokens, passwords and recovery keys are removed before anything is stored.'
          }
          after={
            <Box gap="200">
              <Button
                variant="Secondary"
                fill="Soft"
                size="300"
                radii="300"
                outlined
                onClick={refreshAll}
              >
                <Text size="B300">Refresh</Text>
              </Button>
              <Button
                variant="Primary"
                fill="Solid"
                size="300"
                radii="300"
                onClick={download}
                data-testid="download-report"
              >
                <Text size="B300">Download report</Text>
              </Button>
            </Box>
          }
        />
      </SettingCard>
    </Box>
  );
}

export default CryptoDiagnosticsCard;
