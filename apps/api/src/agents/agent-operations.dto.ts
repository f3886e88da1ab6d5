import { ApiProperty } from '@nestjs/swagger';
import { BoundedString } from '../http/fields';
import { SERVICE_STATUSES } from './agent-work.dto';

// Bodies of the operators' agent routes: keys, decommissioning, queues.

export const DECOMMISSIONING = 'agent-decommissioning';

export class CreateAgentKeyDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'billing-bot on k8s' })
  @BoundedString(200)
  name: string;
}

export class AgentKeyCreatedDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'the secret; shown only in this response' }) key: string;
  @ApiProperty({ format: 'uuid', description: 'the agent the key acts as' }) agentId: string;
}

export class DecommissionAgentDto {
  @ApiProperty({ minLength: 1, maxLength: 1000, example: 'replaced by billing-bot-v2' })
  @BoundedString(1000)
  reason: string;
}

export class AgentDecommissioningAcceptedDto {
  @ApiProperty({ format: 'uuid' }) sagaId: string;
  @ApiProperty({ enum: [DECOMMISSIONING] }) type: typeof DECOMMISSIONING;
  @ApiProperty({ example: 'RUNNING' }) status: string;
  @ApiProperty({ example: '/v1/sagas/6f1c0a4e-6d8e-4a53-9b7a-0c5f1b2d3e4f' }) location: string;
}

/** Instances of the agents that serve a capability, by health. */
export class QueueAgentsDto {
  @ApiProperty() HEALTHY: number;
  @ApiProperty() DEGRADED: number;
  @ApiProperty() UNHEALTHY: number;
  @ApiProperty() OFFLINE: number;
}

export class QueueDto {
  @ApiProperty({ example: 'invoices' }) capability: string;
  @ApiProperty({ description: 'tasks ready to be taken' }) pending: number;
  @ApiProperty({ description: 'tasks an instance holds' }) locked: number;
  @ApiProperty({ description: 'tasks held back by queue.delayMs' }) delayed: number;
  @ApiProperty({ description: 'age of the oldest pending task (0 when none)' }) oldestPendingAgeMs: number;
  @ApiProperty({ type: QueueAgentsDto, description: `the tenant's agents with this capability, by service status (${SERVICE_STATUSES.join(', ')})` }) agents: QueueAgentsDto;
}
