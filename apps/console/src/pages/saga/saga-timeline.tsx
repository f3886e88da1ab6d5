import { Fragment, useMemo } from 'react';
import { Badge, Group, Stack, Table, Text } from '@mantine/core';
import { Actor, Empty, formatDuration, Time, useNow } from '../../app/ui';
import { buildTimeline, percentAt, Segment, Timeline, TimelineRow } from './timeline';
import { SagaEvent } from './use-saga-live';

const COLORS: Record<Segment['outcome'], string> = {
  running: 'var(--mantine-color-blue-5)',
  succeeded: 'var(--mantine-color-green-6)',
  failed: 'var(--mantine-color-red-6)',
  waiting: 'repeating-linear-gradient(45deg, var(--mantine-color-gray-3) 0 4px, var(--mantine-color-gray-1) 4px 8px)',
  compensated: 'var(--mantine-color-violet-5)',
  'compensation-failed': 'var(--mantine-color-red-9)',
  skipped: 'var(--mantine-color-grape-6)',
};

const LABEL_W = 200;
/** Bars and ticks share this inner box, so a marker at 0 % or 100 % stays whole. */
const TRACK_INSET = { position: 'absolute', left: 6, right: 8, top: 0, bottom: 0 } as const;

function describe(s: Segment, end: number): string {
  const took = formatDuration((s.to ?? end) - s.from);
  const what = s.kind === 'retry-wait' ? `waiting before attempt ${s.attempt}` : `${s.kind === 'compensation' ? 'compensation ' : ''}attempt ${s.attempt}: ${s.outcome}`;
  return `${what} (${took})${s.error ? ` — ${s.error}` : ''}${s.code ? ` [${s.code}]` : ''}`;
}

function Bars(props: { row: TimelineRow; t: Timeline }) {
  const { row, t } = props;
  return (
    <div style={{ position: 'relative', height: 18, background: 'var(--mantine-color-gray-0)', borderRadius: 3 }}>
      <div style={TRACK_INSET}>
      {row.segments.map((s, i) => {
        const left = percentAt(t, s.from);
        const width = Math.max(percentAt(t, s.to ?? t.end) - left, 0.6);
        const point = s.outcome === 'skipped';
        return (
          <div
            key={i}
            title={describe(s, t.end)}
            data-outcome={s.outcome}
            style={{
              position: 'absolute',
              left: `${left}%`,
              width: point ? 10 : `${width}%`,
              marginLeft: point ? -5 : 0,
              top: point ? 2 : 3,
              height: point ? 14 : 12,
              background: COLORS[s.outcome],
              borderRadius: point ? 2 : 3,
              transform: point ? 'rotate(45deg) scale(0.75)' : undefined,
              opacity: s.kind === 'retry-wait' ? 0.9 : 1,
            }}
          />
        );
      })}
      {t.actions.map((a) => (
        <div
          key={`a${a.version}`}
          title={`${a.actor ?? 'operator'} ${a.label}${a.reason ? `: ${a.reason}` : ''}`}
          style={{ position: 'absolute', left: `${percentAt(t, a.at)}%`, top: -3, bottom: -3, borderLeft: '2px dashed var(--mantine-color-orange-6)' }}
        />
      ))}
      </div>
    </div>
  );
}

function Legend() {
  const items: [Segment['outcome'], string][] = [
    ['succeeded', 'succeeded'],
    ['failed', 'failed'],
    ['running', 'running'],
    ['waiting', 'retry wait'],
    ['compensated', 'compensated'],
    ['compensation-failed', 'compensation failed'],
    ['skipped', 'skipped'],
  ];
  return (
    <Group gap="md">
      {items.map(([o, label]) => (
        <Group key={o} gap={4}>
          <span style={{ width: 14, height: 10, borderRadius: 2, background: COLORS[o], display: 'inline-block' }} />
          <Text size="xs" c="dimmed">
            {label}
          </Text>
        </Group>
      ))}
      <Group gap={4}>
        <span style={{ width: 0, height: 12, borderLeft: '2px dashed var(--mantine-color-orange-6)', display: 'inline-block' }} />
        <Text size="xs" c="dimmed">
          operator action
        </Text>
      </Group>
    </Group>
  );
}

