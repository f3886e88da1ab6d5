import { Badge, Card, Group, Loader, Paper, SimpleGrid, Table, Text, Title } from '@mantine/core';
import { Link } from '../../app/router';
import { useApi } from '../../app/use-api';
import { Ago, Empty, ErrorAlert, Freshness, PageHeader, StatusBadge } from '../../app/ui';

/** One agent (GET /v1/agents/{id}): spec, scaling, desired instances, instances with health. */
export function AgentPage(props: { agentId: string }) {
  const { agentId } = props;
  const agent = useApi((api, signal) => api.get('/v1/agents/{agentId}', { params: { agentId }, signal }), [agentId], { pollMs: 3000 });
  if (agent.error && !agent.data) return <ErrorAlert error={agent.error} title="Cannot load this agent" />;
  const a = agent.data;
  if (!a) return <Loader />;
  return (
    <div>
      <PageHeader
        title={`Agent ${a.name}`}
        subtitle={`${a.type} · ${a.agentId}`}
        right={
          <Group>
            <StatusBadge status={a.status} size="lg" />
            <Freshness updatedAt={agent.updatedAt} loading={agent.loading} live />
          </Group>
        }
      />
      <SimpleGrid cols={{ base: 2, md: 4 }} mb="md">
        <Card withBorder padding="sm">
          <Text size="xs" c="dimmed">Scaling</Text>
          <Text fw={600}>{a.scaling.strategy}</Text>
          <Text size="sm">min {a.scaling.min} · max {a.scaling.max}</Text>
        </Card>
        <Card withBorder padding="sm">
          <Text size="xs" c="dimmed">Desired instances</Text>
          <Text fw={600} size="xl">{a.desiredInstances}</Text>
        </Card>
        <Card withBorder padding="sm">
          <Text size="xs" c="dimmed">Resources per instance</Text>
          <Text>{a.resources.cpuMillis} mCPU · {a.resources.memoryMb} MB</Text>
        </Card>
        <Card withBorder padding="sm">
          <Text size="xs" c="dimmed">Provisioning saga</Text>
          {a.sagaId ? <Link to={`/sagas/${a.sagaId}`} ff="monospace">{a.sagaId.slice(0, 8)}</Link> : <Text>—</Text>}
        </Card>
      </SimpleGrid>
      <Paper withBorder p="md" mb="md">
        <Group gap={6} mb="xs">
          <Text size="sm" fw={600}>Capabilities</Text>
          {a.capabilities.map((c) => <Badge key={c} variant="outline">{c}</Badge>)}
          <Text size="sm" fw={600} ml="md">Permissions</Text>
          {a.permissions.map((p) => <Badge key={p} variant="light" color="gray">{p}</Badge>)}
        </Group>
      </Paper>
      <Paper withBorder p="md">
        <Title order={4} mb="xs">Instances</Title>
        {a.instances.length ? (
          <Table data-testid="instances-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Instance</Table.Th>
                <Table.Th>Health</Table.Th>
                <Table.Th>Last heartbeat</Table.Th>
                <Table.Th>CPU</Table.Th>
                <Table.Th>Memory</Table.Th>
                <Table.Th>In flight</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {a.instances.map((i) => (
                <Table.Tr key={i.instanceId}>
                  <Table.Td ff="monospace">{i.instanceId}</Table.Td>
                  <Table.Td><StatusBadge status={i.status} /></Table.Td>
                  <Table.Td><Ago at={i.lastHeartbeatAt} /></Table.Td>
                  <Table.Td>{i.load?.cpuPercent !== undefined ? `${i.load.cpuPercent}%` : '—'}</Table.Td>
                  <Table.Td>{i.load?.memoryMb !== undefined ? `${i.load.memoryMb} MB` : '—'}</Table.Td>
                  <Table.Td>{i.load?.inFlight ?? '—'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : (
          <Empty>No instance has sent a heartbeat.</Empty>
        )}
      </Paper>
    </div>
  );
}
