import { useState } from 'react';
import { Alert, Button, Card, Group, Paper, Select, SimpleGrid, Switch, Text, TextInput } from '@mantine/core';
import { Schemas } from '../../api/client';
import { Link, setQuery, useLocation } from '../../app/router';
import { useApi } from '../../app/use-api';
import { ErrorAlert, Freshness, PageHeader, StatusBadge } from '../../app/ui';
import { NEEDS_OPERATOR, SAGA_STATUSES, SAGA_TYPES } from './saga-constants';
import { SagasTable } from './sagas-table';

type SagaType = (typeof SAGA_TYPES)[number];
type SagaStatus = (typeof SAGA_STATUSES)[number];
const PAGE = 25;
const POLL_MS = 3000;

/** Counts by status, summed over types (GET /v1/stats/sagas). */
function countsByStatus(stats: Schemas['SagaStatsDto'] | undefined): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of stats?.byTypeAndStatus ?? []) m.set(c.status, (m.get(c.status) ?? 0) + c.count);
  return m;
}

/** The landing page: the sagas with filters, counts by status, paging and live refresh. */
export function SagasPage() {
  const loc = useLocation();
  const type = (loc.query.get('type') ?? undefined) as SagaType | undefined;
  const status = (loc.query.get('status') ?? undefined) as SagaStatus | undefined;
  const definition = loc.query.get('definition') ?? undefined;
  const cursor = loc.query.get('cursor') ?? undefined;
  const [live, setLive] = useState(true);
  // Cursors of the pages before this one, for "Previous".
  const [trail, setTrail] = useState<(string | undefined)[]>([]);
  const [definitionDraft, setDefinitionDraft] = useState(definition ?? '');

  const list = useApi(
    (api, signal) => api.get('/v1/sagas', { query: { type, status, definition, cursor, limit: PAGE }, signal }),
    [type, status, definition, cursor],
    { pollMs: live ? POLL_MS : undefined },
  );
  const stats = useApi((api, signal) => api.get('/v1/stats/sagas', { signal }), [], { pollMs: live ? POLL_MS : undefined });
  const counts = countsByStatus(stats.data);
  const waiting = NEEDS_OPERATOR.reduce((n, s) => n + (counts.get(s) ?? 0), 0);

  const filter = (changes: Record<string, string | undefined | null>) => {
    setTrail([]);
    setQuery(loc, { ...changes, cursor: undefined });
  };

  return (
    <div>
      <PageHeader
        title="Sagas"
        subtitle="Newest first. Filter by type, status or stored workflow definition."
        right={
          <Group>
            <Switch label="Live refresh" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} data-testid="live-toggle" />
            <Freshness updatedAt={list.updatedAt} loading={list.loading} live={live} />
          </Group>
        }
      />

      <Alert
        color={waiting ? 'red' : 'green'}
        mb="md"
        data-testid="failures-banner"
        title={waiting ? `${waiting} saga${waiting === 1 ? '' : 's'} wait for an operator` : 'No saga waits for an operator'}
      >
        <Group justify="space-between">
          <Text size="sm">
            {waiting
              ? `${counts.get('COMPENSATION_FAILED') ?? 0} with a failed compensation, ${counts.get('SUSPENDED') ?? 0} suspended.`
              : 'Compensations that fail for good and suspended sagas show up in the failures inbox.'}
          </Text>
          <Link to="/failures" fw={600} data-testid="open-failures">
            Open the failures inbox →
          </Link>
        </Group>
      </Alert>

      <SimpleGrid cols={{ base: 3, sm: 4, lg: 7 }} mb="md" data-testid="status-counts">
        {SAGA_STATUSES.map((s) => (
          <Card
            key={s}
            withBorder
            padding="xs"
            style={{ cursor: 'pointer', outline: status === s ? '2px solid var(--mantine-color-blue-5)' : undefined }}
            onClick={() => filter({ status: status === s ? undefined : s })}
            data-testid={`count-${s}`}
          >
            <Text size="xl" fw={700}>
              {stats.data ? (counts.get(s) ?? 0) : '…'}
            </Text>
            <StatusBadge status={s} size="xs" />
          </Card>
        ))}
      </SimpleGrid>

      <Paper withBorder p="sm" mb="md">
        <Group align="flex-end">
          <Select
            label="Type"
            placeholder="any"
            clearable
            data={[...SAGA_TYPES]}
            value={type ?? null}
            onChange={(v) => filter({ type: v })}
            w={220}
            data-testid="filter-type"
          />
          <Select
            label="Status"
            placeholder="any"
            clearable
            data={[...SAGA_STATUSES]}
            value={status ?? null}
            onChange={(v) => filter({ status: v })}
            w={220}
            data-testid="filter-status"
          />
          <form
            onSubmit={(e) => {
              e.preventDefault();
              filter({ definition: definitionDraft.trim() || undefined });
            }}
          >
            <TextInput
              label="Definition"
              placeholder="stored workflow name"
              value={definitionDraft}
              onChange={(e) => setDefinitionDraft(e.currentTarget.value)}
              onBlur={() => filter({ definition: definitionDraft.trim() || undefined })}
              w={220}
              data-testid="filter-definition"
            />
          </form>
          {type || status || definition ? (
            <Button variant="subtle" onClick={() => { setDefinitionDraft(''); filter({ type: undefined, status: undefined, definition: undefined }); }}>
              Clear filters
            </Button>
          ) : null}
        </Group>
      </Paper>

      <ErrorAlert error={list.error} />
      <Paper withBorder>
        <SagasTable items={list.data?.items ?? []} empty={list.loading && !list.data ? 'Loading…' : 'No saga matches.'} />
      </Paper>
      <Group justify="space-between" mt="sm">
        <Text size="sm" c="dimmed">
          Page {trail.length + 1}
        </Text>
        <Group>
          <Button
            variant="default"
            size="xs"
            disabled={!trail.length}
            onClick={() => {
              const prev = trail[trail.length - 1];
              setTrail(trail.slice(0, -1));
              setQuery(loc, { cursor: prev });
            }}
            data-testid="page-prev"
          >
            Previous
          </Button>
          <Button
            variant="default"
            size="xs"
            disabled={!list.data?.nextCursor}
            onClick={() => {
              setTrail([...trail, cursor]);
              setQuery(loc, { cursor: list.data?.nextCursor });
            }}
            data-testid="page-next"
          >
            Next
          </Button>
        </Group>
      </Group>
    </div>
  );
}
