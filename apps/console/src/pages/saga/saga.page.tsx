import { useEffect, useRef, useState } from 'react';
import { Alert, Badge, Button, Card, Code, Group, Loader, Paper, Progress, SimpleGrid, Stack, Table, Tabs, Text, Title } from '@mantine/core';
import { Schemas } from '../../api/client';
import { Link } from '../../app/router';
import { useSession } from '../../app/session';
import { useApi } from '../../app/use-api';
import { Actor, Empty, ErrorAlert, formatDuration, Json, PageHeader, StatusBadge, Time } from '../../app/ui';
import { ActionDialog } from './action-dialog';
import { availableActions, failingStep, SagaAction, taskConfigOf } from './operator-actions';
import { SagaTimeline } from './saga-timeline';
import { LiveState, SagaEvent, useSagaLive } from './use-saga-live';

type SagaView = Schemas['SagaViewDto'];

const LIVE_LABEL: Record<LiveState, [string, string]> = {
  connecting: ['connecting…', 'gray'],
  live: ['live', 'green'],
  waiting: ['waiting for an operator', 'orange'],
  ended: ['finished', 'gray'],
  error: ['reconnecting…', 'red'],
};

const ACTION_LABEL: Record<SagaAction, string> = {
  retry: 'Retry compensation',
  skip: 'Skip compensation',
  cancel: 'Cancel',
  resume: 'Resume',
  compensate: 'Compensate',
};

