// crypto-health React kit, shipped in the package as `crypto-health/react` (folds + React
// are the app's own: peer dependencies). See docs/INTEGRATION.md.
export { bootCryptoHealth, cryptoHealthBooting } from './start';
export type { BootOptions, BootResult } from './start';
export type { TabStart } from './tabStart';
export { CryptoDiagnosticsCard } from './CryptoDiagnosticsCard';
export type { CryptoDiagnosticsCardProps } from './CryptoDiagnosticsCard';
export { RecoveryPrompt, RecoveryPromptHost } from './RecoveryPrompt';
export type { RecoveryPromptProps, RecoveryPromptHostProps } from './RecoveryPrompt';
export { AnotherTabNotice, TabGuardGate } from './AnotherTabNotice';
export type { AnotherTabNoticeProps, TabGuardGateProps } from './AnotherTabNotice';
export {
  useBoot,
  useCryptoHealthApi,
  useDiagnosticsSnapshot,
  useRecoveryNeeded,
  useStorageState,
  useTabGuard,
  useTabStart,
  useWatchDecryption,
} from './hooks';
export { checkKeyBackup, DEFAULT_BACKUP_SETTINGS } from './backupCheck';
export type { BackupCheck, BackupStatus } from './backupCheck';
export { RECOVERY_EVENT, TAB_GUARD_EVENT } from './api';
export type { KitApi, OtkHealth, RecoveryNeeded, TabGuardState } from './api';
