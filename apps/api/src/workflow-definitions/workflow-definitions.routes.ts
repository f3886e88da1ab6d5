import { Type } from '@nestjs/common';
import { WorkflowDefinitionsController } from './workflow-definitions.controller';

/** The workflow-definition routes (registered in ../routes.ts). */
export const WORKFLOW_DEFINITION_CONTROLLERS: Type<unknown>[] = [WorkflowDefinitionsController];
