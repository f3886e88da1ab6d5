import { Param, ParseUUIDPipe, PipeTransform, Injectable } from '@nestjs/common';
import { badRequest } from './problem';

/** A path parameter that must be a UUID (400 otherwise, before any query runs). */
export const UuidParam = (name: string) =>
  Param(name, new ParseUUIDPipe({ exceptionFactory: () => badRequest(`${name} must be a UUID`, [{ field: name, message: 'must be a UUID' }]) }));

@Injectable()
class SlugPipe implements PipeTransform<string, string> {
  constructor(private readonly name: string) {}
  transform(value: string): string {
    if (typeof value !== 'string' || !/^[a-z0-9-]{1,40}$/.test(value)) throw badRequest(`${this.name} must be a slug [a-z0-9-]{1,40}`);
    return value;
  }
}

export const SlugParam = (name: string) => Param(name, new SlugPipe(name));
