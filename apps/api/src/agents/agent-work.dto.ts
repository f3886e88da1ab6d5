import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, IsUUID, Matches } from 'class-validator';
import type { InstanceReportedStatus, ServiceStatus } from '@app/agents';
import { AnyJsonProperty } from '../http/any-json.docs';
import { BoundedInt, BoundedNumber, BoundedString, Nested, NestedObject, OptionalNotNull } from '../http/fields';
import { IsStorableJson } from '../streams/streams.validators';
import { MAX_RESOURCE } from '../sagas/start-agent-provisioning.dto';
import { PRIORITIES } from '../sagas/start-task-workflow.dto';

// Request and answer bodies of the agent work protocol (API.md "Agents: the work protocol").

export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;
export const REPORTED_STATUSES: InstanceReportedStatus[] = ['HEALTHY', 'DEGRADED'];
export const SERVICE_STATUSES: ServiceStatus[] = ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'OFFLINE'];
const MAX_LOCK_MS = 600_000;
const MIN_LOCK_MS = 1000;
const MAX_WAIT_MS = 30_000;
const MAX_TASKS = 100;
const MAX_MESSAGE = 4000;

/** `instanceId`: the instance's own name, 1 to 200 characters `[A-Za-z0-9_.:-]` (a host name, a pod name, a uuid). */
const InstanceId = () =>
  applyDecorators(
    Matches(INSTANCE_ID_PATTERN, { message: 'instanceId must be 1 to 200 characters [A-Za-z0-9_.:-]' }),
    IsString(),
    ApiProperty({ pattern: INSTANCE_ID_PATTERN.source, maxLength: 200, example: 'billing-bot-7d9f-1', description: "the instance's own name, the same in its heartbeats and polls" }),
  );

/** The token of the current lock, as the poll answered it. */
const LockToken = () =>
  applyDecorators(
    IsUUID(undefined, { message: 'lockToken must be a UUID' }),
    ApiProperty({ format: 'uuid', description: 'the lockToken the poll answered; one that is no longer current is refused with 409 LOCK_LOST' }),
  );

export class InstanceLoadDto {
  @ApiPropertyOptional({ minimum: 0, maximum: 100_000, example: 42.5, description: 'CPU use in percent of one core (may exceed 100 on several cores)' })
  @OptionalNotNull()
  @BoundedNumber(0, 100_000)
  cpuPercent?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: MAX_RESOURCE, example: 256 })
  @OptionalNotNull()
  @BoundedNumber(0, MAX_RESOURCE)
  memoryMb?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1_000_000, example: 2, description: 'tasks the instance is working on' })
  @OptionalNotNull()
  @BoundedInt(0, 1_000_000)
  inFlight?: number;
}

export class AgentHeartbeatDto {
  @InstanceId()
  instanceId: string;

  @ApiPropertyOptional({ enum: REPORTED_STATUSES, default: 'HEALTHY', description: 'DEGRADED: the instance works, but says it is impaired' })
  @OptionalNotNull()
  @IsIn(REPORTED_STATUSES)
  status?: InstanceReportedStatus;

  @ApiPropertyOptional({ type: InstanceLoadDto, description: 'what the instance reports of its load (PERFORMANCE_BASED scaling reads cpuPercent)' })
  @OptionalNotNull()
  @NestedObject(() => InstanceLoadDto)
  load?: InstanceLoadDto;
}

export class AgentHeartbeatAckDto {
  @ApiProperty({ format: 'uuid' }) agentId: string;
  @ApiProperty() instanceId: string;
  @ApiProperty({ enum: SERVICE_STATUSES, description: "the agent's service status: its best instance's" }) serviceStatus: ServiceStatus;
  @ApiProperty({ example: 10_000, description: 'heartbeat at least this often; 3 intervals of silence make the instance UNHEALTHY, 6 OFFLINE' })
  heartbeatIntervalMs: number;
}

