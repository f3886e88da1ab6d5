import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';
import { PageDto } from '../http/page.dto';
import { PageQueryDto } from '../http/page-query.dto';
import { AnyJsonProperty } from '../http/any-json.docs';

/** Dead-letter ids of both bus adapters: a counter (in-memory) or a Redis stream entry id. */
export const DEAD_LETTER_ID_PATTERN = /^\d{1,20}(-\d{1,20})?$/;
export const TOPIC_PATTERN = /^[A-Za-z0-9._:\/-]{1,200}$/;

export class ListDeadLettersQueryDto extends PageQueryDto(100, DEAD_LETTER_ID_PATTERN) {
  @ApiPropertyOptional({ example: 'saga.events', pattern: TOPIC_PATTERN.source })
  @IsOptional()
  @IsString()
  @Matches(TOPIC_PATTERN, { message: 'topic must be 1 to 200 characters [A-Za-z0-9._:/-]' })
  topic?: string;
}

export class DeadLetterMessageDto {
  @ApiProperty({ description: "the publisher's message id" }) id: string;
  @ApiPropertyOptional({ description: 'ordering key' }) key?: string;
  @AnyJsonProperty('the message body (any JSON)') payload: unknown;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) headers: Record<string, string>;
}

export class DeadLetterDto {
  @ApiProperty({ description: 'id of the dead letter (pass it to replay)' }) id: string;
  @ApiProperty() topic: string;
  @ApiProperty({ type: DeadLetterMessageDto }) message: DeadLetterMessageDto;
  @ApiProperty({ description: 'the last handler error, or why the message was never acknowledged' }) reason: string;
  @ApiProperty({ description: 'failed deliveries before it was dead-lettered' }) deliveries: number;
  @ApiProperty({ format: 'date-time', description: 'when it was dead-lettered' }) at: string;
}

export class DeadLetterPageDto extends PageDto(DeadLetterDto, { items: 'oldest first', nextCursor: 'present when the page is full: more may follow' }) {}

export class ReplayAcceptedDto {
  @ApiProperty() id: string;
  @ApiProperty({ description: 'the topic the message was delivered to again' }) topic: string;
}
