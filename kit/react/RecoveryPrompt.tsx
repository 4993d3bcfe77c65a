// The recovery prompt shown when crypto-health reports `recovery-needed` (KE-1: the
// server keeps rejecting this device's one-time keys). It says what happened, why,
// what "log out and back in" costs, and checks key backup before offering it.
import React, { useEffect, useState } from 'react';
import { KitApi, MatrixClientLike, RecoveryNeeded, attempt } from './api';
import { BackupCheck, checkKeyBackup } from './backupCheck';
import { useCryptoHealthApi, useRecoveryNeeded } from './hooks';
import * as s from './styles';

const DEFAULT_WHY =
  "This device's local encryption store no longer matches what the server holds for this device: usually the " +
  "browser's storage for this site was cleared or evicted while the login stayed, or two tabs wrote the same store " +
  'at once. The device cannot repair this itself: every retry is rejected the same way.';

const DEFAULT_COSTS = [
  'Only this device is affected; your other sessions keep working.',
  'The new session gets a new device id and must be verified again (from another device or with your recovery key).',
  'Old encrypted messages are readable in the new session only after restoring them from key backup. Keys that only this device holds and that are not in the backup are lost.',
  'Clearing site data instead does not help: it keeps the same device id on the server and the rejection repeats.',
];

const DEFAULT_STEPS = [
  'Check key backup (above) and keep your recovery key or passphrase at hand.',
  'Download the diagnostics report: it records the evidence for whoever looks into this.',
  'Log out of this device. Logging out removes the device on the server; only then does logging in create a fresh one.',
  'Log back in, verify the new session and restore from key backup when asked.',
];

function backupLine(b: BackupCheck): { tone: s.Tone; text: string } {
  switch (b.status) {
    case 'active':
      return {
        tone: 'ok',
        text:
          `Key backup is on (version ${b.activeVersion}): this device saves its room keys to the server.` +
          (b.hasDecryptionKey === false ? ' This device does not hold the backup key, so keep your recovery key ready.' : ''),
      };
    case 'inactive':
      return {
        tone: 'warning',
        text: `A key backup exists on the server (version ${b.serverVersion}), but this device is not saving to it. Connect it in Settings → Security first, or keys only this device holds are lost.`,
      };
    case 'none':
      return {
        tone: 'critical',
        text: 'There is no key backup on the server. Logging out loses every room key only this device holds: old encrypted messages stay unreadable in the new session. Set up key backup first (Settings → Security).',
      };
    default:
      return { tone: 'warning', text: b.note ?? 'Key backup could not be checked: look at Settings → Security before logging out.' };
  }
}

export interface RecoveryPromptProps {
  event: RecoveryNeeded;
  api?: KitApi | null;
  mx?: MatrixClientLike;
  /** Log this device out (server-side) and return to the login screen; without it no logout button is shown. */
  onLogout?: () => void;
  onDismiss: () => void;
  appVersion?: string;
  sdkVersion?: string;
}

