import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsString, Matches, registerDecorator, ValidationOptions } from 'class-validator';
import { isIanaTimeZone, MAX_CRON_LENGTH, SCHEDULE_ID_PATTERN, SCHEDULE_OVERLAPS, ScheduleOverlap, timingProblems } from '@app/domain';
import { PageDto } from '../http/page.dto';
import { PageQueryDto } from '../http/page-query.dto';
import { BoundedString, OptionalNotNull } from '../http/fields';
import { IsJsonObject } from '../streams/streams.validators';

/** The saga types a schedule may start (the ones with a start route). */
export const SCHEDULABLE_SAGA_TYPES = ['task-workflow', 'agent-provisioning'] as const;
export type SchedulableSagaType = (typeof SCHEDULABLE_SAGA_TYPES)[number];

const SCHEDULES_PAGE = 100;

/** A five-field cron expression croner reads (its own message says what is wrong). */
function IsCron(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isCron',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown) => timingProblems(value, 'UTC').every((p) => p.field !== 'cron'),
        defaultMessage: (args) => timingProblems(args?.value, 'UTC').find((p) => p.field === 'cron')?.message ?? 'cron is invalid',
      },
    });
}

function IsTimeZone(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isTimeZone',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must be an IANA time zone name, e.g. Europe/Berlin or UTC', ...options },
      validator: { validate: (value: unknown) => typeof value === 'string' && isIanaTimeZone(value) },
    });
}

export class CreateScheduleDto {
  @ApiPropertyOptional({ pattern: SCHEDULE_ID_PATTERN.source, example: 'nightly-import', description: 'a slug of your choosing; default: a generated UUID' })
  @OptionalNotNull()
  @IsString()
  @Matches(SCHEDULE_ID_PATTERN, { message: `id must match ${SCHEDULE_ID_PATTERN.source}` })
  id?: string;

  @ApiProperty({ maxLength: MAX_CRON_LENGTH, example: '30 2 * * *', description: 'standard five-field cron: minute hour day-of-month month day-of-week (no seconds)' })
  @IsCron()
  @BoundedString(MAX_CRON_LENGTH)
  cron: string;

  @ApiPropertyOptional({ default: 'UTC', example: 'Europe/Berlin', description: 'IANA time zone the cron is read in (daylight saving included)' })
  @OptionalNotNull()
  @IsTimeZone()
  @BoundedString(100)
  timezone?: string;

  @ApiProperty({ enum: SCHEDULABLE_SAGA_TYPES })
  @IsIn(SCHEDULABLE_SAGA_TYPES)
  sagaType: SchedulableSagaType;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'the start body of sagaType, as POST /v1/sagas/{sagaType} takes it (a task workflow may name a stored definition: { definition: { name, version? }, input? }, resolved at each fire)',
  })
  @IsJsonObject()
  body: Record<string, unknown>;

  @ApiPropertyOptional({ enum: SCHEDULE_OVERLAPS, default: 'skip', description: 'skip: no fire while the previous saga of this schedule is not terminal (the fire is recorded as skipped)' })
  @OptionalNotNull()
  @IsIn(SCHEDULE_OVERLAPS)
  overlap?: ScheduleOverlap;

  @ApiPropertyOptional({ default: false, description: 'create it paused' })
  @OptionalNotNull()
  @IsBoolean()
  paused?: boolean;
}

export class ScheduleRunDto {
  @ApiProperty({ format: 'date-time', description: 'the cron time of the fire' }) at: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'the saga it started (absent while it is being started)' }) sagaId?: string;
  @ApiPropertyOptional({ description: 'true: not fired, the previous saga was still running (overlap skip)' }) skipped?: boolean;
  @ApiPropertyOptional({ description: 'the saga could not be started (e.g. its workflow definition is gone)' }) error?: string;
}

export class ScheduleDto {
  @ApiProperty({ example: 'nightly-import' }) id: string;
  @ApiProperty({ example: '30 2 * * *' }) cron: string;
  @ApiProperty({ example: 'Europe/Berlin' }) timezone: string;
  @ApiProperty({ enum: SCHEDULABLE_SAGA_TYPES }) sagaType: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'the next cron time from now; null while paused' }) nextRunAt: string | null;
  @ApiProperty() paused: boolean;
  @ApiProperty({ enum: SCHEDULE_OVERLAPS }) overlap: ScheduleOverlap;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'the start body of each fire' }) body: Record<string, unknown>;
  @ApiProperty({ type: [ScheduleRunDto], description: 'the latest fires, newest first (at most 20)' }) recentRuns: ScheduleRunDto[];
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class SchedulePageDto extends PageDto(ScheduleDto, { items: 'newest first', nextCursor: 'pass as `cursor` for the next page; absent on the last page' }) {}

export class ListSchedulesQueryDto extends PageQueryDto(SCHEDULES_PAGE) {}
