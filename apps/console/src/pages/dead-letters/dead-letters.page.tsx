import { useState } from 'react';
import { Alert, Button, Group, Paper, Table, Text, TextInput } from '@mantine/core';
import { describeError } from '../../api/client';
import { useSession } from '../../app/session';
import { useApi } from '../../app/use-api';
import { Ago, Empty, ErrorAlert, Freshness, Json, PageHeader } from '../../app/ui';

/** Messages whose deliveries kept failing (GET /v1/dead-letters), with replay (operator). */
export function DeadLettersPage() {
  const { api } = useSession();
  const [topic, setTopic] = useState('');
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const list = useApi((a, signal) => a.get('/v1/dead-letters', { query: { topic: topic.trim() || undefined, cursor, limit: 50 }, signal }), [topic, cursor], { pollMs: 5000 });
  const [replayed, setReplayed] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | undefined>();
  const items = list.data?.items ?? [];

  const replay = async (id: string) => {
    setError(undefined);
    try {
      const r = await api.post('/v1/dead-letters/{id}/replay', { params: { id } });
      setReplayed((m) => ({ ...m, [id]: `replayed to ${r.topic}` }));
    } catch (err) {
      setError(describeError(err));
    }
  };

  return (
    <div>
      <PageHeader title="Dead letters" subtitle="Messages the bus gave up delivering; replay one once its consumer is fixed." right={<Freshness updatedAt={list.updatedAt} loading={list.loading} live />} />
      <Paper withBorder p="sm" mb="md">
        <TextInput label="Topic" placeholder="any" value={topic} onChange={(e) => { setCursors([undefined]); setTopic(e.currentTarget.value); }} w={260} />
      </Paper>
      <ErrorAlert error={list.error} />
      {error ? <Alert color="red" mb="md" title="Replay refused">{error}</Alert> : null}
      <Paper withBorder>
        {items.length ? (
          <Table verticalSpacing="sm" data-testid="dead-letters-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Topic</Table.Th>
                <Table.Th>Reason</Table.Th>
                <Table.Th ta="right">Deliveries</Table.Th>
                <Table.Th>At</Table.Th>
                <Table.Th>Message</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((d) => (
                <Table.Tr key={d.id}>
                  <Table.Td ff="monospace">{d.topic}</Table.Td>
                  <Table.Td maw={300}><Text size="sm" c="red.8">{d.reason}</Text></Table.Td>
                  <Table.Td ta="right">{d.deliveries}</Table.Td>
                  <Table.Td><Ago at={d.at} /></Table.Td>
                  <Table.Td maw={420}>
                    <details>
                      <summary style={{ cursor: 'pointer', fontSize: 12 }}>{JSON.stringify(d.message.payload).slice(0, 80)}</summary>
                      <Json value={d.message} maxHeight={240} />
                    </details>
                  </Table.Td>
                  <Table.Td>
                    {replayed[d.id] ? <Text size="xs" c="green">{replayed[d.id]}</Text> : <Button size="xs" variant="light" onClick={() => void replay(d.id)}>Replay</Button>}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : (
          <Empty>{list.data ? 'No dead letter.' : 'Loading…'}</Empty>
        )}
      </Paper>
      <Group justify="flex-end" mt="sm">
        <Button size="xs" variant="default" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>Previous</Button>
        <Button size="xs" variant="default" disabled={!list.data?.nextCursor} onClick={() => setCursors([...cursors, list.data?.nextCursor])}>Next</Button>
      </Group>
    </div>
  );
}
