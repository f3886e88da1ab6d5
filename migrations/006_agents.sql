-- Agents that do the work (see DESIGN.md "Agents").

-- Agent keys: role `agent`, bound to one agent of the tenant. Decommissioning revokes them.
alter table api_keys drop constraint if exists api_keys_role_check;
alter table api_keys add constraint api_keys_role_check check (role in ('client', 'operator', 'admin', 'agent'));
alter table api_keys add column agent_id uuid;
alter table api_keys add constraint api_keys_agent_check check ((role = 'agent') = (agent_id is not null));
create index api_keys_agent_idx on api_keys (agent_id) where agent_id is not null;

-- The agent task queue. A row is written in the same transaction as its step's StepStarted and
-- leaves the queue (state DONE / FAILED / CANCELLED / EXPIRED) in the same transaction as the
-- step's outcome; finished rows are kept a while so a late call gets the right answer (LOCK_LOST,
-- TASK_CANCELLED) and are then deleted. Each lock has a fresh token (fencing).
create table agent_tasks (
  task_id            uuid        primary key,
  tenant_id          text        not null,
  saga_id            uuid        not null,
  step               text        not null,
  attempt            integer     not null,
  -- `agent:<capability>` tasks: any agent of the tenant with the capability. An initial task is
  -- addressed to one agent instead (capability null, agent_id set).
  capability         text,
  agent_id           uuid,
  priority           integer     not null default 1,
  input              jsonb       not null default '{}'::jsonb,
  state              text        not null default 'QUEUED'
                     check (state in ('QUEUED', 'LOCKED', 'DONE', 'FAILED', 'CANCELLED', 'EXPIRED')),
  enqueued_at        timestamptz not null default now(),
  not_before         timestamptz not null default now(),
  expires_at         timestamptz,
  attempt_timeout_ms integer,
  lock_token         uuid,
  locked_by          text,
  locked_agent_id    uuid,
  locked_at          timestamptz,
  locked_until       timestamptz,
  first_locked_at    timestamptz,
  lock_expiries      integer     not null default 0,
  progress           jsonb,
  traceparent        text,
  finished_at        timestamptz,
  check (capability is not null or agent_id is not null)
);
create index agent_tasks_ready_idx on agent_tasks (tenant_id, capability, priority desc, enqueued_at, task_id) where state = 'QUEUED';
create index agent_tasks_addressed_idx on agent_tasks (agent_id, priority desc, enqueued_at) where state = 'QUEUED' and agent_id is not null;
create index agent_tasks_locked_idx on agent_tasks (locked_until) where state = 'LOCKED';
create index agent_tasks_expiry_idx on agent_tasks (expires_at) where state = 'QUEUED' and expires_at is not null;
create index agent_tasks_saga_idx on agent_tasks (saga_id, step);
create index agent_tasks_finished_idx on agent_tasks (finished_at) where finished_at is not null;

-- Agent instances: heartbeats are kept here, not as events (they are frequent); status changes
-- of the agent's service are events.
create table agent_instances (
  agent_id          uuid        not null,
  instance_id       text        not null,
  tenant_id         text        not null,
  reported_status   text        not null default 'HEALTHY' check (reported_status in ('HEALTHY', 'DEGRADED')),
  status            text        not null default 'HEALTHY' check (status in ('HEALTHY', 'DEGRADED', 'UNHEALTHY', 'OFFLINE')),
  load              jsonb,
  started_at        timestamptz not null default now(),
  last_heartbeat_at timestamptz not null default now(),
  primary key (agent_id, instance_id)
);
create index agent_instances_tenant_idx on agent_instances (tenant_id, agent_id);

-- The agents read model also shows the scaling policy and its current target.
alter table agents add column scaling jsonb;
alter table agents add column desired_instances integer;

-- An outcome reported from outside the worker holding a saga (an agent's completion) pokes its
-- pending-work row: the holder's release then leaves it due at once instead of at its planned time.
alter table saga_work add column poked boolean not null default false;

-- An agent being decommissioned takes no new work (API.md: poll answers 409).
alter table agents add column decommissioning_saga_id uuid;
