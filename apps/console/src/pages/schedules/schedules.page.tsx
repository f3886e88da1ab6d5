import { Badge, Group, Paper, Table, Text } from '@mantine/core';
import { Link } from '../../app/router';
import { useApi } from '../../app/use-api';
import { Ago, Empty, ErrorAlert, Freshness, PageHeader, shortId, Time } from '../../app/ui';

/** Cron schedules (GET /v1/schedules) with their next fire and recent runs. */
export function SchedulesPage() {
  const list = useApi((api, signal) => api.get('/v1/schedules', { signal }), [], { pollMs: 5000 });
  const items = list.data?.items ?? [];
  return (
    <div>
      <PageHeader title="Schedules" subtitle="Each fire starts one saga, however many workers run." right={<Freshness updatedAt={list.updatedAt} loading={list.loading} live />} />
      <ErrorAlert error={list.error} />
      <Paper withBorder>
        {items.length ? (
          <Table verticalSpacing="sm" data-testid="schedules-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Schedule</Table.Th>
                <Table.Th>Cron</Table.Th>
                <Table.Th>Saga</Table.Th>
                <Table.Th>Next run</Table.Th>
                <Table.Th>Recent runs</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td>
                    <Text ff="monospace" size="sm">{s.id}</Text>
                    {s.paused ? <Badge color="gray" size="xs">paused</Badge> : null}
                  </Table.Td>
                  <Table.Td>
                    <Text ff="monospace" size="sm">{s.cron}</Text>
                    <Text size="xs" c="dimmed">{s.timezone} · overlap {s.overlap}</Text>
                  </Table.Td>
                  <Table.Td>{s.sagaType}</Table.Td>
                  <Table.Td>{s.paused ? <Text c="dimmed" size="sm">paused</Text> : <Time at={s.nextRunAt} />}</Table.Td>
                  <Table.Td>
                    <Group gap={6}>
                      {s.recentRuns.slice(0, 5).map((r) => (
                        <span key={r.at} title={r.at}>
                          {r.sagaId ? <Link to={`/sagas/${r.sagaId}`} ff="monospace" size="sm">{shortId(r.sagaId)}</Link> : <Badge size="xs" color={r.error ? 'red' : 'gray'}>{r.error ? 'error' : 'skipped'}</Badge>}{' '}
                          <Text span size="xs" c="dimmed"><Ago at={r.at} /></Text>
                        </span>
                      ))}
                      {s.recentRuns.length ? null : <Text size="sm" c="dimmed">none yet</Text>}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : (
          <Empty>{list.data ? 'No schedule.' : 'Loading…'}</Empty>
        )}
      </Paper>
    </div>
  );
}
