import { ReactNode, useEffect, useState } from 'react';
import { Alert, Badge, Code, Group, Loader, Text, Title } from '@mantine/core';
import { describeError } from '../api/client';

const STATUS_COLORS: Record<string, string> = {
  RUNNING: 'blue',
  SCHEDULED: 'cyan',
  SUSPENDED: 'orange',
  COMPLETED: 'green',
  COMPENSATING: 'yellow',
  COMPENSATED: 'gray',
  COMPENSATION_FAILED: 'red',
  PENDING: 'gray',
  SUCCEEDED: 'green',
  FAILED: 'red',
  SKIPPED: 'grape',
  STARTED: 'blue',
  HEALTHY: 'green',
  DEGRADED: 'yellow',
  UNHEALTHY: 'orange',
  OFFLINE: 'red',
  ACTIVE: 'green',
  PROVISIONING: 'blue',
  DECOMMISSIONED: 'gray',
  LIVE: 'green',
  CATCHING_UP: 'yellow',
  REBUILDING: 'blue',
};

export function StatusBadge(props: { status: string; size?: 'xs' | 'sm' | 'md' | 'lg' }) {
  return (
    <Badge color={STATUS_COLORS[props.status] ?? 'gray'} variant="light" size={props.size ?? 'sm'} data-status={props.status}>
      {props.status}
    </Badge>
  );
}

export const shortId = (id: string) => id.slice(0, 8);

/** Who did it: `key:<id>` shortened to its first 8 characters (the full id on hover), or `admin`. */
export function Actor(props: { actor?: string }) {
  if (!props.actor) return null;
  const m = /^key:(.+)$/.exec(props.actor);
  return (
    <Text span size="sm" ff="monospace" title={props.actor} style={{ whiteSpace: 'nowrap' }}>
      {m ? `key:${m[1].slice(0, 8)}…` : props.actor}
    </Text>
  );
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

export function formatAgo(ms: number): string {
  if (ms < 1500) return 'just now';
  return `${formatDuration(ms).replace(/\.\d+ s$/, ' s')} ago`;
}

/** Re-renders every `ms` (relative times stay true). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** A time as "12 s ago" with the exact ISO time on hover. */
export function Ago(props: { at?: string | null }) {
  const now = useNow();
  if (!props.at) return <Text span c="dimmed">—</Text>;
  const t = Date.parse(props.at);
  return (
    <Text span title={props.at} size="sm">
      {formatAgo(now - t)}
    </Text>
  );
}

export function Time(props: { at?: string | null }) {
  if (!props.at) return <Text span c="dimmed">—</Text>;
  const d = new Date(props.at);
  return (
    <Text span size="sm" title={props.at}>
      {d.toLocaleString(undefined, { hour12: false })}
    </Text>
  );
}

export function Json(props: { value: unknown; maxHeight?: number; testId?: string }) {
  const text = props.value === undefined ? '—' : JSON.stringify(props.value, null, 2);
  return (
    <Code block data-testid={props.testId} style={{ maxHeight: props.maxHeight ?? 320, overflow: 'auto', fontSize: 12 }}>
      {text}
    </Code>
  );
}

export function ErrorAlert(props: { error: unknown; title?: string }) {
  if (!props.error) return null;
  return (
    <Alert color="red" title={props.title ?? 'The API refused'} data-testid="error-alert">
      {describeError(props.error)}
    </Alert>
  );
}

export function PageHeader(props: { title: ReactNode; right?: ReactNode; subtitle?: ReactNode }) {
  return (
    <Group justify="space-between" align="flex-end" mb="md" wrap="nowrap">
      <div>
        <Title order={2}>{props.title}</Title>
        {props.subtitle ? (
          <Text c="dimmed" size="sm">
            {props.subtitle}
          </Text>
        ) : null}
      </div>
      {props.right}
    </Group>
  );
}

/** "updated 2 s ago" with a spinner while a refresh is in flight. */
export function Freshness(props: { updatedAt?: number; loading: boolean; live?: boolean }) {
  const now = useNow();
  return (
    <Group gap={6} data-testid="freshness">
      {props.loading ? <Loader size={12} /> : <span style={{ width: 12, height: 12, borderRadius: 6, background: props.live ? '#40c057' : '#adb5bd', display: 'inline-block' }} />}
      <Text size="xs" c="dimmed">
        {props.live ? 'live · ' : ''}
        {props.updatedAt ? `updated ${formatAgo(now - props.updatedAt)}` : 'loading…'}
      </Text>
    </Group>
  );
}

export function Empty(props: { children: ReactNode }) {
  return (
    <Text c="dimmed" size="sm" py="md" ta="center">
      {props.children}
    </Text>
  );
}
