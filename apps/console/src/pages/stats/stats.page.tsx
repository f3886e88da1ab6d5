import { Paper, SimpleGrid, Table, Title } from '@mantine/core';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useApi } from '../../app/use-api';
import { Empty, ErrorAlert, formatDuration, Freshness, PageHeader } from '../../app/ui';
import { SAGA_STATUSES } from '../sagas/saga-constants';

const STATUS_FILL: Record<string, string> = {
  SCHEDULED: '#15aabf',
  RUNNING: '#228be6',
  SUSPENDED: '#fd7e14',
  COMPLETED: '#40c057',
  COMPENSATING: '#fab005',
  COMPENSATED: '#868e96',
  COMPENSATION_FAILED: '#fa5252',
};

/** Saga stats as charts (GET /v1/stats/sagas): counts by type and status, p50 / p95 by type. */
export default function StatsPage() {
  const stats = useApi((api, signal) => api.get('/v1/stats/sagas', { signal }), [], { pollMs: 5000 });
  const byType = new Map<string, Record<string, number | string>>();
  for (const c of stats.data?.byTypeAndStatus ?? []) {
    const row = byType.get(c.type) ?? { type: c.type };
    row[c.status] = c.count;
    byType.set(c.type, row);
  }
  const counts = [...byType.values()];
  const present = SAGA_STATUSES.filter((s) => counts.some((r) => r[s] !== undefined));
  const durations = (stats.data?.durations ?? []).map((d) => ({ type: d.type, p50: d.p50Ms ?? 0, p95: d.p95Ms ?? 0, finished: d.finished }));
  return (
    <div>
      <PageHeader title="Saga stats" subtitle="From the saga_stats read model." right={<Freshness updatedAt={stats.updatedAt} loading={stats.loading} live />} />
      <ErrorAlert error={stats.error} />
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Paper withBorder p="md" data-testid="chart-counts">
          <Title order={4} mb="sm">Sagas by type and status</Title>
          {counts.length ? (
            <ResponsiveContainer width="100%" height={300}>
              <BarChart data={counts}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="type" />
                <YAxis allowDecimals={false} />
                <Tooltip />
                <Legend />
                {present.map((s) => (
                  <Bar key={s} dataKey={s} stackId="n" fill={STATUS_FILL[s]} isAnimationActive={false} />
                ))}
              </BarChart>
            </ResponsiveContainer>
          ) : (
            <Empty>No saga yet.</Empty>
          )}
        </Paper>
        <Paper withBorder p="md" data-testid="chart-durations">
          <Title order={4} mb="sm">Duration by type (finished sagas)</Title>
          {durations.length ? (
            <ResponsiveContainer width="100%" height={300}>
              <BarChart data={durations}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="type" />
                <YAxis tickFormatter={(v: number) => formatDuration(v)} width={70} />
                <Tooltip formatter={(v) => formatDuration(Number(v))} />
                <Legend />
                <Bar dataKey="p50" name="p50" fill="#4dabf7" isAnimationActive={false} />
                <Bar dataKey="p95" name="p95" fill="#1864ab" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          ) : (
            <Empty>No finished saga yet.</Empty>
          )}
        </Paper>
      </SimpleGrid>
      <Paper withBorder p="md" mt="md">
        <Table data-testid="durations-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Type</Table.Th>
              <Table.Th ta="right">Finished</Table.Th>
              <Table.Th ta="right">p50</Table.Th>
              <Table.Th ta="right">p95</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(stats.data?.durations ?? []).map((d) => (
              <Table.Tr key={d.type}>
                <Table.Td>{d.type}</Table.Td>
                <Table.Td ta="right">{d.finished}</Table.Td>
                <Table.Td ta="right">{formatDuration(d.p50Ms)}</Table.Td>
                <Table.Td ta="right">{formatDuration(d.p95Ms)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Paper>
    </div>
  );
}
