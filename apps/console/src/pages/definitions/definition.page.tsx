import { useEffect, useState } from 'react';
import { Badge, Group, Loader, Paper, SegmentedControl, Stack, Table, Text, Title } from '@mantine/core';
import { Link } from '../../app/router';
import { useApi } from '../../app/use-api';
import { ErrorAlert, Json, PageHeader, Time } from '../../app/ui';

/** One definition: its versions (GET /v1/workflow-definitions/{name}) and a version's body. */
export function DefinitionPage(props: { name: string }) {
  const { name } = props;
  const def = useApi((api, signal) => api.get('/v1/workflow-definitions/{name}', { params: { name }, signal }), [name]);
  const [version, setVersion] = useState<number | undefined>();
  useEffect(() => {
    if (def.data && version === undefined && def.data.versions.length) setVersion(Math.max(...def.data.versions.map((v) => v.version)));
  }, [def.data, version]);
  const body = useApi(
    (api, signal) => api.get('/v1/workflow-definitions/{name}/versions/{version}', { params: { name, version: version! }, signal }),
    [name, version],
    { enabled: version !== undefined },
  );
  if (def.error) return <ErrorAlert error={def.error} title="Cannot load this definition" />;
  if (!def.data) return <Loader />;
  return (
    <div>
      <PageHeader title={`Workflow ${name}`} subtitle={<Link to={`/sagas?definition=${encodeURIComponent(name)}`}>sagas started from it</Link>} />
      <Paper withBorder p="md">
        <Stack>
          <Group>
            <Text size="sm" fw={600}>Version</Text>
            <SegmentedControl
              data={def.data.versions.map((v) => ({ value: String(v.version), label: `v${v.version}` }))}
              value={version !== undefined ? String(version) : undefined}
              onChange={(v) => setVersion(Number(v))}
            />
          </Group>
          {body.data ? (
            <>
              <Group gap="xs">
                <Title order={5}>v{body.data.version}</Title>
                <Text size="sm" c="dimmed"><Time at={body.data.createdAt} /></Text>
                {body.data.onFailure ? <Badge variant="light">onFailure: {body.data.onFailure}</Badge> : null}
                {body.data.maxParallel ? <Badge variant="light">maxParallel {body.data.maxParallel}</Badge> : null}
              </Group>
              {body.data.description ? <Text size="sm">{body.data.description}</Text> : null}
              <Table>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Task</Table.Th>
                    <Table.Th>Handler</Table.Th>
                    <Table.Th>Depends on</Table.Th>
                    <Table.Th>Compensation</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {body.data.tasks.map((t) => (
                    <Table.Tr key={t.id}>
                      <Table.Td ff="monospace">{t.id}</Table.Td>
                      <Table.Td ff="monospace">{t.handler}</Table.Td>
                      <Table.Td>{t.dependsOn.join(', ') || '—'}</Table.Td>
                      <Table.Td ff="monospace">{t.compensation?.handler ?? '—'}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              <Json value={body.data} maxHeight={420} />
            </>
          ) : (
            <ErrorAlert error={body.error} />
          )}
        </Stack>
      </Paper>
    </div>
  );
}
