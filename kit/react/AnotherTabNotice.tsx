// "Open in another tab" notice: shown while this tab is the tab guard's secondary
// (another tab runs encryption for this device). "Use here" takes the guard over.
// A folds Dialog centred on the app's background, like Cinny's splash screens.
import React, { ReactElement, ReactNode, useState } from 'react';
import { Box, Button, Dialog, Text, color, config } from 'folds';
import { KitApi, attempt } from './api';
import { useBoot, useCryptoHealthApi, useTabGuard, useTabStart } from './hooks';

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

export function AnotherTabNotice({
  api: given,
  appName = 'This app',
  onTakeOver,
}: AnotherTabNoticeProps) {
  const loaded = useCryptoHealthApi(false);
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
    <Box
      grow="Yes"
      alignItems="Center"
      justifyContent="Center"
      style={{
        minHeight: '100%',
        height: '100vh',
        padding: config.space.S400,
        backgroundColor: color.Background.Container,
        color: color.Background.OnContainer,
      }}
    >
      <Dialog
        variant="Surface"
        role="alert"
        data-testid="another-tab-notice"
        style={{ maxWidth: '28rem' }}
      >
        <Box direction="Column" gap="400" style={{ padding: config.space.S400 }}>
          <Text size="H4">{`${appName} is open in another tab`}</Text>
          <Text size="T300">
            Encryption for this device runs in one tab at a time: two tabs writing the same
            encryption store is how its keys fall out of step with the server. This tab is paused.
          </Text>
          {result ? (
            <Text size="T200" style={{ color: color.Critical.Main }}>
              {result}
            </Text>
          ) : null}
          {takeOver ? (
            <Button
              variant="Primary"
              fill="Solid"
              size="400"
              radii="300"
              onClick={useHere}
              disabled={busy}
              data-testid="use-here"
            >
              <Text as="span" size="B400">
                {busy ? 'Taking over…' : 'Use here'}
              </Text>
            </Button>
          ) : null}
        </Box>
      </Dialog>
    </Box>
  );
}

export interface TabGuardGateProps extends AnotherTabNoticeProps {
  children?: ReactNode;
  /** Shown while the tab's role is still being settled (a few ms after load). */
  fallback?: ReactNode;
}

/**
 * Renders `children` (e.g. Cinny's ClientRoot, which creates and starts the Matrix
 * client) unless this tab is the tab guard's secondary; then only the notice. After
 * "Use here" the role turns primary and the children mount here. A tab that
 * bootCryptoHealth() found alone on the origin renders them at once (the wasm loads
 * later); any other waits, showing `fallback`, until the boot has settled the role: only
 * the client waits, not the rest of the app. Builds without a tab guard, or a package that
 * failed to load, render the children unchanged.
 */
export function TabGuardGate({
  children,
  fallback = null,
  ...notice
}: TabGuardGateProps): ReactElement | null {
  // React renders any node a component returns; the JSX types want an element.
  const pass = (node: ReactNode) => (node ?? null) as ReactElement | null;
  const start = useTabStart();
  const boot = useBoot();
  const loaded = useCryptoHealthApi(false);
  const api = notice.api ?? loaded.api;
  const { state } = useTabGuard(api); // re-renders on role changes
  if (!start?.alone) {
    if (!boot.done) return pass(fallback);
    if (!api && !loaded.error) return pass(fallback); // the shared load promise: settled already
  }
  // Read the role now, not from the hook's last poll: the render that first has `api`
  // must not mount the children in a secondary tab.
  const current =
    api && typeof api.getTabGuardState === 'function'
      ? attempt(() => api.getTabGuardState!(), state)
      : state;
  if (current && current.role === 'secondary') return <AnotherTabNotice {...notice} api={api} />;
  return pass(children);
}

export default AnotherTabNotice;
