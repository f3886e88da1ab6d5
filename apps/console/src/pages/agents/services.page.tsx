import { Badge, Group, Paper, Select, Table } from '@mantine/core';
import { useState } from 'react';
import { Link } from '../../app/router';
import { useApi } from '../../app/use-api';
import { Ago, Empty, ErrorAlert, Freshness, PageHeader, StatusBadge } from '../../app/ui';

const HEALTH = ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'OFFLINE'] as const;

/** The service registry (GET /v1/services): each agent's service and its health. */
export function ServicesPage() {
  const [status, setStatus] = useState<(typeof HEALTH)[number] | undefined>();
  const list = useApi((api, signal) => api.get('/v1/services', { query: { status }, signal }), [status], { pollMs: 3000 });
  const items = list.data?.items ?? [];
  return (
    <div>
      <PageHeader title="Services" subtitle="The service registry: an agent's health is its best instance's." right={<Freshness updatedAt={list.updatedAt} loading={list.loading} live />} />
      <Paper withBorder p="sm" mb="md">
        <Select label="Health" placeholder="any" clearable data={[...HEALTH]} value={status ?? null} onChange={(v) => setStatus((v ?? undefined) as typeof status)} w={200} />
      </Paper>
      <ErrorAlert error={list.error} />
      <Paper withBorder>
        {items.length ? (
          <Table striped data-testid="services-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Service</Table.Th>
                <Table.Th>Health</Table.Th>
                <Table.Th>Capabilities</Table.Th>
                <Table.Th>Registered</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((s) => (
                <Table.Tr key={s.agentId}>
                  <Table.Td>
                    <Link to={`/agents/${s.agentId}`}>{s.name}</Link>
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={s.status} />
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {s.capabilities.map((c) => (
                        <Badge key={c} variant="outline" size="sm">
                          {c}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Ago at={s.registeredAt} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : (
          <Empty>{list.data ? 'No service registered.' : 'Loading…'}</Empty>
        )}
      </Paper>
    </div>
  );
}
