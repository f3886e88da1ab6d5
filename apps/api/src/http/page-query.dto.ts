import { Type } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';
import { CURSOR_MESSAGE, CURSOR_PATTERN, PageQuery } from './keyset-page';
import { OptionalQueryInt } from './params';

export const MAX_PAGE_SIZE = 500;

/**
 * `limit` and `cursor` of a list route, as a base class of its query DTO: `defaultLimit` is the
 * route's page size when `limit` is absent (filled in here, so the handler always has one);
 * `cursorPattern` what that route's cursors look like (the keyset cursors by default).
 */
export function PageQueryDto(defaultLimit: number, cursorPattern: RegExp = CURSOR_PATTERN): Type<PageQuery> {
  class Page implements PageQuery {
    @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: defaultLimit })
    @OptionalQueryInt(1, MAX_PAGE_SIZE)
    limit: number = defaultLimit;

    @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
    @IsOptional()
    @IsString()
    @Matches(cursorPattern, { message: CURSOR_MESSAGE })
    cursor?: string;
  }
  return Page;
}
