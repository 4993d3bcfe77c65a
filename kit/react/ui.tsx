// The kit's building blocks, composed from folds the way Cinny's settings pages are
// (cinnyapp/cinny src/app/components/sequence-card and setting-tile): a section title
// over SurfaceVariant cards holding title/description tiles. Colours, radii and spacing
// are folds' theme variables, so the kit follows Cinny's light and dark themes.
import React, { CSSProperties, ReactNode } from 'react';
import { Badge, Box, Text, color, config } from 'folds';

export type Tone = 'ok' | 'info' | 'warning' | 'critical' | 'muted';

type FoldsVariant = 'Primary' | 'Secondary' | 'Success' | 'Warning' | 'Critical';

const VARIANT: Record<Tone, FoldsVariant> = {
  ok: 'Success',
  info: 'Primary',
  warning: 'Warning',
  critical: 'Critical',
  muted: 'Secondary',
};

export function variantOf(tone: Tone): FoldsVariant {
  return VARIANT[tone];
}

// Cinny's SequenceCard with variant SurfaceVariant and padding S300 (settings styles.css.ts).
const cardStyle: CSSProperties = {
  padding: config.space.S300,
  borderRadius: config.radii.R400,
  backgroundColor: color.SurfaceVariant.Container,
  color: color.SurfaceVariant.OnContainer,
  borderStyle: 'solid',
  borderWidth: config.borderWidth.B300,
  borderColor: color.SurfaceVariant.ContainerLine,
};

export const breakWord: CSSProperties = { overflowWrap: 'anywhere', wordBreak: 'break-word' };

export const monoStyle: CSSProperties = {
  fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
  fontSize: '0.75rem',
  ...breakWord,
};

type CardProps = {
  children: ReactNode;
  testId?: string;
  tone?: Tone;
};

/** A settings card (SequenceCard-like); `tone` tints its border for warnings. */
export function SettingCard({ children, testId, tone }: CardProps) {
  const tinted: CSSProperties =
    tone === 'critical' || tone === 'warning'
      ? {
          ...cardStyle,
          borderColor: tone === 'critical' ? color.Critical.Main : color.Warning.Main,
        }
      : cardStyle;
  return (
    <Box direction="Column" gap="400" style={tinted} data-testid={testId}>
      {children}
    </Box>
  );
}

type TileProps = {
  title?: ReactNode;
  description?: ReactNode;
  after?: ReactNode;
  children?: ReactNode;
};

/** Title, description and a trailing element (SettingTile-like). */
export function Tile({ title, description, after, children }: TileProps) {
  return (
    <Box alignItems="Center" gap="300">
      <Box grow="Yes" direction="Column" gap="100" style={{ minWidth: 0 }}>
        {title ? (
          <Text size="T300" style={breakWord}>
            {title}
          </Text>
        ) : null}
        {description ? (
          <Text as="div" size="T200" priority="300" style={breakWord}>
            {description}
          </Text>
        ) : null}
        {children}
      </Box>
      {after ? <Box shrink="No">{after}</Box> : null}
    </Box>
  );
}

type ToneBadgeProps = {
  tone: Tone;
  children: ReactNode;
  testId?: string;
  title?: string;
};

export function ToneBadge({ tone, children, testId, title }: ToneBadgeProps) {
  return (
    <Badge
      variant={variantOf(tone)}
      fill="Soft"
      radii="Pill"
      size="500"
      outlined
      title={title}
      data-testid={testId}
    >
      <Text as="span" size="L400">
        {children}
      </Text>
    </Badge>
  );
}

type NoteProps = {
  tone: Tone;
  children: ReactNode;
  testId?: string;
  status?: string;
};

/** A tinted note inside a card (warning, critical, ok). */
export function Note({ tone, children, testId, status }: NoteProps) {
  const v = variantOf(tone);
  return (
    <Box
      direction="Column"
      gap="100"
      style={{
        padding: config.space.S300,
        borderRadius: config.radii.R300,
        backgroundColor: color[v].Container,
        color: color[v].OnContainer,
        ...breakWord,
      }}
      data-testid={testId}
      data-status={status}
    >
      {children}
    </Box>
  );
}
