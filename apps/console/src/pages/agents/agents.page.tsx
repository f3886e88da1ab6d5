import { useState } from 'react';
import { Badge, Button, Group, Paper, Select, Table, Text, TextInput } from '@mantine/core';
import { Link } from '../../app/router';
import { useApi } from '../../app/use-api';
import { Ago, Empty, ErrorAlert, Freshness, PageHeader, shortId, StatusBadge } from '../../app/ui';

const STATUSES = ['PROVISIONING', 'ACTIVE', 'DECOMMISSIONED'] as const;

/** Provisioned agents (GET /v1/agents), paged; each opens its instances and health. */
export function AgentsPage() {
  const [status, setStatus] = useState<(typeof STATUSES)[number] | undefined>();
  const [capability, setCapability] = useState('');
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const list = useApi(
    (api, signal) => api.get('/v1/agents', { query: { status, capability: capability.trim() || undefined, cursor, limit: 50 }, signal }),
    [status, capability, cursor],
    { pollMs: 5000 },
  );
  const items = list.data?.items ?? [];
  return (
    <div>
      <PageHeader title="Agents" subtitle="Provisioned agents; open one for its instances, their health and last heartbeat." right={<Freshness updatedAt={list.updatedAt} loading={list.loading} live />} />
      <Paper withBorder p="sm" mb="md">
        <Group align="flex-end">
          <Select label="Status" placeholder="any" clearable data={[...STATUSES]} value={status ?? null} onChange={(v) => { setCursors([undefined]); setStatus((v ?? undefined) as typeof status); }} w={200} />
          <TextInput label="Capability" placeholder="any" value={capability} onChange={(e) => { setCursors([undefined]); setCapability(e.currentTarget.value); }} w={200} />
        </Group>
      </Paper>
      <ErrorAlert error={list.error} />
      <Paper withBorder>
        {items.length ? (
          <Table striped highlightOnHover data-testid="agents-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Capabilities</Table.Th>
                <Table.Th>Resources</Table.Th>
                <Table.Th>Provisioning saga</Table.Th>
                <Table.Th>Updated</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((a) => (
                <Table.Tr key={a.agentId}>
                  <Table.Td>
                    <Link to={`/agents/${a.agentId}`}>{a.name}</Link>
                  </Table.Td>
                  <Table.Td>{a.type}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={a.status} />
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {a.capabilities.map((c) => (
                        <Badge key={c} variant="outline" size="sm">
                          {c}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {a.resources.cpuMillis} mCPU · {a.resources.memoryMb} MB
                    </Text>
                  </Table.Td>
                  <Table.Td>{a.sagaId ? <Link to={`/sagas/${a.sagaId}`} ff="monospace">{shortId(a.sagaId)}</Link> : '—'}</Table.Td>
                  <Table.Td>
                    <Ago at={a.updatedAt} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : (
          <Empty>{list.data ? 'No agent.' : 'Loading…'}</Empty>
        )}
      </Paper>
      <Group justify="flex-end" mt="sm">
        <Button size="xs" variant="default" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </Button>
        <Button size="xs" variant="default" disabled={!list.data?.nextCursor} onClick={() => setCursors([...cursors, list.data?.nextCursor])}>
          Next
        </Button>
      </Group>
    </div>
  );
}
