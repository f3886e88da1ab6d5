import { Progress, Table, Text } from '@mantine/core';
import { Schemas } from '../../api/client';
import { Link } from '../../app/router';
import { Ago, Empty, formatDuration, shortId, StatusBadge } from '../../app/ui';

type Summary = Schemas['SagaSummaryDto'];

export function progressOf(s: Summary): number {
  const total = s.steps.length;
  const done = s.steps.filter((st) => st.status === 'SUCCEEDED' || st.status === 'SKIPPED').length;
  return total ? Math.round((done / total) * 100) : 0;
}

export function SagasTable(props: { items: Summary[]; empty?: string }) {
  if (!props.items.length) return <Empty>{props.empty ?? 'No sagas.'}</Empty>;
  return (
    <Table striped highlightOnHover verticalSpacing={6} data-testid="sagas-table">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Saga</Table.Th>
          <Table.Th>Type</Table.Th>
          <Table.Th>Definition</Table.Th>
          <Table.Th>Status</Table.Th>
          <Table.Th>Progress</Table.Th>
          <Table.Th>Failed step</Table.Th>
          <Table.Th>Started</Table.Th>
          <Table.Th>Duration</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {props.items.map((s) => (
          <Table.Tr key={s.sagaId} data-saga-id={s.sagaId}>
            <Table.Td>
              <Link to={`/sagas/${s.sagaId}`} ff="monospace" title={s.sagaId}>
                {shortId(s.sagaId)}
              </Link>
            </Table.Td>
            <Table.Td>{s.type}</Table.Td>
            <Table.Td>{s.definition ? `${s.definition.name} v${s.definition.version}` : <Text span c="dimmed">—</Text>}</Table.Td>
            <Table.Td>
              <StatusBadge status={s.status} />
            </Table.Td>
            <Table.Td w={120}>
              <Progress value={progressOf(s)} size="sm" />
            </Table.Td>
            <Table.Td>{s.failedStep ?? <Text span c="dimmed">—</Text>}</Table.Td>
            <Table.Td>
              <Ago at={s.startedAt} />
            </Table.Td>
            <Table.Td>{formatDuration(s.durationMs ?? (s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : undefined))}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