export class PollAgentTasksDto {
  @InstanceId()
  instanceId: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_TASKS, default: 1 })
  @OptionalNotNull()
  @BoundedInt(1, MAX_TASKS)
  maxTasks?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: MAX_WAIT_MS, default: 0, description: 'long poll: answer with [] after this long when no task comes' })
  @OptionalNotNull()
  @BoundedInt(0, MAX_WAIT_MS)
  waitMs?: number;

  @ApiPropertyOptional({ minimum: MIN_LOCK_MS, maximum: MAX_LOCK_MS, default: 60_000, description: 'how long the tasks stay locked to this instance (extend to keep them longer)' })
  @OptionalNotNull()
  @BoundedInt(MIN_LOCK_MS, MAX_LOCK_MS)
  lockMs?: number;
}

export class PolledTaskDto {
  @ApiProperty({ format: 'uuid' }) taskId: string;
  @ApiProperty({ format: 'uuid', description: 'pass it to complete, fail, extend and progress' }) lockToken: string;
  @ApiProperty({ format: 'date-time' }) lockedUntil: string;
  @ApiProperty({ format: 'uuid' }) sagaId: string;
  @ApiProperty({ example: 'invoices', description: 'the capability the task was queued for (`initial` for an initial task)' }) capability: string;
  @ApiProperty({ enum: PRIORITIES }) priority: string;
  @ApiProperty({ example: 1, description: 'the attempt of the step, from 1' }) attempt: number;
  @AnyJsonProperty("the task's config with its templates rendered") input: unknown;
  @ApiPropertyOptional({ description: 'W3C trace context of the saga step' }) traceparent?: string;
}

export class PolledTasksDto {
  @ApiProperty({ type: [PolledTaskDto], description: 'highest priority first, then oldest; empty when none came within waitMs' })
  tasks: PolledTaskDto[];
}

export class CompleteAgentTaskDto {
  @LockToken()
  lockToken: string;

  @AnyJsonProperty("the task's output (any JSON)", { required: false })
  @IsOptional()
  @IsStorableJson()
  output?: unknown;
}

export class AgentTaskErrorDto {
  @ApiProperty({ minLength: 1, maxLength: MAX_MESSAGE, example: 'upstream answered 503' })
  @BoundedString(MAX_MESSAGE)
  message: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: 100, example: 'UPSTREAM_UNAVAILABLE' })
  @OptionalNotNull()
  @BoundedString(100)
  code?: string;
}

export class FailAgentTaskDto {
  @LockToken()
  lockToken: string;

  @ApiProperty({ type: AgentTaskErrorDto })
  @Nested(() => AgentTaskErrorDto)
  error: AgentTaskErrorDto;

  @ApiPropertyOptional({ default: true, description: "false: no retry, whatever the task's retry policy" })
  @OptionalNotNull()
  @IsBoolean()
  retryable?: boolean;
}

export class ExtendAgentTaskLockDto {
  @LockToken()
  lockToken: string;

  @ApiProperty({ minimum: MIN_LOCK_MS, maximum: MAX_LOCK_MS, example: 60_000, description: 'the lock then runs until now + lockMs' })
  @BoundedInt(MIN_LOCK_MS, MAX_LOCK_MS)
  lockMs: number;
}

export class AgentTaskLockDto {
  @ApiProperty({ format: 'date-time' }) lockedUntil: string;
}

export class AgentTaskProgressDto {
  @LockToken()
  lockToken: string;

  @ApiProperty({ minimum: 0, maximum: 100, example: 40 })
  @BoundedNumber(0, 100)
  percent: number;

  @ApiPropertyOptional({ minLength: 1, maxLength: MAX_MESSAGE, example: 'page 4 of 10' })
  @OptionalNotNull()
  @BoundedString(MAX_MESSAGE)
  message?: string;
}

export class AgentTaskAckDto {
  @ApiProperty({ format: 'uuid', description: 'the task, as acknowledged' }) taskId: string;
}
