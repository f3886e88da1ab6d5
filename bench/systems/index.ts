import { OpenEventStore } from './adapter';
import { openEmmett } from './emmett';
import { openOurs } from './ours';
import { openPgCeiling } from './pg-ceiling';

export interface SystemDefinition {
  name: string;
  description: string;
  /** The system being judged (ratios are `subject / peer`); peers are what it is compared with. */
  subject: boolean;
  /** For event-store workloads (W1–W6). W7/W8 systems (DBOS) will add their own capability. */
  openEventStore?: OpenEventStore;
}

export const SYSTEMS: Record<string, SystemDefinition> = {
  ours: {
    name: 'ours',
    description:
      '@app/event-store PostgresEventStore (defaults: notify on); W7/W8: the saga executor in this process; ' +
      'W10: the platform process (API + worker) over its REST agent work protocol',
    subject: true,
    openEventStore: (url, poolSize) => openOurs(url, poolSize, { notify: true, system: 'ours' }),
  },
  'ours-nonotify': {
    name: 'ours-nonotify',
    description: '@app/event-store PostgresEventStore with { notify: false }',
    subject: true,
    openEventStore: (url, poolSize) => openOurs(url, poolSize, { notify: false, system: 'ours-nonotify' }),
  },
  emmett: {
    name: 'emmett',
    description: '@event-driven-io/emmett-postgresql getPostgreSQLEventStore',
    subject: false,
    openEventStore: openEmmett,
  },
  pg: {
    name: 'pg',
    description: 'ceiling: bare pg, one INSERT per append',
    subject: false,
    openEventStore: openPgCeiling,
  },
  dbos: {
    name: 'dbos',
    description: '@dbos-inc/dbos-sdk workflows, 5 steps, compensation in a catch block (W7/W8; bench/systems/dbos.ts)',
    subject: false,
  },
  bullmq: {
    name: 'bullmq',
    description: 'BullMQ on the local Redis: 8 Workers × concurrency 16, addBulk, removeOnComplete (W10; bench/systems/bullmq.ts)',
    subject: false,
  },
  'graphile-worker': {
    name: 'graphile-worker',
    description: 'graphile-worker on the same PostgreSQL: 8 runners × concurrency 16, localQueue 16, addJobs (W10; bench/systems/graphile-worker.ts)',
    subject: false,
  },
};

export const DEFAULT_SYSTEMS = ['ours', 'emmett', 'pg', 'dbos', 'bullmq', 'graphile-worker'];
