import { applyDecorators, Controller, Get, Type } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';

// Decorators listed bottom-up, in the order they would apply when written above the class or handler.

/** A read-model controller at `path`: client role and up, tenant-scoped, with the error answers they share. */
export const ReadModelController = (path: string) =>
  applyDecorators(
    Controller(path),
    ApiUnauthorizedResponse({ description: 'no or unknown api key' }),
    ApiBadRequestResponse({ description: 'a query parameter fails validation (problem+json with errors)' }),
    ApiBearerAuth(),
    ApiTags('read models'),
  );

/** `GET :param` of a read model: one item, 404 (`notFound` says when) if there is none in the tenant's scope. */
export const ItemRoute = (param: string, summary: string, item: Type<unknown>, notFound: string) =>
  applyDecorators(ApiNotFoundResponse({ description: notFound }), ApiOkResponse({ type: item }), ApiOperation({ summary }), Get(`:${param}`));
