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

-- Integration-event relay and other global-log consumers keep their position here.
create table relay_checkpoints (
  name       text        primary key,
  position   bigint      not null default 0,
  updated_at timestamptz not null default now()
);
