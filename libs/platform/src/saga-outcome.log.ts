import { LoggerService } from '@nestjs/common';

/**
 * One log line per saga outcome, for the person reading the logs (the metrics count them):
 * completed and compensated at info, a step's final failure at warn, a compensation that failed
 * for good at error. Retried attempts are not outcomes and stay out.
 */
export function logSagaOutcomes(logger: LoggerService, saga: { sagaId: string; sagaType?: string }, events: { type: string; data: unknown }[]): void {
  const fields = { sagaId: saga.sagaId, sagaType: saga.sagaType };
  for (const e of events) {
    const d = e.data as { step?: string; error?: string; final?: boolean };
    switch (e.type) {
      case 'SagaCompleted':
        logger.log({ msg: 'saga completed', ...fields });
        break;
      case 'SagaCompensated':
        logger.log({ msg: 'saga compensated', ...fields });
        break;
      case 'StepFailed':
        if (d.final) logger.warn({ msg: `step ${d.step} failed`, ...fields, step: d.step, error: d.error });
        break;
      // Recorded with the final StepCompensationFailed, which is therefore not logged on its own.
      case 'SagaCompensationFailed':
        logger.error({ msg: `compensation of step ${d.step} failed`, ...fields, step: d.step, error: d.error });
        break;
    }
  }
}
