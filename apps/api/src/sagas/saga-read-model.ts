import { Inject, Injectable } from '@nestjs/common';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { SagaStatus, SagaType } from '@app/sagas';
import { CURSOR_TIMESTAMP_SQL, decodeTimeIdCursor, decodeTimeIdSeqCursor, encodeCursor } from './page-cursor';
import { CompensationLogPageDto, CompensationStatus, SagaPageDto, SagaStepDto } from './saga-views.dto';

interface SummaryRow {
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
  cursor_at: string;
}

interface CompensationRow {
  saga_id: string;
  seq: string;
  step: string;
  status: CompensationStatus;
  attempt: number;
  error: string | null;
  actor: string | null;
  reason: string | null;
  at: Date;
  cursor_at: string;
}

/**
 * Queries of the saga read models (saga_summaries, compensation_log): newest first, keyset
 * pagination on the indexes the projections create. Scoped to a tenant unless `tenantId` is
 * undefined (the admin key).
 */
@Injectable()
export class SagaReadModel {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async listSagas(q: { tenantId?: string; type?: SagaType; status?: SagaStatus; limit: number; cursor?: string }): Promise<SagaPageDto> {
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    if (q.tenantId !== undefined) where.push(`tenant_id = ${param(q.tenantId)}`);
    if (q.type) where.push(`type = ${param(q.type)}`);
    if (q.status) where.push(`status = ${param(q.status)}`);
    if (q.cursor !== undefined) {
      const c = decodeTimeIdCursor(q.cursor);
      where.push(`(started_at, saga_id) < (${param(c.at)}::timestamptz, ${param(c.id)}::uuid)`);
    }
    const { rows } = await this.pool.query<SummaryRow>(
      `select saga_id, tenant_id, type, status, steps, failed_step, version, started_at, updated_at, finished_at, duration_ms,
              ${CURSOR_TIMESTAMP_SQL('started_at')} as cursor_at
         from saga_summaries
        ${where.length ? `where ${where.join(' and ')}` : ''}
        order by started_at desc, saga_id desc
        limit ${param(q.limit + 1)}`,
      values,
    );
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        sagaId: r.saga_id,
        tenantId: r.tenant_id,
        type: r.type,
        status: r.status,
        steps: r.steps,
        ...(r.failed_step !== null ? { failedStep: r.failed_step } : {}),
        version: Number(r.version),
        startedAt: r.started_at.toISOString(),
        updatedAt: r.updated_at.toISOString(),
        ...(r.finished_at ? { finishedAt: r.finished_at.toISOString() } : {}),
        ...(r.duration_ms !== null ? { durationMs: Number(r.duration_ms) } : {}),
      })),
      ...(rows.length > q.limit && last ? { nextCursor: encodeCursor([last.cursor_at, last.saga_id]) } : {}),
    };
  }

  async listCompensations(q: { tenantId?: string; status?: CompensationStatus; limit: number; cursor?: string }): Promise<CompensationLogPageDto> {
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    if (q.tenantId !== undefined) where.push(`tenant_id = ${param(q.tenantId)}`);
    if (q.status) where.push(`status = ${param(q.status)}`);
    if (q.cursor !== undefined) {
      const c = decodeTimeIdSeqCursor(q.cursor);
      where.push(`(at, saga_id, seq) < (${param(c.at)}::timestamptz, ${param(c.id)}::uuid, ${param(c.seq)}::bigint)`);
    }
    const { rows } = await this.pool.query<CompensationRow>(
      `select saga_id, seq, step, status, attempt, error, actor, reason, at, ${CURSOR_TIMESTAMP_SQL('at')} as cursor_at
         from compensation_log
        ${where.length ? `where ${where.join(' and ')}` : ''}
        order by at desc, saga_id desc, seq desc
        limit ${param(q.limit + 1)}`,
      values,
    );
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        sagaId: r.saga_id,
        step: r.step,
        status: r.status,
        attempt: r.attempt,
        ...(r.error !== null ? { error: r.error } : {}),
        ...(r.actor !== null ? { actor: r.actor } : {}),
        ...(r.reason !== null ? { reason: r.reason } : {}),
        at: r.at.toISOString(),
      })),
      ...(rows.length > q.limit && last ? { nextCursor: encodeCursor([last.cursor_at, last.saga_id, Number(last.seq)]) } : {}),
    };
  }
}
