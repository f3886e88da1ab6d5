/**
 * Gap safety of the global log (DESIGN.md, "Event store"; gap-safety.ts).
 *
 * A reader pages the log by position and keeps a checkpoint. If a transaction that drew a lower
 * position commits after one that drew a higher position, a reader that already moved past the
 * higher one must still get the lower one. These specs hold transactions open on purpose so that
 * commits happen out of position order, and prove that `readAll` never skips an event, while the
 * naive "committed rows above my checkpoint" query does.
 */
import { randomUUID } from 'crypto';
import { PoolClient } from 'pg';
import { AppendResult, NewEvent } from '@app/event-store';
import { useStoreDatabase } from '../testing/append-fixtures';
import { delay, openConnections, waitFor } from '../testing/wait-for';

jest.setTimeout(60_000);

const tenantId = 'tenant-gap';
const PAGE_SIZE = 7;
const NAIVE_SQL = 'select global_position, event_id from events where global_position > $1 order by global_position limit $2';

// 16 writers each hold a connection for their whole transaction, plus the reader.
const db = useStoreDatabase({ poolSize: 30 });

interface SeenEvent {
  position: number;
  eventId: string;
}
interface Page {
  events: SeenEvent[];
  lastPosition: number;
}
type PageReader = (after: number) => Promise<Page>;

/** The event store's reader. */
const safeReader: PageReader = async (after) => {
  const page = await db.store.readAll({ after, limit: PAGE_SIZE });
  return { events: page.events.map((e) => ({ position: e.globalPosition, eventId: e.eventId })), lastPosition: page.lastPosition };
};

/** What a BIGSERIAL-style store does: every committed row above the checkpoint. */
const naiveReader: PageReader = async (after) => {
  const { rows } = await db.tdb.pool.query<{ global_position: number; event_id: string }>(NAIVE_SQL, [after, PAGE_SIZE]);
  const events = rows.map((r) => ({ position: r.global_position, eventId: r.event_id }));
  return { events, lastPosition: events.length ? events[events.length - 1].position : after };
};

/** A consumer paging the log with a checkpoint, concurrently with the writers, until drained. */
class CheckpointedReader {
  readonly seen: SeenEvent[] = [];
  checkpoint: number;
  readsStarted = 0;
  readsDone = 0;
  private drainAfter = Number.POSITIVE_INFINITY;
  private readonly done: Promise<void>;

  constructor(
    private readonly read: PageReader,
    start: number,
  ) {
    this.checkpoint = start;
    this.done = this.run();
    this.done.catch(() => undefined); // surfaced by drain()
  }

  /** Keeps reading until a page read that started after this call comes back empty. */
  drain(): Promise<void> {
    this.drainAfter = this.readsStarted;
    return this.done;
  }

  private async run(): Promise<void> {
    for (;;) {
      const readNumber = ++this.readsStarted;
      const page = await this.read(this.checkpoint);
      this.readsDone++;
      this.seen.push(...page.events);
      this.checkpoint = page.lastPosition;
      if (page.events.length === 0) {
        if (readNumber > this.drainAfter) return;
        await delay(1);
      }
    }
  }
}

const newEvents = (count: number): NewEvent[] => Array.from({ length: count }, (_, n) => ({ eventId: randomUUID(), type: 'Wrote', data: { n } }));

async function storedAfter(position: number): Promise<SeenEvent[]> {
  const { rows } = await db.tdb.pool.query('select global_position, event_id from events where global_position > $1 order by global_position', [
    position,
  ]);
  return rows.map((r) => ({ position: r.global_position, eventId: r.event_id }));
}

async function maxStoredPosition(): Promise<number> {
  const { rows } = await db.tdb.pool.query('select coalesce(max(global_position), 0) as p from events');
  return rows[0].p;
}

/** Every committed event is below the safe position: a gap-safe reader can now read them all. */
async function everythingReadable(): Promise<boolean> {
  const { rows } = await db.tdb.pool.query('select events_safe_position() > coalesce(max(global_position), 0) as ok from events');
  return rows[0].ok;
}

