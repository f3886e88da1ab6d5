import { applyDecorators } from '@nestjs/common';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsNotEmptyObject, IsString, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';

// Validation stacks that the request DTOs repeat. Each lists its decorators bottom-up, the order
// in which they would apply when written above a field, so the error messages keep their order.

/** A string of 1 to `max` characters. */
export const BoundedString = (max: number) => applyDecorators(MaxLength(max), MinLength(1), IsString());

/** An integer within `[min, max]`. */
export const BoundedInt = (min: number, max: number) => applyDecorators(Max(max), Min(min), IsInt());

/** An array of at most `maxItems` strings of 1 to `maxLength` characters each. */
export const StringList = (maxItems: number, maxLength: number) =>
  applyDecorators(MaxLength(maxLength, { each: true }), MinLength(1, { each: true }), IsString({ each: true }), ArrayMaxSize(maxItems), IsArray());

/** An object validated as a `type` (not empty: `{}` is refused). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const Nested = (type: () => Function) => applyDecorators(Type(type), ValidateNested(), IsNotEmptyObject());
