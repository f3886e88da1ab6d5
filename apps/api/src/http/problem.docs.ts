import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, ApiSchema, getSchemaPath } from '@nestjs/swagger';

@ApiSchema({ name: 'ProblemFieldError' })
class ProblemFieldErrorDto {
  @ApiProperty({ description: 'the field (dotted path) that was refused', example: 'quota.cpuMillis' }) field: string;
  @ApiProperty({ example: 'cpuMillis must not be less than 1' }) message: string;
}

/** RFC 7807 problem details (`application/problem+json`): the body of every error answer. */
@ApiSchema({ name: 'Problem', description: 'RFC 7807 problem details, as every error of the API is answered' })
export class ProblemDto {
  @ApiProperty({ example: 'https://saga-platform.dev/problems/not-found' }) type: string;
  @ApiProperty({ example: 'Not Found' }) title: string;
  @ApiProperty({ type: 'integer', example: 404 }) status: number;
  @ApiProperty({ example: 'saga 5f0c… not found' }) detail: string;
  @ApiPropertyOptional({ type: [ProblemFieldErrorDto], description: 'one entry per refused field (400 validation failures)' }) errors?: ProblemFieldErrorDto[];
}

/** The error statuses of API.md, with what they mean when a route does not say more. */
const MEANING = {
  400: 'the body, a path or a query parameter fails validation (with errors)',
  401: 'no or unknown api key',
  403: 'role too low',
  404: "unknown id, or another tenant's",
  409: 'conflict',
  413: 'body over 1 MiB',
  415: 'body that is not application/json',
  422: 'a domain rule refuses the command',
  503: 'database unreachable or not answering',
} as const;

export type ProblemStatus = keyof typeof MEANING;

/** The problem+json answer of one status: its meaning and the Problem schema. */
export const problemResponse = (status: ProblemStatus, description: string = MEANING[status]) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDto) } } },
});

/**
 * The error answers of a route or controller, each a problem+json body: a status, or a status with
 * what it means on that route (`[404, 'unknown saga']`).
 */
export const ApiProblems = (...answers: (ProblemStatus | [ProblemStatus, string])[]) =>
  applyDecorators(
    ApiExtraModels(ProblemDto),
    ...answers.map((answer) => {
      const [status, description] = Array.isArray(answer) ? answer : [answer, undefined];
      return ApiResponse({ status, ...problemResponse(status, description) });
    }),
  );
