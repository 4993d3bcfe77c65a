// crypto-health React kit: copy this directory into a Cinny fork at
// src/app/features/settings/developer-tools/crypto-health/ (see docs/INTEGRATION.md).
export { CryptoDiagnosticsCard } from './CryptoDiagnosticsCard';
export type { CryptoDiagnosticsCardProps } from './CryptoDiagnosticsCard';
export { RecoveryPrompt, RecoveryPromptHost } from './RecoveryPrompt';
export type { RecoveryPromptProps, RecoveryPromptHostProps } from './RecoveryPrompt';
export { AnotherTabNotice, TabGuardGate } from './AnotherTabNotice';
export type { AnotherTabNoticeProps, TabGuardGateProps } from './AnotherTabNotice';
export { useCryptoHealthApi, useDiagnosticsSnapshot, useRecoveryNeeded, useTabGuard } from './hooks';
export { checkKeyBackup } from './backupCheck';
export type { BackupCheck, BackupStatus } from './backupCheck';
export { RECOVERY_EVENT, TAB_GUARD_EVENT } from './api';
export type { KitApi, OtkHealth, RecoveryNeeded, TabGuardState } from './api';
