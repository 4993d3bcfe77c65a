// "Open in another tab" notice: shown while this tab is the tab guard's secondary
// (another tab runs encryption for this device). "Use here" takes the guard over.
import React, { useState } from 'react';
import { KitApi, attempt } from './api';
import { useCryptoHealthApi, useTabGuard } from './hooks';
import * as s from './styles';

export interface AnotherTabNoticeProps {
  api?: KitApi | null;
  /** App name in the text (default "This app"). */
  appName?: string;
  /**
   * Called once this tab is primary after "Use here": start (or resume) the Matrix
   * client here. The other tab is told it lost the guard and stops its own.
   */
  onTakeOver?: (role: string) => void;
}

export function AnotherTabNotice({ api: given, appName = 'This app', onTakeOver }: AnotherTabNoticeProps) {
  const loaded = useCryptoHealthApi();
  const api = given ?? loaded.api;
  const { state, takeOver } = useTabGuard(api);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);

  if (!state || state.role !== 'secondary') return null;

  const useHere = async () => {
    if (!takeOver) return;
    setBusy(true);
    const role = await takeOver();
    setBusy(false);
    setResult(role === 'primary' ? null : `Could not take over: ${role}`);
    if (role === 'primary' && onTakeOver) onTakeOver(role);
  };

  return (
    <div role="alert" style={{ ...s.panel('warning'), ...s.row, justifyContent: 'space-between' }} data-testid="another-tab-notice">
      <div>
        <strong>{appName} is open in another tab.</strong>{' '}
        Encryption for this device runs in one tab at a time: two tabs writing the same encryption store is how its
        keys fall out of step with the server. This tab is paused.
        {result ? <div style={s.small}>{result}</div> : null}
      </div>
      {takeOver ? (
        <button type="button" style={s.primaryButton} onClick={useHere} disabled={busy} data-testid="use-here">
          {busy ? 'Taking over…' : 'Use here'}
        </button>
      ) : null}
    </div>
  );
}

export interface TabGuardGateProps extends AnotherTabNoticeProps {
  children?: React.ReactNode;
}

/**
 * Renders `children` (e.g. Cinny's ClientRoot, which creates and starts the Matrix
 * client) unless this tab is the tab guard's secondary; then only the notice. After
 * "Use here" the role turns primary and the children mount here. Builds without a
 * tab guard, or a package that failed to load, render the children unchanged.
 */
export function TabGuardGate({ children, ...notice }: TabGuardGateProps) {
  const loaded = useCryptoHealthApi();
  const api = notice.api ?? loaded.api;
  const { state } = useTabGuard(api); // re-renders on role changes
  if (!api && !loaded.error) return null; // the shared load promise: a few ms
  // Read the role now, not from the hook's last poll: the render that first has `api`
  // must not mount the children in a secondary tab.
  const current = api && typeof api.getTabGuardState === 'function' ? attempt(() => api.getTabGuardState!(), state) : state;
  if (current && current.role === 'secondary') return <AnotherTabNotice {...notice} api={api} />;
  return <>{children}</>;
}

export default AnotherTabNotice;
