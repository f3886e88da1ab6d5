import { Type } from '@nestjs/common';
import { AgentOperationsController } from './agent-operations.controller';
import { AgentWorkController } from './agent-work.controller';

/** The agent routes (registered in ../routes.ts): the work protocol of agent keys, and the operators' agent routes. */
export const AGENT_CONTROLLERS: Type<unknown>[] = [AgentWorkController, AgentOperationsController];
