-- Stored, versioned workflow definitions (see DESIGN.md "Steering a saga"). The truth is the event
-- stream `workflowdef-<tenantId>.<name>` (one per tenant and name; versions never change); these are
-- read models.

-- `workflow_definitions`: one row per tenant and name, for `GET /v1/workflow-definitions`
-- (keyset-paged by name).
create table workflow_definitions (
  tenant_id       text        not null,
  name            text        not null,
  latest_version  integer     not null,
  -- the latest version's description
  description     text,
  created_at      timestamptz not null,
  updated_at      timestamptz not null,
  primary key (tenant_id, name)
);
create index workflow_definitions_name_idx on workflow_definitions (name, tenant_id);

-- The definition a saga was started from (`GET /v1/sagas?definition=`); null for sagas started
-- with their tasks.
alter table saga_summaries add column definition_name text;
alter table saga_summaries add column definition_version integer;
create index saga_summaries_tenant_definition_idx on saga_summaries (tenant_id, definition_name, started_at desc, saga_id desc)
  where definition_name is not null;
