import { Button, Group, Paper, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { Link } from '../../app/router';
import { useApi } from '../../app/use-api';
import { Ago, Empty, ErrorAlert, PageHeader } from '../../app/ui';

/** Stored, versioned task workflows (GET /v1/workflow-definitions). */
export function DefinitionsPage() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const list = useApi((api, signal) => api.get('/v1/workflow-definitions', { query: { cursor, limit: 50 }, signal }), [cursor]);
  const items = list.data?.items ?? [];
  return (
    <div>
      <PageHeader title="Workflow definitions" subtitle="Submitted once, started many times by name; versions never change." />
      <ErrorAlert error={list.error} />
      <Paper withBorder>
        {items.length ? (
          <Table striped data-testid="definitions-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Latest version</Table.Th>
                <Table.Th>Description</Table.Th>
                <Table.Th>Updated</Table.Th>
                <Table.Th>Sagas</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((d) => (
                <Table.Tr key={d.name}>
                  <Table.Td><Link to={`/definitions/${encodeURIComponent(d.name)}`} ff="monospace">{d.name}</Link></Table.Td>
                  <Table.Td>v{d.latestVersion}</Table.Td>
                  <Table.Td><Text size="sm">{d.description ?? ''}</Text></Table.Td>
                  <Table.Td><Ago at={d.updatedAt} /></Table.Td>
                  <Table.Td><Link to={`/sagas?definition=${encodeURIComponent(d.name)}`} size="sm">sagas started from it</Link></Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : (
          <Empty>{list.data ? 'No workflow definition.' : 'Loading…'}</Empty>
        )}
      </Paper>
      <Group justify="flex-end" mt="sm">
        <Button size="xs" variant="default" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>Previous</Button>
        <Button size="xs" variant="default" disabled={!list.data?.nextCursor} onClick={() => setCursors([...cursors, list.data?.nextCursor])}>Next</Button>
      </Group>
    </div>
  );
}
