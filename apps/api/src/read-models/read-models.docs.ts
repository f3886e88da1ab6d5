import { applyDecorators, Controller, Get, Type } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../http/problem.docs';

// Decorators listed bottom-up, in the order they would apply when written above the class or handler.

/** A read-model controller at `path`: client role and up, tenant-scoped (401 and 503 are added to every /v1 route). */
export const ReadModelController = (path: string) => applyDecorators(Controller(path), ApiBearerAuth(), ApiTags('read models'));

/** `GET :param` of a read model: one item, 404 (`notFound` says when) if there is none in the tenant's scope. */
export const ItemRoute = (param: string, summary: string, item: Type<unknown>, notFound: string, description: string) =>
  applyDecorators(
    ApiProblems([400, `${param} is not a UUID`], [404, notFound]),
    ApiOkResponse({ type: item }),
    ApiOperation({ summary, description }),
    Get(`:${param}`),
  );
