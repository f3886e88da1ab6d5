-- API keys: stored as SHA-256 hashes (keys are 256-bit random secrets, so a fast hash is enough;
-- the plain key is shown once, at creation). Revocation is a timestamp, checked on every request.
create table api_keys (
  id          uuid        primary key,
  tenant_id   text        not null,
  role        text        not null check (role in ('client', 'operator', 'admin')),
  name        text        not null,
  key_hash    text        not null unique,
  created_at  timestamptz not null default now(),
  revoked_at  timestamptz
);
create index api_keys_tenant_idx on api_keys (tenant_id);

-- The integration-event relay remembers the broker's epoch (a value Redis loses when flushed), in
-- the same transaction as its checkpoint, to notice a broker that lost its data.
create table relay_state (
  name         text        primary key,
  broker_epoch text,
  updated_at   timestamptz not null default now()
);
