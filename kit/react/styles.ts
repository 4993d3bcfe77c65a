// Inline styles: the kit brings no stylesheet and no UI library, so it renders the
// same in Cinny (folds) and anywhere else. A fork may swap these for folds components.
import type { CSSProperties } from 'react';

export type Tone = 'ok' | 'info' | 'warning' | 'critical' | 'muted';

const TONES: Record<Tone, { bg: string; fg: string; border: string }> = {
  ok: { bg: '#e7f6ec', fg: '#135c2c', border: '#8fcea5' },
  info: { bg: '#eaf1fb', fg: '#1d4f91', border: '#9dbbe6' },
  warning: { bg: '#fff4df', fg: '#7a4b00', border: '#e9c27a' },
  critical: { bg: '#fde8e8', fg: '#8d1111', border: '#ec9a9a' },
  muted: { bg: '#f1f1f4', fg: '#55555f', border: '#d6d6dd' },
};

export function badge(tone: Tone): CSSProperties {
  const t = TONES[tone];
  return {
    display: 'inline-block',
    margin: '0 6px 6px 0',
    padding: '2px 10px',
    borderRadius: 999,
    background: t.bg,
    color: t.fg,
    border: `1px solid ${t.border}`,
    fontWeight: 600,
    fontSize: 13,
  };
}

export function panel(tone: Tone): CSSProperties {
  const t = TONES[tone];
  return { borderLeft: `4px solid ${t.border}`, background: t.bg, color: t.fg, padding: '8px 12px', borderRadius: 6, margin: '8px 0' };
}

export const card: CSSProperties = {
  border: '1px solid #d0d0d8',
  borderRadius: 10,
  padding: '14px 18px',
  margin: '12px 0',
  background: '#fff',
  color: '#1d1d22',
  font: '14px/1.45 system-ui, sans-serif',
};

export const row: CSSProperties = { display: 'flex', gap: 12, alignItems: 'baseline', margin: '6px 0', flexWrap: 'wrap' };
export const label: CSSProperties = { minWidth: 150, color: '#55555f' };
export const value: CSSProperties = { flex: '1 1 320px', minWidth: 0 };
export const small: CSSProperties = { fontSize: 12, color: '#66666f' };
export const mono: CSSProperties = { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', fontSize: 12, wordBreak: 'break-all' };
export const button: CSSProperties = {
  margin: '4px 8px 4px 0',
  padding: '6px 14px',
  borderRadius: 6,
  border: '1px solid #9999a8',
  background: '#fff',
  cursor: 'pointer',
  font: 'inherit',
};
export const primaryButton: CSSProperties = { ...button, background: '#1d4f91', color: '#fff', border: '1px solid #1d4f91' };
export const dangerButton: CSSProperties = { ...button, background: '#8d1111', color: '#fff', border: '1px solid #8d1111' };
export const overlay: CSSProperties = {
  position: 'fixed',
  inset: 0,
  background: 'rgba(20, 20, 30, 0.45)',
  display: 'flex',
  alignItems: 'flex-start',
  justifyContent: 'center',
  overflowY: 'auto',
  padding: '5vh 12px',
  zIndex: 1000,
};
export const dialog: CSSProperties = { ...card, maxWidth: 640, width: '100%', boxShadow: '0 10px 40px rgba(0,0,0,.25)' };
