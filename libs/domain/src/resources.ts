import { DomainError } from './decider';

/** Compute resources: CPU in thousandths of a core, memory in MiB. */
export interface Resources {
  cpuMillis: number;
  memoryMb: number;
}

/** Quota arithmetic is only sound on non-negative integers: a negative reservation would free capacity. */
export function assertValidResources(resources: Resources): Resources {
  const valid = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!valid(resources.cpuMillis) || !valid(resources.memoryMb)) {
    throw new DomainError('INVALID_RESOURCES', 'cpuMillis and memoryMb must be non-negative integers', {
      cpuMillis: resources.cpuMillis,
      memoryMb: resources.memoryMb,
    });
  }
  return { cpuMillis: resources.cpuMillis, memoryMb: resources.memoryMb };
}
