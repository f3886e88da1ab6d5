import { Param, PipeTransform } from '@nestjs/common';
import { registerDecorator, ValidationOptions } from 'class-validator';
import { MAX_JSON_DEPTH as MAX_BODY_DEPTH } from '../http/json-depth.interceptor';
import { badRequest } from '../http/problem';

export const EXPECTED_VERSION_KEYWORDS = ['any', 'no_stream', 'stream_exists'] as const;

/** `expectedVersion`: an integer >= -1 (-1: the stream must not exist) or one of the keywords. */
export function IsExpectedVersion(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isExpectedVersion',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `$property must be an integer >= -1 or one of ${EXPECTED_VERSION_KEYWORDS.map((k) => `"${k}"`).join(', ')}`, ...options },
      validator: {
        validate: (value: unknown) =>
          (typeof value === 'number' && Number.isSafeInteger(value) && value >= -1) ||
          (typeof value === 'string' && (EXPECTED_VERSION_KEYWORDS as readonly string[]).includes(value)),
      },
    });
}

// The global JsonDepthInterceptor refuses bodies nested deeper than MAX_BODY_DEPTH before any
// pipe runs; event data sits at level 4 of an append body (body > events[] > event > data).
export const MAX_JSON_DEPTH = MAX_BODY_DEPTH - 3;

/**
 * Whether `value` can be stored as it is in a jsonb column: nesting at most MAX_JSON_DEPTH deep and
 * no NUL character in any string or key (PostgreSQL's jsonb refuses `\u0000`).
 */
function storableJson(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return !value.includes('\u0000');
  if (value === null || typeof value !== 'object') return true;
  if (depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(value)) return value.every((v) => storableJson(v, depth + 1));
  return Object.entries(value).every(([k, v]) => !k.includes('\u0000') && storableJson(v, depth + 1));
}

export const isJsonObject = (value: unknown): boolean =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && storableJson(value, 0);

/** Any JSON value that jsonb stores unchanged (the same depth and NUL rules as IsJsonObject). */
export function IsStorableJson(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isStorableJson',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `$property must be JSON nested at most ${MAX_JSON_DEPTH} levels, without NUL characters`, ...options },
      validator: { validate: (value: unknown) => storableJson(value, 0) },
    });
}

/** A JSON object (not an array, not null) that jsonb stores unchanged. */
export function IsJsonObject(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isJsonObject',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: `$property must be a JSON object (nested at most ${MAX_JSON_DEPTH} levels, no NUL characters)`,
        ...options,
      },
      validator: { validate: isJsonObject },
    });
}

/** No two events of one append with the same `eventId` (case-insensitive, as PostgreSQL's uuid). */
export function HasUniqueEventIds(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'hasUniqueEventIds',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must not repeat an eventId', ...options },
      validator: {
        validate: (value: unknown) => {
          if (!Array.isArray(value)) return true;
          const ids = value
            .map((e) => (e && typeof e === 'object' ? (e as { eventId?: unknown }).eventId : undefined))
            .filter((id): id is string => typeof id === 'string')
            .map((id) => id.toLowerCase());
          return new Set(ids).size === ids.length;
        },
      },
    });
}

export const STREAM_ID_PATTERN = /^[A-Za-z0-9_.]{1,100}-[A-Za-z0-9_.-]{1,200}$/;

class StreamIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (typeof value !== 'string' || !STREAM_ID_PATTERN.test(value)) {
      throw badRequest('streamId must be <category>-<id>', [{ field: 'streamId', message: `streamId must match ${STREAM_ID_PATTERN.source}` }]);
    }
    return value;
  }
}

/** The `streamId` path parameter, checked against the stream id pattern (400 otherwise). */
export const StreamIdParam = () => Param('streamId', new StreamIdPipe());
