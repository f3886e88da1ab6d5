import { applyDecorators, Get, Type } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';

/**
 * `GET` on the controller's path, answering a page: the list route of a collection. Decorators
 * listed bottom-up, in the order they would apply when written above the handler.
 */
export const ListRoute = (summary: string, page: Type<unknown>) => applyDecorators(ApiOkResponse({ type: page }), ApiOperation({ summary }), Get());
