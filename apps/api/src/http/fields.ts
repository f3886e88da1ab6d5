import { applyDecorators } from '@nestjs/common';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsNotEmptyObject, IsNumber, IsObject, IsString, Max, MaxLength, Min, MinLength, registerDecorator, ValidateIf, ValidateNested } from 'class-validator';

// Validation stacks that the request DTOs repeat. Each lists its decorators bottom-up, the order
// in which they would apply when written above a field, so the error messages keep their order.

/** A string of 1 to `max` characters. */
export const BoundedString = (max: number) => applyDecorators(MaxLength(max), MinLength(1), IsString());

/** An integer within `[min, max]`. */
export const BoundedInt = (min: number, max: number) => applyDecorators(Max(max), Min(min), IsInt());

/** A finite number within `[min, max]`, fractions allowed. */
export const BoundedNumber = (min: number, max: number) => applyDecorators(Max(max), Min(min), IsNumber({ allowNaN: false, allowInfinity: false }));

/** An array of at most `maxItems` strings of 1 to `maxLength` characters each. */
export const StringList = (maxItems: number, maxLength: number) =>
  applyDecorators(MaxLength(maxLength, { each: true }), MinLength(1, { each: true }), IsString({ each: true }), ArrayMaxSize(maxItems), IsArray());

/** An object validated as a `type` (not empty: `{}` is refused). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const Nested = (type: () => Function) => applyDecorators(Type(type), ValidateNested(), IsNotEmptyObject());

/** An object validated as a `type` whose fields are all optional (`{}` is accepted). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const NestedObject = (type: () => Function) => applyDecorators(Type(type), ValidateNested(), IsObject());

/** A number not less than the sibling field `other` (when that one is a number too: its own checks report it otherwise). */
export const NotLessThan =
  (other: string): PropertyDecorator =>
  (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'notLessThan',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [other],
      options: { message: `$property must not be less than ${other}` },
      validator: {
        validate: (value: unknown, args) => {
          const bound = (args?.object as Record<string, unknown>)[other];
          return typeof value !== 'number' || typeof bound !== 'number' || value >= bound;
        },
      },
    });

/** An optional field: absent is fine, `null` is not (IsOptional would let null through unchecked). */
export const OptionalNotNull = () => ValidateIf((_object: unknown, value: unknown) => value !== undefined);
