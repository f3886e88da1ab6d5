import { Group, Paper, Table, Text } from '@mantine/core';
import { useApi } from '../../app/use-api';
import { Empty, ErrorAlert, formatDuration, Freshness, PageHeader, StatusBadge } from '../../app/ui';

/** Agent task queues (GET /v1/queues, operator): depth, age of the oldest pending task, agent health. */
export function QueuesPage() {
  const list = useApi((api, signal) => api.get('/v1/queues', { signal }), [], { pollMs: 3000 });
  const items = list.data ?? [];
  return (
    <div>
      <PageHeader title="Queues" subtitle="Tasks waiting for agents, per capability." right={<Freshness updatedAt={list.updatedAt} loading={list.loading} live />} />
      <ErrorAlert error={list.error} />
      <Paper withBorder>
        {items.length ? (
          <Table striped data-testid="queues-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Capability</Table.Th>
                <Table.Th ta="right">Pending</Table.Th>
                <Table.Th ta="right">Locked</Table.Th>
                <Table.Th ta="right">Delayed</Table.Th>
                <Table.Th ta="right">Oldest pending</Table.Th>
                <Table.Th>Agents</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((q) => (
                <Table.Tr key={q.capability}>
                  <Table.Td ff="monospace">{q.capability}</Table.Td>
                  <Table.Td ta="right" fw={q.pending ? 700 : undefined}>{q.pending}</Table.Td>
                  <Table.Td ta="right">{q.locked}</Table.Td>
                  <Table.Td ta="right">{q.delayed}</Table.Td>
                  <Table.Td ta="right">{q.pending ? formatDuration(q.oldestPendingAgeMs) : '—'}</Table.Td>
                  <Table.Td>
                    <Group gap={6}>
                      {(Object.entries(q.agents) as [string, number][])
                        .filter(([, n]) => n > 0)
                        .map(([health, n]) => (
                          <Group key={health} gap={2}>
                            <Text size="sm">{n}</Text>
                            <StatusBadge status={health} size="xs" />
                          </Group>
                        ))}
                      {Object.values(q.agents).every((n) => !n) ? <Text size="sm" c="red">no agent</Text> : null}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : (
          <Empty>{list.data ? 'No queue: no task has been addressed to an agent capability.' : 'Loading…'}</Empty>
        )}
      </Paper>
    </div>
  );
}
