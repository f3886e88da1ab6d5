-- Schedules (see DESIGN.md "Steering a saga"). The truth is the event stream
-- `schedule-<tenantId>.<scheduleId>`; this is its read model: the schedule lists, and the
-- scheduler's index of what is due.

create table schedules (
  tenant_id       text        not null,
  schedule_id     text        not null,
  saga_type       text        not null,
  -- ACTIVE or PAUSED (a deleted schedule has no row).
  status          text        not null,
  -- The first cron time after the last fire or the activation; null while paused. In the past
  -- when a fire is due (or was missed while no worker ran): the leader looks at those rows.
  next_fire_at    timestamptz,
  -- A fire decided whose saga start is not recorded yet: the leader finishes it first.
  pending_fire_at timestamptz,
  created_at      timestamptz not null,
  updated_at      timestamptz not null,
  -- Version of the schedule stream's last event applied.
  version         bigint      not null,
  -- The schedule folded with the domain's own evolve (recent runs included), so the read model
  -- never reads an event differently from the aggregate.
  state           jsonb       not null,
  primary key (tenant_id, schedule_id)
);
create index schedules_tenant_created_idx on schedules (tenant_id, created_at desc, schedule_id desc);
create index schedules_created_idx on schedules (created_at desc, tenant_id desc, schedule_id desc);
create index schedules_next_fire_idx on schedules (next_fire_at) where next_fire_at is not null;
create index schedules_pending_fire_idx on schedules (pending_fire_at) where pending_fire_at is not null;
