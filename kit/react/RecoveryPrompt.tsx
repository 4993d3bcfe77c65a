// The recovery prompt shown when crypto-health reports `recovery-needed` (KE-1: the
// server keeps rejecting this device's one-time keys). It says what happened, why,
// what "log out and back in" costs, and checks key backup before offering it.
// A folds Dialog over an Overlay, like Cinny's own dialogs.
import React, { ReactNode, useEffect, useState } from 'react';
import {
  Box,
  Button,
  Checkbox,
  Dialog,
  Header,
  Overlay,
  OverlayBackdrop,
  OverlayCenter,
  Text,
  config,
} from 'folds';
import { KitApi, MatrixClientLike, RecoveryNeeded, attempt } from './api';
import { BackupCheck, DEFAULT_BACKUP_SETTINGS, checkKeyBackup } from './backupCheck';
import { useCryptoHealthApi, useRecoveryNeeded } from './hooks';
import { Note, Tone, monoStyle } from './ui';

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

function backupLine(b: BackupCheck, where: string): { tone: Tone; text: string } {
  switch (b.status) {
    case 'active':
      return {
        tone: 'ok',
        text: `Key backup is on (version ${
          b.activeVersion
        }): this device saves its room keys to the server.${
          b.hasDecryptionKey === false
            ? ' This device does not hold the backup key, so keep your recovery key ready.'
            : ''
        }`,
      };
    case 'inactive':
      return {
        tone: 'warning',
        text: `A key backup exists on the server (version ${b.serverVersion}), but this device is not saving to it. Connect it first (${where}: verify this device, then Encryption Backup), or keys only this device holds are lost.`,
      };
    case 'none':
      return {
        tone: 'critical',
        text: `There is no key backup on the server. Logging out loses every room key only this device holds: old encrypted messages stay unreadable in the new session. Set up key backup first (${where}: Device Verification).`,
      };
    default:
      return {
        tone: 'warning',
        text: b.note ?? `Key backup could not be checked: look at ${where} before logging out.`,
      };
  }
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Box direction="Column" gap="100" shrink="No">
      <Text size="L400">{title}</Text>
      {children}
    </Box>
  );
}

function List({ items, testId, ordered }: { items: string[]; testId?: string; ordered?: boolean }) {
  const style = { margin: 0, paddingLeft: config.space.S500 };
  const children = items.map((item) => (
    <li key={item}>
      <Text as="span" size="T300">
        {item}
      </Text>
    </li>
  ));
  return ordered ? (
    <ol style={style} data-testid={testId}>
      {children}
    </ol>
  ) : (
    <ul style={style} data-testid={testId}>
      {children}
    </ul>
  );
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
  /** Where the app's key-backup settings are (default "Settings → Devices", as in Cinny). */
  backupSettings?: string;
  /** Where the diagnostics card is (default Cinny's "Settings → Developer Tools"). */
  detailsAt?: string;
}

