import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Request } from 'express';
import { Observable } from 'rxjs';
import { badRequest } from './problem';

export const MAX_JSON_DEPTH = 32;

/** Nesting depth of a parsed JSON value, walked without recursion; stops once past `limit`. */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 0 }];
  while (stack.length) {
    const { v, d } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as object)) {
      if (child !== null && typeof child === 'object') stack.push({ v: child, d: d + 1 });
    }
  }
  return false;
}

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Path of the first `__proto__`, `constructor` or `prototype` key in a parsed body; undefined when
 * there is none. JSON.parse makes them ordinary own keys, but the ValidationPipe deletes all three
 * (stripProtoKeys) and class-transformer skips the first two, at any depth, free-form objects (event
 * data, task config) included: the key would silently vanish (an unknown field not refused, data not
 * stored as sent). Refused instead.
 */
export function reservedKeyPath(value: unknown): string | undefined {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const array = Array.isArray(v);
    const entries: [string, unknown][] = array ? v.map((c, i) => [String(i), c]) : Object.entries(v as object);
    for (const [key, child] of entries) {
      const at = path ? `${path}.${key}` : key;
      if (!array && RESERVED_KEYS.has(key)) return at;
      if (child !== null && typeof child === 'object') stack.push({ v: child, path: at });
    }
  }
  return undefined;
}

/**
 * Refuses bodies nested deeper than MAX_JSON_DEPTH before the ValidationPipe sees them: the body
 * parser accepts any depth within 1 MiB, but class-transformer (and the saga's canonical JSON)
 * recurse, and a stack overflow there would be a 500. Interceptors run before pipes. Also refuses
 * the keys class-transformer would drop unseen (see reservedKeyPath).
 */
@Injectable()
export class JsonDepthInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const body = context.switchToHttp().getRequest<Request>().body as unknown;
    if (jsonDepthExceeds(body, MAX_JSON_DEPTH)) {
      throw badRequest(`request body is nested deeper than ${MAX_JSON_DEPTH} levels`, [{ field: '', message: `nesting deeper than ${MAX_JSON_DEPTH} levels` }]);
    }
    const reserved = reservedKeyPath(body);
    if (reserved !== undefined) {
      throw badRequest(`request body has a reserved key: ${reserved}`, [{ field: reserved, message: 'the keys __proto__, constructor and prototype are not accepted' }]);
    }
    return next.handle();
  }
}