function CompensationLog(props: { entries: Schemas['CompensationEntryDto'][] }) {
  if (!props.entries.length) return <Empty>No compensation has run.</Empty>;
  return (
    <Table verticalSpacing={4} data-testid="compensation-log">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>At</Table.Th>
          <Table.Th>Step</Table.Th>
          <Table.Th>Status</Table.Th>
          <Table.Th>Attempt</Table.Th>
          <Table.Th>Error</Table.Th>
          <Table.Th>Actor</Table.Th>
          <Table.Th>Reason</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {props.entries.map((e, i) => (
          <Table.Tr key={i} data-testid="compensation-entry" data-status={e.status} data-step={e.step}>
            <Table.Td style={{ whiteSpace: 'nowrap' }}>
              <Time at={e.at} />
            </Table.Td>
            <Table.Td ff="monospace">{e.step}</Table.Td>
            <Table.Td style={{ whiteSpace: 'nowrap' }}>
              <StatusBadge status={e.status} />
            </Table.Td>
            <Table.Td>{e.attempt}</Table.Td>
            <Table.Td c="red.8">{e.error ?? ''}</Table.Td>
            <Table.Td>
              <Actor actor={e.actor} />
            </Table.Td>
            <Table.Td>{e.reason ?? ''}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function StepsTable(props: { saga: SagaView }) {
  return (
    <Table verticalSpacing={6} data-testid="steps-table">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Step</Table.Th>
          <Table.Th>Status</Table.Th>
          <Table.Th>Attempts</Table.Th>
          <Table.Th>Started</Table.Th>
          <Table.Th>Took</Table.Th>
          <Table.Th>Output / error</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {props.saga.steps.map((s) => (
          <Table.Tr key={s.name} data-step={s.name}>
            <Table.Td ff="monospace">{s.name}</Table.Td>
            <Table.Td>
              <StatusBadge status={s.status} />
              {s.progress ? <Progress value={s.progress.percent} size="xs" mt={4} title={s.progress.message} /> : null}
              {s.waitingFor ? <Text size="xs">waits for signal {s.waitingFor.signal}</Text> : null}
              {s.queue ? <Text size="xs">queue {s.queue.capability}{s.queue.agentId ? ` · agent ${s.queue.agentId.slice(0, 8)}` : ''}</Text> : null}
            </Table.Td>
            <Table.Td>{s.attempts}</Table.Td>
            <Table.Td>
              <Time at={s.startedAt} />
            </Table.Td>
            <Table.Td>{s.startedAt && s.finishedAt ? formatDuration(Date.parse(s.finishedAt) - Date.parse(s.startedAt)) : '—'}</Table.Td>
            <Table.Td maw={480}>
              {s.error ? (
                <Text size="sm" c="red.8">
                  {s.error}
                  {s.errorCode ? ` (${s.errorCode})` : ''}
                </Text>
              ) : null}
              {s.output !== undefined ? <Json value={s.output} maxHeight={160} /> : null}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function RawEvents(props: { events: SagaEvent[] }) {
  return (
    <Table verticalSpacing={4} data-testid="raw-events">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>v</Table.Th>
          <Table.Th>Type</Table.Th>
          <Table.Th>Recorded</Table.Th>
          <Table.Th>Actor</Table.Th>
          <Table.Th>Data</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {props.events.map((e) => (
          <Table.Tr key={e.version}>
            <Table.Td>{e.version}</Table.Td>
            <Table.Td ff="monospace">{e.type}</Table.Td>
            <Table.Td>
              <Time at={e.recordedAt} />
            </Table.Td>
            <Table.Td>
              <Actor actor={e.metadata.actor} />
            </Table.Td>
            <Table.Td>
              <details>
                <summary style={{ cursor: 'pointer', fontSize: 12 }}>{JSON.stringify(e.data).slice(0, 90)}</summary>
                <Json value={{ ...e }} maxHeight={260} />
              </details>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** One saga: status, progress, timeline (live), operator actions, compensation log, data, raw events. */
export function SagaPage(props: { sagaId: string }) {
  const session = useSession();
  const { sagaId } = props;
  const live = useSagaLive(sagaId);
  const view = useApi((api, signal) => api.get('/v1/sagas/{sagaId}', { params: { sagaId }, signal }), [sagaId]);
  const comps = useApi((api, signal) => api.get('/v1/sagas/{sagaId}/compensations', { params: { sagaId }, signal }), [sagaId]);
  const [saga, setSaga] = useState<SagaView | undefined>();
  const [dialog, setDialog] = useState<SagaAction | undefined>();
  const [notice, setNotice] = useState<string | undefined>();

  useEffect(() => {
    if (view.data) setSaga((prev) => (prev && prev.version > view.data!.version ? prev : view.data));
  }, [view.data]);

  // Each event from the stream changes the saga: read its view and compensation log again (coalesced).
  const reloadView = view.reload;
  const reloadComps = comps.reload;
  const lastSeen = useRef(-1);
  const lastVersion = live.events.length ? live.events[live.events.length - 1].version : -1;
  useEffect(() => {
    if (lastVersion < 0 || lastVersion === lastSeen.current) return;
    const first = lastSeen.current < 0;
    lastSeen.current = lastVersion;
    if (first) return; // the initial loads already read this version
    const t = setTimeout(() => {
      reloadView();
      reloadComps();
    }, 120);
    return () => clearTimeout(t);
  }, [lastVersion, reloadView, reloadComps]);

  if (view.error && !saga) {
    return (
      <div>
        <PageHeader title="Saga" subtitle={sagaId} />
        <ErrorAlert error={view.error} title="Cannot load this saga" />
      </div>
    );
  }
  if (!saga) return <Loader />;

  const actions = availableActions(saga.status, session.role);
  const failing = failingStep(saga.status, saga.steps);
  const [liveLabel, liveColor] = LIVE_LABEL[live.state];
  const took = saga.finishedAt ? Date.parse(saga.finishedAt) - Date.parse(saga.startedAt) : undefined;

  return (
    <div>
      <PageHeader
        title={
          <Group gap="sm">
            <span>Saga</span>
            <Code fz="lg" title={saga.sagaId}>
              {saga.sagaId}
            </Code>
          </Group>
        }
        subtitle={
          <>
            {saga.type}
            {saga.definition ? (
              <>
                {' · '}
                <Link to={`/definitions/${encodeURIComponent(saga.definition.name)}`}>
                  {saga.definition.name} v{saga.definition.version}
                </Link>
              </>
            ) : null}
            {' · version '}
            {saga.version}
          </>
        }
        right={
          <Group gap="xs">
            <StatusBadge status={saga.status} size="lg" />
            <Badge variant="dot" color={liveColor} data-testid="live-state" data-state={live.state}>
              {liveLabel}
            </Badge>
          </Group>
        }
      />
      <span data-testid="saga-status" data-status={saga.status} hidden>
        {saga.status}
      </span>

      <SimpleGrid cols={{ base: 2, md: 4 }} mb="md">
        <Card withBorder padding="sm">
          <Text size="xs" c="dimmed">
            Progress
          </Text>
          <Text fw={600}>
            {saga.progress.completedSteps} / {saga.progress.totalSteps} steps ({saga.progress.percent}%)
          </Text>
          <Progress value={saga.progress.percent} mt={6} data-testid="saga-progress" />
        </Card>
        <Card withBorder padding="sm">
          <Text size="xs" c="dimmed">
            Started
          </Text>
          <Time at={saga.startedAt} />
        </Card>
        <Card withBorder padding="sm">
          <Text size="xs" c="dimmed">
            Finished
          </Text>
          <Time at={saga.finishedAt} />
        </Card>
        <Card withBorder padding="sm">
          <Text size="xs" c="dimmed">
            Duration
          </Text>
          <Text>{took !== undefined ? formatDuration(took) : saga.status === 'RUNNING' || saga.status === 'COMPENSATING' ? 'running' : 'not finished'}</Text>
        </Card>
      </SimpleGrid>

      {failing ? (
        <Alert color="red" mb="md" title={saga.status === 'COMPENSATION_FAILED' ? `The compensation of ${failing.name} failed` : `${failing.name} failed`} data-testid="failing-step">
          <Text size="sm" ff="monospace">
            {failing.error ?? 'no error text'}
            {failing.errorCode ? ` (${failing.errorCode})` : ''}
          </Text>
        </Alert>
      ) : null}

      {actions.length ? (
        <Paper withBorder p="sm" mb="md" data-testid="operator-actions">
          <Group>
            <Text size="sm" fw={600}>
              Operator actions
            </Text>
            {actions.map((a) => (
              <Button key={a} size="xs" variant={a === 'cancel' || a === 'compensate' ? 'light' : 'filled'} color={a === 'cancel' || a === 'compensate' ? 'red' : 'blue'} onClick={() => setDialog(a)} data-testid={`action-${a}`}>
                {a === 'skip' && failing ? `Skip compensation of ${failing.name}` : ACTION_LABEL[a]}
              </Button>
            ))}
          </Group>
        </Paper>
      ) : null}
      {notice ? (
        <Alert color="green" mb="md" withCloseButton onClose={() => setNotice(undefined)} data-testid="action-notice">
          {notice}
        </Alert>
      ) : null}

      <Paper withBorder p="md" mb="md">
        <Group justify="space-between" mb="xs">
          <Title order={4}>Timeline</Title>
          {live.error && live.state === 'error' ? <Text size="xs" c="red">{String((live.error as Error).message ?? live.error)}</Text> : null}
        </Group>
        <SagaTimeline events={live.events} />
      </Paper>

      <Paper withBorder p="md" mb="md">
        <Title order={4} mb="xs">
          Compensation log
        </Title>
        <ErrorAlert error={comps.error} />
        <CompensationLog entries={comps.data?.entries ?? []} />
      </Paper>

      <Paper withBorder p="md">
        <Tabs defaultValue="steps">
          <Tabs.List>
            <Tabs.Tab value="steps">Steps and outputs</Tabs.Tab>
            <Tabs.Tab value="input">Input</Tabs.Tab>
            <Tabs.Tab value="events" data-testid="tab-events">
              Raw events ({live.events.length})
            </Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="steps" pt="sm">
            <StepsTable saga={saga} />
          </Tabs.Panel>
          <Tabs.Panel value="input" pt="sm">
            <Json value={saga.input} maxHeight={480} testId="saga-input" />
          </Tabs.Panel>
          <Tabs.Panel value="events" pt="sm">
            <RawEvents events={live.events} />
          </Tabs.Panel>
        </Tabs>
      </Paper>

      {dialog ? (
        <ActionDialog
          action={dialog}
          saga={saga}
          defaultStep={failing?.name}
          defaultConfig={failing ? taskConfigOf(saga.input, failing.name) : undefined}
          onClose={() => setDialog(undefined)}
          onRefused={() => {
            // A refusal often means the saga moved on (another operator acted): show where it is now.
            reloadView();
            reloadComps();
            live.kick();
          }}
          onDone={(v) => {
            setDialog(undefined);
            setSaga(v);
            setNotice(`${ACTION_LABEL[dialog]}: accepted. The saga goes on below as it happens.`);
            live.kick();
            reloadComps();
          }}
        />
      ) : null}
    </div>
  );
}
