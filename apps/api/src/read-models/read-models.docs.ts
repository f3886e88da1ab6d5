import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';

/** Error answers shared by the read-model routes (client role and up, tenant-scoped). */
export const READ_MODEL_ERRORS = () =>
  applyDecorators(
    ApiUnauthorizedResponse({ description: 'no or unknown api key' }),
    ApiBadRequestResponse({ description: 'a query parameter fails validation (problem+json with errors)' }),
  );
