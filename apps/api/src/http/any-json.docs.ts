import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/**
 * Any JSON value (handler output, message payloads). Declared as one of the JSON types: without
 * them the TypeScript `unknown` is documented as an object, and validating clients or proxies
 * refuse a string or number output.
 */
const anyJson = (nullable: boolean) => [
  // OpenAPI 3.0 has no null type: `nullable` belongs to a typed branch (one only, so null matches once).
  { type: 'object', additionalProperties: true, ...(nullable ? { nullable } : {}) },
  { type: 'array', items: {} },
  { type: 'string' },
  { type: 'number' },
  { type: 'boolean' },
];

export const AnyJsonProperty = (description: string, options: { nullable?: boolean; required?: boolean } = {}) =>
  (options.required === false ? ApiPropertyOptional : ApiProperty)({ description, oneOf: anyJson(options.nullable ?? false) });
