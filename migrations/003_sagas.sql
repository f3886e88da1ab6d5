-- Saga execution: pending work, idempotent starts, and agent-name uniqueness.

-- One row per saga that still has work: when it is next due and who holds it. Written in the same
-- transaction as the saga event that creates the work; claimed with FOR UPDATE SKIP LOCKED; a claim
-- whose lease runs out (its worker died) becomes claimable again.
create table saga_work (
  saga_id      uuid        primary key,
  tenant_id    text        not null,
  saga_type    text        not null,
  due_at       timestamptz not null,
  lease_owner  text,
  lease_until  timestamptz,
  claims       integer     not null default 0,
  updated_at   timestamptz not null default now()
);
create index saga_work_due_idx on saga_work (due_at);

-- Idempotent start: the same key for the same tenant returns the same saga; another body is a 409.
create table saga_idempotency (
  tenant_id       text        not null,
  idempotency_key text        not null,
  saga_id         uuid        not null,
  request_hash    text        not null,
  created_at      timestamptz not null default now(),
  primary key (tenant_id, idempotency_key)
);

-- An agent name is unique per tenant among live services: the unique index decides under
-- concurrency, in the same transaction as ServiceRegistered (deleted on ServiceDeregistered).
create table service_names (
  tenant_id  text not null,
  name       text not null,
  agent_id   uuid not null,
  primary key (tenant_id, name)
);
