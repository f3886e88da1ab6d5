import { Code, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { Schemas } from '../../api/client';
import { Link } from '../../app/router';
import { useApi } from '../../app/use-api';
import { Ago, Empty, ErrorAlert, Freshness, PageHeader, shortId, StatusBadge } from '../../app/ui';
import { failingStep } from '../saga/operator-actions';

type Summary = Schemas['SagaSummaryDto'];
const POLL_MS = 3000;

function Inbox(props: { status: 'COMPENSATION_FAILED' | 'SUSPENDED'; title: string; hint: string }) {
  const list = useApi((api, signal) => api.get('/v1/sagas', { query: { status: props.status, limit: 100 }, signal }), [props.status], { pollMs: POLL_MS });
  const items: Summary[] = list.data?.items ?? [];
  return (
    <Paper withBorder p="md" data-testid={`inbox-${props.status}`}>
      <Stack gap="xs">
        <div style={{ display: 'flex', justifyContent: 'space-between' }}>
          <div>
            <Title order={4}>
              {props.title} ({items.length}
              {list.data?.nextCursor ? '+' : ''})
            </Title>
            <Text size="sm" c="dimmed">
              {props.hint}
            </Text>
          </div>
          <Freshness updatedAt={list.updatedAt} loading={list.loading} live />
        </div>
        <ErrorAlert error={list.error} />
        {items.length ? (
          <Table highlightOnHover verticalSpacing={6}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Saga</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Failing step</Table.Th>
                <Table.Th>Error</Table.Th>
                <Table.Th>Since</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((s) => {
                const step = failingStep(s.status, s.steps);
                return (
                  <Table.Tr key={s.sagaId} data-saga-id={s.sagaId} data-testid="inbox-row">
                    <Table.Td>
                      <Link to={`/sagas/${s.sagaId}`} ff="monospace" title={s.sagaId} data-testid="inbox-open">
                        {shortId(s.sagaId)}
                      </Link>
                    </Table.Td>
                    <Table.Td>
                      {s.type}
                      {s.definition ? <Text size="xs" c="dimmed">{`${s.definition.name} v${s.definition.version}`}</Text> : null}
                    </Table.Td>
                    <Table.Td>
                      <StatusBadge status={s.status} />
                    </Table.Td>
                    <Table.Td>
                      <Code>{step?.name ?? s.failedStep ?? '?'}</Code>
                    </Table.Td>
                    <Table.Td maw={420}>
                      <Text size="sm" c="red.8" data-testid="inbox-error">
                        {step?.error ?? '—'}
                        {step?.errorCode ? ` (${step.errorCode})` : ''}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Ago at={s.updatedAt} />
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        ) : (
          <Empty>{list.data ? 'Nothing here.' : 'Loading…'}</Empty>
        )}
      </Stack>
    </Paper>
  );
}

/** Sagas that wait for an operator, with the step that failed and its error. */
export function FailuresPage() {
  return (
    <div>
      <PageHeader title="Failures inbox" subtitle="Sagas that wait for an operator. Open one to retry, skip, resume, compensate or cancel it." />
      <Stack>
        <Inbox status="COMPENSATION_FAILED" title="Compensation failed" hint="A compensation failed after all its attempts: retry it, or skip it once the effect is undone by hand." />
        <Inbox status="SUSPENDED" title="Suspended" hint="A step failed for good in a saga started with onFailure: suspend: resume it (optionally with a corrected config) or compensate it." />
      </Stack>
    </div>
  );
}
