import { Type } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Page } from './keyset-page';

/** What the two fields of a page say in the OpenAPI document (the item order, when the cursor comes). */
export interface PageDocs {
  items?: string;
  nextCursor: string;
}

/**
 * The answer of a list route, as a base class of its page DTO (`class AgentPageDto extends
 * PageDto(AgentDto) {}`): the subclass names the OpenAPI schema, this class gives it its fields.
 */
export function PageDto<T>(item: Type<T>, docs: PageDocs = { nextCursor: 'present when more items follow' }): Type<Page<T>> {
  class PageOf implements Page<T> {
    @ApiProperty({ type: [item], ...(docs.items === undefined ? {} : { description: docs.items }) })
    items: T[];

    @ApiPropertyOptional({ description: docs.nextCursor })
    nextCursor?: string;
  }
  return PageOf;
}
