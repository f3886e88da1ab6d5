import { applyDecorators, Param, ParseUUIDPipe, PipeTransform, Injectable } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { badRequest, notFound } from './problem';

/** A path parameter that must be a UUID (400 otherwise, before any query runs). */
export const UuidParam = (name: string) =>
  Param(name, new ParseUUIDPipe({ exceptionFactory: () => badRequest(`${name} must be a UUID`, [{ field: name, message: 'must be a UUID' }]) }));

/** A path parameter naming a resource by UUID where anything else is simply not found (404). */
export const UuidOr404Param = (name: string, noun: string) =>
  Param(name, new ParseUUIDPipe({ exceptionFactory: () => notFound(`${noun} not found`) }));

@Injectable()
class SlugPipe implements PipeTransform<string, string> {
  constructor(private readonly name: string) {}
  transform(value: string): string {
    if (typeof value !== 'string' || !/^[a-z0-9-]{1,40}$/.test(value)) throw badRequest(`${this.name} must be a slug [a-z0-9-]{1,40}`);
    return value;
  }
}

export const SlugParam = (name: string) => Param(name, new SlugPipe(name));

/**
 * Query strings arrive as strings (implicit conversion is off): only plain decimal integers become
 * numbers, anything else stays a string so that `@IsInt()` refuses it (`Number('')` would be 0).
 */
export const ToInt = () =>
  Transform(({ value }) => (typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value));

/** An optional integer query parameter within `[min, max]` (decorators listed bottom-up, as written above a field). */
export const OptionalQueryInt = (min: number, max: number) => applyDecorators(Max(max), Min(min), IsInt(), ToInt(), IsOptional());
