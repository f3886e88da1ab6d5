import { Inject, Injectable } from '@nestjs/common';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { SagaStatus, SagaType } from '@app/sagas';
import { equals, keysetPage, KeysetSpec, PageQuery } from '../http/keyset-page';
import { CompensationLogItemDto, CompensationLogPageDto, CompensationStatus, SagaPageDto, SagaStepDto, SagaSummaryDto } from './saga-views.dto';

interface SummaryRow extends Record<string, unknown> {
  saga_id: string;
  tenant_id: string;
  type: SagaType;
  status: SagaStatus;
  steps: SagaStepDto[];
  failed_step: string | null;
  version: string;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  duration_ms: string | null;
  definition_name: string | null;
  definition_version: number | null;
}

interface CompensationRow extends Record<string, unknown> {
  saga_id: string;
  step: string;
  status: CompensationStatus;
  attempt: number;
  error: string | null;
  actor: string | null;
  reason: string | null;
  at: Date;
}

const SAGAS: KeysetSpec = { table: 'saga_summaries', keys: [['started_at', 'timestamp'], ['saga_id', 'uuid']], direction: 'desc' };
const COMPENSATIONS: KeysetSpec = { table: 'compensation_log', keys: [['at', 'timestamp'], ['saga_id', 'uuid'], ['seq', 'integer']], direction: 'desc' };

const toSummary = (r: SummaryRow): SagaSummaryDto => ({
  sagaId: r.saga_id,
  tenantId: r.tenant_id,
  type: r.type,
  status: r.status,
  steps: r.steps,
  ...(r.failed_step !== null ? { failedStep: r.failed_step } : {}),
  ...(r.definition_name !== null && r.definition_version !== null ? { definition: { name: r.definition_name, version: r.definition_version } } : {}),
  version: Number(r.version),
  startedAt: r.started_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  ...(r.finished_at ? { finishedAt: r.finished_at.toISOString() } : {}),
  ...(r.duration_ms !== null ? { durationMs: Number(r.duration_ms) } : {}),
});

const toCompensation = (r: CompensationRow): CompensationLogItemDto => ({
  sagaId: r.saga_id,
  step: r.step,
  status: r.status,
  attempt: r.attempt,
  ...(r.error !== null ? { error: r.error } : {}),
  ...(r.actor !== null ? { actor: r.actor } : {}),
  ...(r.reason !== null ? { reason: r.reason } : {}),
  at: r.at.toISOString(),
});

/**
 * Queries of the saga read models (saga_summaries, compensation_log): newest first, keyset
 * pagination on the indexes the projections create. Scoped to a tenant unless `tenantId` is
 * undefined (the admin key).
 */
@Injectable()
export class SagaReadModel {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  listSagas(q: PageQuery & { tenantId?: string; type?: SagaType; status?: SagaStatus; definition?: string }): Promise<SagaPageDto> {
    const filters = [...equals('tenant_id', q.tenantId), ...equals('type', q.type), ...equals('status', q.status), ...equals('definition_name', q.definition)];
    return keysetPage(this.pool, SAGAS, filters, q, toSummary);
  }

  listCompensations(q: PageQuery & { tenantId?: string; status?: CompensationStatus }): Promise<CompensationLogPageDto> {
    return keysetPage(this.pool, COMPENSATIONS, [...equals('tenant_id', q.tenantId), ...equals('status', q.status)], q, toCompensation);
  }
}