interface Commit {
  lastPosition: number;
  eventIds: string[];
}

/** BEGIN, append in the caller's transaction, run `beforeCommit` (the delay), COMMIT. */
async function writeTransaction(
  streamId: string,
  count: number,
  commits: Commit[],
  beforeCommit: (appended: AppendResult) => Promise<void>,
): Promise<Commit> {
  const client: PoolClient = await db.tdb.pool.connect();
  try {
    await client.query('begin');
    const events = newEvents(count);
    const appended = await db.store.appendToStream(streamId, events, { tenantId, tx: client });
    await beforeCommit(appended);
    await client.query('commit');
    const commit = { lastPosition: appended.globalPosition, eventIds: events.map((e) => e.eventId!) };
    commits.push(commit);
    return commit;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Commits that happened after a commit of a higher position. */
function outOfOrderCommits(commits: Commit[]): Commit[] {
  return commits.filter((c, i) => commits.slice(0, i).some((earlier) => earlier.lastPosition > c.lastPosition));
}

const strictlyIncreasing = (positions: number[]) => positions.every((p, i) => i === 0 || p > positions[i - 1]);

interface ScenarioResult {
  seen: SeenEvent[];
  stored: SeenEvent[];
  commits: Commit[];
  straggler: Commit;
  /** The reader's checkpoint and what it had seen when the straggler committed. */
  checkpointWhenStragglerCommitted: number;
  seenWhenStragglerCommitted: number;
  start: number;
}

/**
 * 16 concurrent writers, each in its own transaction on its own connection. The first one (the
 * straggler) begins and appends before all others, so it holds the lowest positions, and commits
 * only after 20 other transactions committed and the reader has read twice since; the other 15
 * each commit 6 transactions of 1–3 events after a random delay, so their commits interleave out
 * of position order too. A reader pages the log concurrently, 7 events a page, and is drained when
 * every writer is done.
 */
async function runScenario(read: PageReader): Promise<ScenarioResult> {
  await openConnections(db.tdb.pool, 20);
  const start = await maxStoredPosition();
  const commits: Commit[] = [];
  const reader = new CheckpointedReader(read, start);
  let checkpointWhenStragglerCommitted = Number.NaN;
  let seenWhenStragglerCommitted = Number.NaN;

  let stragglerAppended!: () => void;
  const appended = new Promise<void>((resolve) => (stragglerAppended = resolve));
  const straggler = writeTransaction(`gap-straggler-${randomUUID()}`, 2, commits, async () => {
    stragglerAppended();
    await waitFor(() => commits.length >= 20, { what: '20 commits after the straggler appended' });
    const readsSoFar = reader.readsStarted;
    await waitFor(() => reader.readsDone >= readsSoFar + 2, { what: 'two reads after those commits' });
    checkpointWhenStragglerCommitted = reader.checkpoint;
    seenWhenStragglerCommitted = reader.seen.length;
  });
  await Promise.race([appended, straggler]);

  const writers = Array.from({ length: 15 }, async (_, w) => {
    const streamId = `gap-${w}-${randomUUID()}`;
    for (let t = 0; t < 6; t++) {
      await writeTransaction(streamId, 1 + ((w + t) % 3), commits, () => delay(Math.random() * 20));
    }
  });
  const [stragglerCommit] = await Promise.all([straggler, ...writers]);

  await waitFor(everythingReadable, { what: 'every committed event readable', timeoutMs: 60_000 });
  await reader.drain();

  return {
    seen: reader.seen,
    stored: await storedAfter(start),
    commits,
    straggler: stragglerCommit,
    checkpointWhenStragglerCommitted,
    seenWhenStragglerCommitted,
    start,
  };
}

describe('gap safety of the global log', () => {
  it('two writers committing out of position order: a naive reader skips the lower one, readAll gets both in order', async () => {
    const start = await maxStoredPosition();
    const a = await db.tdb.pool.connect();
    const b = await db.tdb.pool.connect();
    try {
      const [eventA] = newEvents(1);
      const [eventB] = newEvents(1);
      // A begins and appends first: it holds the lower position. B appends after it and commits first.
      await a.query('begin');
      const appendedA = await db.store.appendToStream(`gap-a-${randomUUID()}`, [eventA], { tenantId, tx: a });
      await b.query('begin');
      const appendedB = await db.store.appendToStream(`gap-b-${randomUUID()}`, [eventB], { tenantId, tx: b });
      await b.query('commit');
      expect(appendedA.globalPosition).toBeLessThan(appendedB.globalPosition);

      // The naive reader sees B and moves its checkpoint past A's position.
      const naiveSeen: SeenEvent[] = [];
      const naive1 = await naiveReader(start);
      naiveSeen.push(...naive1.events);
      expect(naive1.events.map((e) => e.eventId)).toEqual([eventB.eventId]);
      expect(naive1.lastPosition).toBeGreaterThan(appendedA.globalPosition);

      // readAll does not hand out B while A, older, may still commit below it.
      const safeSeen: SeenEvent[] = [];
      const safe1 = await safeReader(start);
      expect(safe1.events).toEqual([]);
      expect(safe1.lastPosition).toBe(start);

      await a.query('commit');

      const naive2 = await naiveReader(naive1.lastPosition);
      naiveSeen.push(...naive2.events);
      expect(naive2.events).toEqual([]);
      expect(naiveSeen.map((e) => e.eventId)).not.toContain(eventA.eventId); // lost for good

      let checkpoint = safe1.lastPosition;
      await waitFor(
        async () => {
          const page = await safeReader(checkpoint);
          safeSeen.push(...page.events);
          checkpoint = page.lastPosition;
          return safeSeen.length >= 2;
        },
        { what: 'readAll returned both events' },
      );
      expect(safeSeen).toEqual([
        { position: appendedA.globalPosition, eventId: eventA.eventId },
        { position: appendedB.globalPosition, eventId: eventB.eventId },
      ]);
    } finally {
      await a.query('rollback').catch(() => undefined);
      await b.query('rollback').catch(() => undefined);
      a.release();
      b.release();
    }
  });

  it('16 concurrent writers committing out of position order: readAll paging sees every event exactly once, in position order', async () => {
    for (let round = 0; round < 3; round++) {
      const result = await runScenario(safeReader);

      // The scenario really commits out of position order.
      const straggling = outOfOrderCommits(result.commits);
      expect(straggling.length).toBeGreaterThanOrEqual(1);
      expect(straggling).toContainEqual(result.straggler);
      expect(result.commits.length).toBe(91);

      // While the straggler was open, the reader waited below it instead of skipping it.
      expect(result.seenWhenStragglerCommitted).toBe(0);
      expect(result.checkpointWhenStragglerCommitted).toBe(result.start);

      // Every event exactly once, in strictly increasing position order.
      const seenIds = result.seen.map((e) => e.eventId);
      expect(new Set(seenIds).size).toBe(seenIds.length);
      expect(strictlyIncreasing(result.seen.map((e) => e.position))).toBe(true);
      expect(result.seen).toEqual(result.stored);
      expect(result.stored.length).toBe(result.commits.reduce((n, c) => n + c.eventIds.length, 0));
    }
  });

  it('the same 16-writer scenario with a naive position reader misses events (the design this store avoids)', async () => {
    const result = await runScenario(naiveReader);

    expect(outOfOrderCommits(result.commits)).toContainEqual(result.straggler);
    // The naive reader had moved past the straggler's positions before they committed…
    expect(result.checkpointWhenStragglerCommitted).toBeGreaterThan(result.straggler.lastPosition);
    // …so it never sees them.
    const seenIds = new Set(result.seen.map((e) => e.eventId));
    const missed = result.stored.filter((e) => !seenIds.has(e.eventId)).map((e) => e.eventId);
    expect(missed.length).toBeGreaterThanOrEqual(1);
    expect(missed).toEqual(expect.arrayContaining(result.straggler.eventIds));
  });
});
