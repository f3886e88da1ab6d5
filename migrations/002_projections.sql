-- Projection checkpoints and the read models.
-- A projection's checkpoint is written in the same transaction as its read-model rows, so every
-- event's effect is applied exactly once. Rebuilds write into a schema of their own (rebuild_<name>)
-- with tables shaped like these, then swap the tables in one transaction.

create table projection_checkpoints (
  name               text        primary key,
  position           bigint      not null default 0,
  status             text        not null default 'CATCHING_UP',
  last_error         text,
  failed_position    bigint,
  rebuild_requested  boolean     not null default false,
  rebuild_position   bigint,
  rebuild_started_at timestamptz,
  rebuilt_at         timestamptz,
  updated_at         timestamptz not null default now()
);

create table saga_summaries (
  saga_id         uuid        primary key,
  tenant_id       text        not null,
  type            text        not null,
  status          text        not null,
  input           jsonb       not null default '{}'::jsonb,
  steps           jsonb       not null default '[]'::jsonb,
  failed_step     text,
  version         bigint      not null,
  started_at      timestamptz not null,
  updated_at      timestamptz not null,
  finished_at     timestamptz,
  duration_ms     bigint,
  -- The saga's folded state (libs/sagas evolve), so each event is applied with the same logic
  -- as the executor's.
  state           jsonb       not null
);
create index saga_summaries_tenant_started_idx on saga_summaries (tenant_id, started_at desc, saga_id desc);
create index saga_summaries_tenant_status_idx on saga_summaries (tenant_id, status);

create table saga_steps (
  saga_id      uuid        not null,
  name         text        not null,
  tenant_id    text        not null,
  status       text        not null,
  attempts     integer     not null default 0,
  started_at   timestamptz,
  finished_at  timestamptz,
  output       jsonb,
  error        text,
  primary key (saga_id, name)
);

create table compensation_log (
  saga_id     uuid        not null,
  seq         bigint      not null,
  tenant_id   text        not null,
  step        text        not null,
  status      text        not null,
  attempt     integer     not null,
  error       text,
  actor       text,
  reason      text,
  at          timestamptz not null,
  primary key (saga_id, seq)
);
create index compensation_log_tenant_status_idx on compensation_log (tenant_id, status, at desc);

create table agents (
  agent_id     uuid        primary key,
  tenant_id    text        not null,
  name         text        not null,
  type         text        not null,
  status       text        not null,
  capabilities jsonb       not null default '[]'::jsonb,
  permissions  jsonb       not null default '[]'::jsonb,
  resources    jsonb       not null default '{}'::jsonb,
  saga_id      uuid,
  created_at   timestamptz not null,
  updated_at   timestamptz not null
);
create index agents_tenant_idx on agents (tenant_id, created_at desc, agent_id desc);

create table tasks (
  task_id     uuid        primary key,
  tenant_id   text        not null,
  saga_id     uuid,
  name        text        not null,
  handler     text        not null,
  status      text        not null,
  config      jsonb,
  output      jsonb,
  error       text,
  attempts    integer     not null default 0,
  created_at  timestamptz not null,
  updated_at  timestamptz not null
);
create index tasks_tenant_saga_idx on tasks (tenant_id, saga_id);

create table services (
  agent_id        uuid        primary key,
  tenant_id       text        not null,
  name            text        not null,
  capabilities    jsonb       not null default '[]'::jsonb,
  status          text        not null,
  registered_at   timestamptz not null,
  deregistered_at timestamptz
);
create index services_tenant_idx on services (tenant_id, name);

create table tenant_quotas (
  tenant_id        text        primary key,
  cpu_millis_limit bigint      not null default 0,
  memory_mb_limit  bigint      not null default 0,
  cpu_millis_used  bigint      not null default 0,
  memory_mb_used   bigint      not null default 0,
  reservations     jsonb       not null default '{}'::jsonb,
  updated_at       timestamptz not null
);

-- saga_stats (counts by type and status, p50 / p95 durations) is computed from saga_summaries
-- when asked (see libs/projections), so it can never disagree with it and needs no table to rebuild.
