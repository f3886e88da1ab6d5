import { applyDecorators, Get, Type } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { ApiProblems } from './problem.docs';

/**
 * `GET` on the controller's path, answering a page: the list route of a collection (400 for a query
 * that fails validation or a forged cursor). Decorators listed bottom-up, in the order they would
 * apply when written above the handler.
 */
export const ListRoute = (summary: string, page: Type<unknown>, description: string) =>
  applyDecorators(ApiProblems([400, 'a query parameter or the cursor fails validation']), ApiOkResponse({ type: page }), ApiOperation({ summary, description }), Get());
