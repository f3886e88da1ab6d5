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

/**
 * Refuses bodies nested deeper than MAX_JSON_DEPTH before the ValidationPipe sees them: the body
 * parser accepts any depth within 1 MiB, but class-transformer (and the saga's canonical JSON)
 * recurse, and a stack overflow there would be a 500. Interceptors run before pipes.
 */
@Injectable()
export class JsonDepthInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const body = context.switchToHttp().getRequest<Request>().body as unknown;
    if (jsonDepthExceeds(body, MAX_JSON_DEPTH)) {
      throw badRequest(`request body is nested deeper than ${MAX_JSON_DEPTH} levels`, [{ field: '', message: `nesting deeper than ${MAX_JSON_DEPTH} levels` }]);
    }
    return next.handle();
  }
}
