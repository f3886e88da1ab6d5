import { useEffect, useState } from 'react';
import { Alert, Button, Group, Paper, Progress, Table, Text } from '@mantine/core';
import { ApiError, describeError } from '../../api/client';
import { useSession } from '../../app/session';
import { useApi } from '../../app/use-api';
import { Empty, ErrorAlert, formatDuration, Freshness, PageHeader, StatusBadge } from '../../app/ui';
import { addSample, rebuildPercent, RebuildTrack, startTrack, trail } from './rebuild-progress';

const IDLE_POLL_MS = 3000;
const REBUILD_POLL_MS = 400;

/**
 * Read models with position, lag and status (GET /v1/projections, operator). Rebuild (admin)
 * starts POST /v1/projections/{name}/rebuild and follows it here until LIVE.
 */
export function ProjectionsPage() {
  const session = useSession();
  const [tracks, setTracks] = useState<Record<string, RebuildTrack>>({});
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const rebuilding = Object.values(tracks).some((t) => !t.finishedAt);
  const list = useApi((api, signal) => api.get('/v1/projections', { signal }), [], { pollMs: rebuilding ? REBUILD_POLL_MS : IDLE_POLL_MS });

  useEffect(() => {
    if (!list.data) return;
    const now = Date.now();
    setTracks((prev) => {
      let next = prev;
      for (const p of list.data!) {
        const t = prev[p.name];
        if (t && !t.finishedAt && now >= t.startedAt) next = { ...next, [p.name]: addSample(t, now, p) };
      }
      return next;
    });
  }, [list.data]);

  const rebuild = async (name: string) => {
    setBusy(name);
    setError(undefined);
    try {
      const status = await session.api.post('/v1/projections/{name}/rebuild', { params: { name } });
      setTracks((prev) => ({ ...prev, [name]: startTrack(Date.now(), status) }));
      list.reload();
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) session.markNotAdmin();
      setError(`${name}: ${describeError(err)}`);
    } finally {
      setBusy(undefined);
    }
  };

  const items = list.data ?? [];
  const canRebuild = !session.notAdmin;
  return (
    <div>
      <PageHeader
        title="Projections"
        subtitle="Read models derived from the event store; each can be rebuilt from zero while the API keeps answering."
        right={<Freshness updatedAt={list.updatedAt} loading={list.loading} live />}
      />
      <ErrorAlert error={list.error} />
      {error ? (
        <Alert color="red" mb="md" title="Rebuild refused" withCloseButton onClose={() => setError(undefined)} data-testid="rebuild-error">
          {error}
        </Alert>
      ) : null}
      {canRebuild ? null : (
        <Text size="sm" c="dimmed" mb="sm">
          Rebuilds need an admin key.
        </Text>
      )}
      <Paper withBorder>
        {items.length ? (
          <Table verticalSpacing="sm" data-testid="projections-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Projection</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th ta="right">Position</Table.Th>
                <Table.Th ta="right">Lag</Table.Th>
                <Table.Th w={360}>Rebuild</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((p) => {
                const t = tracks[p.name];
                return (
                  <Table.Tr key={p.name} data-projection={p.name} data-status={p.status}>
                    <Table.Td ff="monospace">{p.name}</Table.Td>
                    <Table.Td>
                      <StatusBadge status={p.status} />
                      {p.lastError ? (
                        <Text size="xs" c="red">
                          {p.lastError}
                        </Text>
                      ) : null}
                    </Table.Td>
                    <Table.Td ta="right">{p.position}</Table.Td>
                    <Table.Td ta="right" fw={p.lag ? 700 : undefined}>
                      {p.lag}
                    </Table.Td>
                    <Table.Td>
                      {t ? (
                        <div data-testid="rebuild-progress" data-projection={p.name} data-finished={t.finishedAt ? 'true' : 'false'} data-trail={trail(t)}>
                          <Progress value={rebuildPercent(t)} animated={!t.finishedAt} color={t.finishedAt ? 'green' : 'blue'} size="lg" />
                          <Text size="xs" c="dimmed" mt={2}>
                            {trail(t)}
                            {t.finishedAt
                              ? ` · rebuilt in ${formatDuration(t.finishedAt - t.startedAt)}`
                              : ` · ${rebuildPercent(t)}% · lag ${t.samples[t.samples.length - 1].lag} events`}
                          </Text>
                        </div>
                      ) : null}
                      {canRebuild && (!t || t.finishedAt) ? (
                        <Button
                          size="xs"
                          variant="light"
                          mt={t ? 4 : 0}
                          loading={busy === p.name}
                          disabled={p.status === 'REBUILDING'}
                          onClick={() => void rebuild(p.name)}
                          data-testid={`rebuild-${p.name}`}
                        >
                          Rebuild from zero
                        </Button>
                      ) : null}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        ) : (
          <Empty>{list.data ? 'No asynchronous projection.' : 'Loading…'}</Empty>
        )}
      </Paper>
    </div>
  );
}
