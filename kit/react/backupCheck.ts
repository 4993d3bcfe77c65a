// Is server-side key backup holding this device's room keys? Asked before any
// advice to log out: a new device can read old messages only through the backup.
// The MatrixClient is read duck-typed (matrix-js-sdk CryptoApi names).

export type BackupStatus =
  | 'active' // this device uploads room keys to a backup on the server
  | 'inactive' // the server has a backup, but this device is not using it
  | 'none' // the server has no key backup
  | 'unknown'; // no client / no crypto / the check failed

export interface BackupCheck {
  status: BackupStatus;
  /** Backup version this device uploads to (`getActiveSessionBackupVersion`). */
  activeVersion: string | null;
  /** Latest backup version on the server (`getKeyBackupInfo`), when the SDK has it. */
  serverVersion: string | null;
  /** This device holds the backup decryption key (`getSessionBackupPrivateKey`). */
  hasDecryptionKey: boolean | null;
  /** Why the check could not say more. */
  note: string | null;
}

type Fn = (...args: unknown[]) => unknown;

function method(obj: unknown, name: string): Fn | null {
  if (!obj || (typeof obj !== 'object' && typeof obj !== 'function')) return null;
  const f = (obj as Record<string, unknown>)[name];
  return typeof f === 'function' ? (f as Fn).bind(obj) : null;
}

/** Where the app keeps key backup (Cinny: Settings → Devices, "Encryption Backup"). */
export const DEFAULT_BACKUP_SETTINGS = 'Settings → Devices';

export async function checkKeyBackup(
  mx: unknown,
  settings: string = DEFAULT_BACKUP_SETTINGS
): Promise<BackupCheck> {
  const out: BackupCheck = {
    status: 'unknown',
    activeVersion: null,
    serverVersion: null,
    hasDecryptionKey: null,
    note: null,
  };
  const getCrypto = method(mx, 'getCrypto');
  if (!getCrypto) {
    out.note = `No Matrix client here: check key backup in ${settings} yourself.`;
    return out;
  }
  let crypto: unknown;
  try {
    crypto = getCrypto();
  } catch {
    crypto = null;
  }
  if (!crypto) {
    out.note = 'Encryption is not running on this device, so its key backup cannot be checked.';
    return out;
  }
  try {
    const active = method(crypto, 'getActiveSessionBackupVersion');
    if (active) out.activeVersion = ((await active()) as string | null) ?? null;
    const info = method(crypto, 'getKeyBackupInfo');
    if (info) {
      const i = (await info()) as { version?: string } | null;
      out.serverVersion = i && i.version ? String(i.version) : null;
    }
    const key = method(crypto, 'getSessionBackupPrivateKey');
    if (key) out.hasDecryptionKey = (await key()) != null;
    if (out.activeVersion) out.status = 'active';
    else if (out.serverVersion) out.status = 'inactive';
    else if (info) out.status = 'none';
    else out.note = 'This SDK cannot tell whether a backup exists on the server.';
  } catch (e) {
    out.status = 'unknown';
    out.note = `The backup check failed: ${String(e)}`;
  }
  return out;
}
