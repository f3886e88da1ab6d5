import { Pool } from 'pg';
import { DEFAULT_SCALING } from '@app/agents';
import { equals, Filter, keysetPage, KeysetSpec, PageQuery } from '../http/keyset-page';
import { notFound } from '../http/problem';
import { AgentDetailDto, AgentDto, ServiceDto, TaskDto } from './read-models.dto';

type Row = Record<string, any>;

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

/** Tenant filter of every read-model query: undefined (the admin key) reads every tenant. */
const scoped = (tenantId: string | undefined): Filter[] => equals('tenant_id', tenantId);

const hasCapability = (capability: string | undefined): Filter[] =>
  capability === undefined ? [] : [{ sql: (p) => `capabilities @> ${p}::jsonb`, value: JSON.stringify([capability]) }];

export const toAgent = (r: Row): AgentDto => ({
  agentId: r.agent_id,
  tenantId: r.tenant_id,
  name: r.name,
  type: r.type,
  status: r.status,
  capabilities: r.capabilities ?? [],
  permissions: r.permissions ?? [],
  resources: r.resources ?? {},
  sagaId: r.saga_id ?? null,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

/** An agent's row with its scaling policy and target (defaults for agents provisioned before scaling). */
export const toAgentDetail = (r: Row): Omit<AgentDetailDto, 'instances'> => {
  const scaling = r.scaling ?? { ...DEFAULT_SCALING };
  return { ...toAgent(r), scaling, desiredInstances: r.desired_instances ?? scaling.min };
};

export const toTask = (r: Row): TaskDto => ({
  taskId: r.task_id,
  tenantId: r.tenant_id,
  sagaId: r.saga_id ?? null,
  name: r.name,
  handler: r.handler,
  status: r.status,
  config: r.config ?? null,
  output: r.output ?? null,
  error: r.error ?? null,
  attempts: r.attempts,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export const toService = (r: Row): ServiceDto => ({
  agentId: r.agent_id,
  name: r.name,
  capabilities: r.capabilities ?? [],
  status: r.status,
  registeredAt: iso(r.registered_at),
});

export interface ListQuery extends PageQuery {
  tenantId?: string;
}

type Db = Pick<Pool, 'query'>;

const AGENTS: KeysetSpec = { table: 'agents', keys: [['created_at', 'timestamp'], ['agent_id', 'uuid']], direction: 'desc' };
const TASKS: KeysetSpec = { table: 'tasks', keys: [['created_at', 'timestamp'], ['task_id', 'uuid']], direction: 'desc' };
const SERVICES: KeysetSpec = { table: 'services', keys: [['name', 'text'], ['agent_id', 'uuid']], direction: 'asc' };

/** Agents, newest first. */
export function listAgents(db: Db, q: ListQuery & { status?: string; capability?: string }) {
  return keysetPage(db, AGENTS, [...scoped(q.tenantId), ...equals('status', q.status), ...hasCapability(q.capability)], q, toAgent);
}

/** Tasks, newest first. */
export function listTasks(db: Db, q: ListQuery & { sagaId?: string; status?: string }) {
  return keysetPage(db, TASKS, [...scoped(q.tenantId), ...equals('saga_id', q.sagaId), ...equals('status', q.status)], q, toTask);
}

/** The service registry, by name. */
export function listServices(db: Db, q: ListQuery & { status?: string; capability?: string }) {
  return keysetPage(db, SERVICES, [...scoped(q.tenantId), ...equals('status', q.status), ...hasCapability(q.capability)], q, toService);
}

/** One `noun` by its uuid (column `<noun>_id`) within the tenant scope; a 404 when there is none (another tenant's included). */
async function getOne<T>(db: Db, table: 'agents' | 'tasks', noun: string, id: string, tenantId: string | undefined, toItem: (row: Row) => T): Promise<T> {
  const { rows } = await db.query<Row>(
    `select * from ${table} where ${noun}_id = $1 ${tenantId === undefined ? '' : 'and tenant_id = $2'}`,
    tenantId === undefined ? [id] : [id, tenantId],
  );
  if (!rows[0]) throw notFound(`${noun} ${id} not found`);
  return toItem(rows[0]);
}

export const getAgent = (db: Db, agentId: string, tenantId?: string) => getOne(db, 'agents', 'agent', agentId, tenantId, toAgent);
export const getAgentDetail = (db: Db, agentId: string, tenantId?: string) => getOne(db, 'agents', 'agent', agentId, tenantId, toAgentDetail);
export const getTask = (db: Db, taskId: string, tenantId?: string) => getOne(db, 'tasks', 'task', taskId, tenantId, toTask);