export function RecoveryPrompt({ event, api, mx, onLogout, onDismiss, appVersion, sdkVersion }: RecoveryPromptProps) {
  const [backup, setBackup] = useState<BackupCheck | null>(null);
  const [haveKey, setHaveKey] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    checkKeyBackup(mx).then((b) => live && setBackup(b));
    return () => {
      live = false;
    };
  }, [mx]);

  const rec = event.recommendation ?? null;
  const proof = event.proof ?? null;
  const facts = event.trigger && event.trigger.facts && event.trigger.facts.length > 0 ? event.trigger.facts : null;
  const line = backup ? backupLine(backup) : null;
  const backupOk = !!backup && backup.status === 'active';
  const canLogout = !!onLogout && !!backup && haveKey;

  const download = () => {
    if (!api) return;
    const name = attempt(() => api.downloadCryptoDiagReport(mx, { appVersion, sdkVersion }), null as string | null);
    setSaved(name ? `Saved ${name}` : 'The report could not be saved from this page.');
  };

  return (
    <div role="dialog" aria-modal="true" aria-labelledby="crypto-health-recovery-title" style={s.dialog} data-testid="recovery-prompt">
      <h2 id="crypto-health-recovery-title" style={{ marginTop: 0 }}>
        {rec ? rec.title : "This device's encryption is stuck and needs a fresh login"}
      </h2>

      <h4 style={{ marginBottom: 4 }}>What happened</h4>
      <p style={{ marginTop: 0 }} data-testid="recovery-what">
        The server keeps rejecting this device&apos;s encryption key upload
        {typeof event.conflictsInWindow === 'number' && event.conflictsInWindow > 0
          ? ` (${event.conflictsInWindow} times in a row)`
          : ''}
        .
        {proof ? (
          <>
            {' '}
            It already holds one-time key <code style={s.mono}>{`${proof.algorithm}:${proof.keyId}`}</code>
            {proof.counter !== null && proof.counter !== undefined ? ` (key number ${proof.counter})` : ''}
            {proof.diverged === false ? '' : ' with a different value than this device now has'}.
          </>
        ) : null}{' '}
        Until this is fixed, others may fail to start new encrypted sessions with this device: messages sent to you can
        arrive unreadable here and calls can miss keys.
      </p>

      <h4 style={{ marginBottom: 4 }}>Why</h4>
      {facts ? (
        <ul style={{ marginTop: 0 }} data-testid="recovery-why">
          {facts.map((f) => (
            <li key={f}>{f}</li>
          ))}
        </ul>
      ) : (
        <p style={{ marginTop: 0 }} data-testid="recovery-why">
          {DEFAULT_WHY}
        </p>
      )}

      <h4 style={{ marginBottom: 4 }}>First: your key backup</h4>
      <div style={s.panel(line ? line.tone : 'muted')} data-testid="recovery-backup" data-status={backup ? backup.status : 'checking'}>
        {line ? line.text : 'Checking key backup…'}
        {rec && rec.backupWarning ? <div style={{ marginTop: 6 }}>{rec.backupWarning}</div> : null}
      </div>
      <label style={{ display: 'block', margin: '6px 0' }}>
        <input type="checkbox" checked={haveKey} onChange={(e) => setHaveKey(e.target.checked)} data-testid="recovery-have-key" /> I
        have my recovery key or passphrase (needed to read old messages in the new session).
      </label>

      <h4 style={{ marginBottom: 4 }}>What &quot;log out and back in&quot; costs</h4>
      {rec && rec.blastRadius ? (
        <p style={{ marginTop: 0 }} data-testid="recovery-costs">
          {rec.blastRadius}
        </p>
      ) : (
        <ul style={{ marginTop: 0 }} data-testid="recovery-costs">
          {DEFAULT_COSTS.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ul>
      )}

      <h4 style={{ marginBottom: 4 }}>Steps</h4>
      <ol style={{ marginTop: 0 }}>
        {(rec && rec.steps && rec.steps.length > 0 ? rec.steps : DEFAULT_STEPS).map((step) => (
          <li key={step}>{step}</li>
        ))}
      </ol>

      <div>
        <button type="button" style={s.button} onClick={download} disabled={!api} data-testid="recovery-download">
          Download report
        </button>
        {onLogout ? (
          <button
            type="button"
            style={canLogout ? (backupOk ? s.primaryButton : s.dangerButton) : { ...s.button, opacity: 0.5, cursor: 'not-allowed' }}
            disabled={!canLogout}
            onClick={onLogout}
            title={canLogout ? undefined : 'Check key backup and confirm you have your recovery key first'}
            data-testid="recovery-logout"
          >
            {backupOk ? 'Log out and back in' : 'Log out anyway'}
          </button>
        ) : null}
        <button type="button" style={s.button} onClick={onDismiss} data-testid="recovery-dismiss">
          Not now
        </button>
        {saved ? <span style={s.small}>{saved}</span> : null}
      </div>
      <p style={s.small}>
        Detected from {proof && proof.source === 'console' ? 'console lines' : 'the keys/upload responses'}
        {event.at ? ` at ${event.at}` : ''}. Settings → Developer tools → Crypto Diagnostics has the details.
      </p>
    </div>
  );
}

export interface RecoveryPromptHostProps extends Omit<RecoveryPromptProps, 'event' | 'onDismiss' | 'api'> {
  api?: KitApi | null;
}

/** Mount once near the app root: shows the prompt as a modal when recovery is needed. */
export function RecoveryPromptHost(props: RecoveryPromptHostProps) {
  const loaded = useCryptoHealthApi();
  const api = props.api ?? loaded.api;
  const { event, dismiss } = useRecoveryNeeded(api);
  if (!event) return null;
  return (
    <div style={s.overlay}>
      <RecoveryPrompt {...props} api={api} event={event} onDismiss={dismiss} />
    </div>
  );
}

export default RecoveryPromptHost;
