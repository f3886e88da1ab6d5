import { createHash } from 'crypto';

/**
 * A UUID (version-5 layout) derived from a name: the same command id and index always give the
 * same event id, so a retried command appends nothing new (the store de-duplicates by event id).
 */
export function deterministicUuid(name: string): string {
  const h = createHash('sha1').update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export function eventIdFor(commandId: string, index: number): string {
  return deterministicUuid(`${commandId}#${index}`);
}