/**
 * Steps as bars in time (each attempt, the waits between retries), then the compensations in the
 * order they ran, then what operators did, with actor and reason.
 */
export function SagaTimeline(props: { events: SagaEvent[] }) {
  const now = useNow(1000);
  const t = useMemo(() => buildTimeline(props.events, now), [props.events, now]);
  if (!props.events.length) return <Empty>No events yet.</Empty>;
  const ticks = [0, 25, 50, 75, 100];
  const forward = t.rows.filter((r) => r.phase === 'forward');
  const compensation = t.rows.filter((r) => r.phase === 'compensation');
  const rowView = (r: TimelineRow) => (
    <Fragment key={`${r.phase}:${r.step}`}>
      <div data-testid="timeline-row" data-step={r.step} data-phase={r.phase} style={{ display: 'grid', gridTemplateColumns: `${LABEL_W}px 1fr`, alignItems: 'center', gap: 8 }}>
        <Text size="sm" ff="monospace" truncate title={r.step}>
          {r.phase === 'compensation' ? '↩ ' : ''}
          {r.step}
          <Text span size="xs" c="dimmed">
            {' '}
            ×{r.segments.filter((s) => s.kind !== 'retry-wait').length}
          </Text>
        </Text>
        <Bars row={r} t={t} />
      </div>
      {r.lastError ? (
        <Text size="xs" c="red.8" pl={LABEL_W + 8} data-testid="timeline-error" data-step={r.step} data-phase={r.phase}>
          {r.phase === 'compensation' ? 'compensation error' : 'error'}: {r.lastError}
        </Text>
      ) : null}
    </Fragment>
  );
  return (
    <Stack gap={6} data-testid="timeline">
      <div style={{ display: 'grid', gridTemplateColumns: `${LABEL_W}px 1fr`, gap: 8 }}>
        <span />
        <div style={{ position: 'relative', height: 16 }}>
          <div style={TRACK_INSET}>
            {ticks.map((p) => (
              <Text key={p} size="xs" c="dimmed" style={{ position: 'absolute', whiteSpace: 'nowrap', left: `${p}%`, transform: p === 100 ? 'translateX(-100%)' : p ? 'translateX(-50%)' : undefined }}>
                +{formatDuration(((t.end - t.start) * p) / 100)}
              </Text>
            ))}
          </div>
        </div>
      </div>
      {forward.map(rowView)}
      {compensation.length ? (
        <Text size="xs" fw={600} c="violet.8" mt={4}>
          Compensation, in the order it ran (reverse of the steps): {t.compensationOrder.join(' → ')}
        </Text>
      ) : null}
      {compensation.map(rowView)}
      {t.milestones.length ? (
        <Group gap={6} mt={4}>
          {t.milestones.map((m) => (
            <Badge key={m.version} variant="outline" color="gray" size="sm" title={new Date(m.at).toISOString()}>
              +{formatDuration(m.at - t.start)} {m.label}
            </Badge>
          ))}
        </Group>
      ) : null}
      {t.actions.length ? (
        <Table withTableBorder mt="xs" data-testid="timeline-actions" verticalSpacing={4}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Operator action</Table.Th>
              <Table.Th>Actor</Table.Th>
              <Table.Th>Reason</Table.Th>
              <Table.Th>At</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {t.actions.map((a) => (
              <Table.Tr key={a.version}>
                <Table.Td>{a.label}</Table.Td>
                <Table.Td>
                  <Actor actor={a.actor} />
                </Table.Td>
                <Table.Td>{a.reason ?? '—'}</Table.Td>
                <Table.Td>
                  <Time at={new Date(a.at).toISOString()} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
      <Legend />
    </Stack>
  );
}