export function RecoveryPrompt({
  event,
  api,
  mx,
  onLogout,
  onDismiss,
  appVersion,
  sdkVersion,
  backupSettings = DEFAULT_BACKUP_SETTINGS,
  detailsAt = 'Settings → Developer Tools → Crypto Diagnostics',
}: RecoveryPromptProps) {
  const [backup, setBackup] = useState<BackupCheck | null>(null);
  const [haveKey, setHaveKey] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    checkKeyBackup(mx, backupSettings).then(
      (b) => {
        if (live) setBackup(b);
      },
      () => undefined
    );
    return () => {
      live = false;
    };
  }, [mx, backupSettings]);

  const rec = event.recommendation ?? null;
  const proof = event.proof ?? null;
  const facts =
    event.trigger && event.trigger.facts && event.trigger.facts.length > 0
      ? event.trigger.facts
      : null;
  const line = backup ? backupLine(backup, backupSettings) : null;
  const backupOk = !!backup && backup.status === 'active';
  const canLogout = !!onLogout && !!backup && haveKey;
  // The steps are the core's (crates/core/src/otk/health.rs `recommendation`): one list, whichever screen shows it.
  const steps = rec && Array.isArray(rec.steps) ? rec.steps : [];

  const download = () => {
    if (!api) return;
    const name = attempt(
      () => api.downloadCryptoDiagReport(mx, { appVersion, sdkVersion }),
      null as string | null
    );
    setSaved(name ? `Saved ${name}` : 'The report could not be saved from this page.');
  };

  let times = '';
  if (typeof event.conflictsInWindow === 'number' && event.conflictsInWindow > 0) {
    times = ` (${event.conflictsInWindow} times in a row)`;
  }
  let keyText = '';
  if (proof && proof.counter !== null && proof.counter !== undefined) {
    keyText = ` (key number ${proof.counter})`;
  }

  return (
    <Dialog
      variant="Surface"
      role="dialog"
      aria-modal="true"
      aria-labelledby="crypto-health-recovery-title"
      data-testid="recovery-prompt"
      style={{ maxWidth: '42rem', width: '100%' }}
    >
      <Header
        variant="Surface"
        size="500"
        style={{ padding: `0 ${config.space.S400}`, borderBottomWidth: config.borderWidth.B300 }}
      >
        <Text id="crypto-health-recovery-title" size="H4" truncate>
          {rec ? rec.title : "This device's encryption is stuck and needs a fresh login"}
        </Text>
      </Header>
      {/* The scrolling box is a plain block: inside a height-capped flex column the
          sections would shrink and overlap instead of scrolling. */}
      <div style={{ maxHeight: '75vh', overflowY: 'auto' }}>
        <Box direction="Column" gap="400" style={{ padding: config.space.S400 }}>
          <Section title="What happened">
            <Text size="T300" data-testid="recovery-what">
              {`The server keeps rejecting this device's encryption key upload${times}.`}
              {proof ? (
                <>
                  {' It already holds one-time key '}
                  <code style={monoStyle}>{`${proof.algorithm}:${proof.keyId}`}</code>
                  {keyText}
                  {proof.diverged === false
                    ? ''
                    : ' with a different value than this device now has'}
                  .
                </>
              ) : null}
              {
                ' Until this is fixed, others may fail to start new encrypted sessions with this device: messages sent to you can arrive unreadable here and calls can miss keys.'
              }
            </Text>
          </Section>

          <Section title="Why">
            {facts ? (
              <List items={facts} testId="recovery-why" />
            ) : (
              <Text size="T300" data-testid="recovery-why">
                {DEFAULT_WHY}
              </Text>
            )}
          </Section>

          <Section title="First: your key backup">
            <Note
              tone={line ? line.tone : 'muted'}
              testId="recovery-backup"
              status={backup ? backup.status : 'checking'}
            >
              <Text size="T300">{line ? line.text : 'Checking key backup…'}</Text>
              {rec && rec.backupWarning ? <Text size="T300">{rec.backupWarning}</Text> : null}
            </Note>
            <Box as="label" gap="200" alignItems="Center" style={{ cursor: 'pointer' }}>
              <Checkbox
                variant="Primary"
                size="300"
                checked={haveKey}
                onClick={() => setHaveKey((v) => !v)}
                aria-label="I have my recovery key or passphrase"
                data-testid="recovery-have-key"
              />
              <Text as="span" size="T300">
                I have my recovery key or passphrase (needed to read old messages in the new
                session).
              </Text>
            </Box>
          </Section>

          <Section title={'What "log out and back in" costs'}>
            {rec && rec.blastRadius ? (
              <Text size="T300" data-testid="recovery-costs">
                {rec.blastRadius}
              </Text>
            ) : (
              <List items={DEFAULT_COSTS} testId="recovery-costs" />
            )}
          </Section>

          <Section title="Steps">
            <List items={steps} ordered />
          </Section>

          <Box gap="200" wrap="Wrap" alignItems="Center">
            {onLogout ? (
              <Button
                variant={backupOk ? 'Primary' : 'Critical'}
                fill="Solid"
                size="400"
                radii="300"
                disabled={!canLogout}
                onClick={onLogout}
                title={
                  canLogout
                    ? undefined
                    : 'Check key backup and confirm you have your recovery key first'
                }
                data-testid="recovery-logout"
              >
                <Text as="span" size="B400">
                  {backupOk ? 'Log out and back in' : 'Log out anyway'}
                </Text>
              </Button>
            ) : null}
            <Button
              variant="Secondary"
              fill="Soft"
              size="400"
              radii="300"
              outlined
              onClick={download}
              disabled={!api}
              data-testid="recovery-download"
            >
              <Text as="span" size="B400">
                Download report
              </Text>
            </Button>
            <Button
              variant="Secondary"
              fill="None"
              size="400"
              radii="300"
              onClick={onDismiss}
              data-testid="recovery-dismiss"
            >
              <Text as="span" size="B400">
                Not now
              </Text>
            </Button>
            {saved ? (
              <Text size="T200" priority="300">
                {saved}
              </Text>
            ) : null}
          </Box>
          <Text size="T200" priority="300">
            {`Detected from ${
              proof && proof.source === 'console' ? 'console lines' : 'the keys/upload responses'
            }${event.at ? ` at ${event.at}` : ''}. ${detailsAt} has the details.`}
          </Text>
        </Box>
      </div>
    </Dialog>
  );
}

export interface RecoveryPromptHostProps
  extends Omit<RecoveryPromptProps, 'event' | 'onDismiss' | 'api'> {
  api?: KitApi | null;
}

/** Mount once where the client exists: shows the prompt as a modal when recovery is needed. */
export function RecoveryPromptHost({ api: given, ...rest }: RecoveryPromptHostProps) {
  const loaded = useCryptoHealthApi();
  const api = given ?? loaded.api;
  const { event, dismiss } = useRecoveryNeeded(api);
  if (!event) return null;
  return (
    <Overlay open backdrop={<OverlayBackdrop />}>
      <OverlayCenter>
        <RecoveryPrompt {...rest} api={api} event={event} onDismiss={dismiss} />
      </OverlayCenter>
    </Overlay>
  );
}

export default RecoveryPromptHost;
