import { Body, Controller, Get, Inject, Param, PipeTransform, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Response } from 'express';
import { Pool } from 'pg';
import { MAX_WORKFLOW_VERSION, WORKFLOW_DEFINITION_NAME_PATTERN } from '@app/domain';
import { DOMAIN_COMMANDS, PG_POOL } from '@app/platform';
import { defineWorkflowVersion, DomainCommandDispatcher, loadWorkflowDefinition, TaskHandlerRegistry } from '@app/sagas';
import { ActingTenant, Caller, CorrelationId, actorOf, TenantScope } from '../auth/principal.decorator';
import { Principal } from '../auth/auth.types';
import { ListRoute } from '../http/list-route.decorator';
import { badRequest, notFound } from '../http/problem';
import { ApiProblems } from '../http/problem.docs';
import {
  CreateWorkflowDefinitionDto,
  ListWorkflowDefinitionsQueryDto,
  WorkflowDefinitionCreatedDto,
  WorkflowDefinitionDto,
  WorkflowDefinitionPageDto,
  WorkflowDefinitionVersionDto,
} from './workflow-definitions.dto';
import { workflowDefinitionsPage } from './workflow-definitions.queries';

class NamePipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (typeof value !== 'string' || !WORKFLOW_DEFINITION_NAME_PATTERN.test(value)) {
      throw badRequest('name is not a workflow definition name', [{ field: 'name', message: `must match ${WORKFLOW_DEFINITION_NAME_PATTERN.source}` }]);
    }
    return value;
  }
}

class VersionPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    const version = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : NaN;
    if (!(Number.isInteger(version) && version >= 1 && version <= MAX_WORKFLOW_VERSION)) {
      throw badRequest('version is not a version number', [{ field: 'version', message: `must be an integer from 1 to ${MAX_WORKFLOW_VERSION}` }]);
    }
    return version;
  }
}

/**
 * A version number from the path. Not typed `number`: the global ValidationPipe would convert the
 * text with Number() first (`1e3` would become 1000) before VersionPipe could refuse it.
 */
type VersionNumber = number & { readonly kind?: 'version' };

const NOT_FOUND = "unknown definition, or another tenant's";

/**
 * Stored, versioned task workflows of the tenant (the admin key acts for the tenant named by
 * X-Tenant-Id; its list shows every tenant's). A definition and its versions are read from its
 * stream (`workflowdef-<tenantId>.<name>`), strongly consistent; the list from the read model.
 */
@ApiTags('workflow definitions')
@ApiBearerAuth()
@Controller('v1/workflow-definitions')
export class WorkflowDefinitionsController {
  constructor(
    @Inject(DOMAIN_COMMANDS) private readonly commands: DomainCommandDispatcher,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly handlers: TaskHandlerRegistry,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Store a workflow definition version',
    description:
      'Validates the workflow as a task-workflow start is validated and stores it as `version` (default: the latest + 1). Versions never change: the same version again with the same body answers 200 with the stored one, with another body 409.',
  })
  @ApiCreatedResponse({ type: WorkflowDefinitionCreatedDto, description: 'the version is stored' })
  @ApiOkResponse({ type: WorkflowDefinitionCreatedDto, description: 'this version was stored before with the same body' })
  @ApiProblems([400, 'invalid body, cycle, unknown dependency or handler, bad template reference, duplicate ids'], [409, 'this version exists with another body'])
  async createWorkflowDefinition(
    @Body() body: CreateWorkflowDefinitionDto,
    @ActingTenant() tenantId: string,
    @Caller() caller: Principal,
    @CorrelationId() correlationId: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<WorkflowDefinitionCreatedDto> {
    // Stored as plain JSON (no DTO class instances): the same body compares equal on a retry.
    const { name, version, ...definition } = JSON.parse(JSON.stringify(body)) as CreateWorkflowDefinitionDto;
    const stored = await defineWorkflowVersion(this.commands, this.handlers.names(), {
      tenantId,
      name,
      version,
      body: definition,
      metadata: { correlationId, actor: actorOf(caller) },
    });
    res.status(stored.created ? 201 : 200);
    res.setHeader('Location', `/v1/workflow-definitions/${name}/versions/${stored.version}`);
    return { name, version: stored.version, createdAt: stored.createdAt };
  }

  @ListRoute('List workflow definitions', WorkflowDefinitionPageDto, "The tenant's workflow definitions (admin: every tenant's) by name, with their latest version; keyset-paged.")
  listWorkflowDefinitions(@Query() q: ListWorkflowDefinitionsQueryDto, @TenantScope() tenantId?: string): Promise<WorkflowDefinitionPageDto> {
    return workflowDefinitionsPage(this.pool, { ...q, tenantId });
  }

  @Get(':name')
  @ApiOperation({ summary: 'Get a workflow definition', description: 'Its versions, oldest first.' })
  @ApiOkResponse({ type: WorkflowDefinitionDto })
  @ApiProblems([400, 'name is not a definition name'], [404, NOT_FOUND])
  async getWorkflowDefinition(@Param('name', new NamePipe()) name: string, @ActingTenant() tenantId: string): Promise<WorkflowDefinitionDto> {
    const definition = await loadWorkflowDefinition(this.commands, tenantId, name);
    if (!definition) throw notFound(`workflow definition ${name} not found`);
    return { name, versions: definition.versions.map(({ version, createdAt }) => ({ version, createdAt })) };
  }

  @Get(':name/versions/:version')
  @ApiOperation({ summary: 'Get a workflow definition version', description: 'The stored body of one version.' })
  @ApiParam({ name: 'version', schema: { type: 'integer', minimum: 1, maximum: MAX_WORKFLOW_VERSION } })
  @ApiOkResponse({ type: WorkflowDefinitionVersionDto })
  @ApiProblems([400, 'name or version is malformed'], [404, `${NOT_FOUND}, or no such version`])
  async getWorkflowDefinitionVersion(
    @Param('name', new NamePipe()) name: string,
    @Param('version', new VersionPipe()) version: VersionNumber,
    @ActingTenant() tenantId: string,
  ): Promise<WorkflowDefinitionVersionDto> {
    const definition = await loadWorkflowDefinition(this.commands, tenantId, name);
    const stored = definition?.versions.find((v) => v.version === version);
    if (!stored) throw notFound(`workflow definition ${name} has no version ${version}`);
    return { name, version, ...(stored.definition as Omit<WorkflowDefinitionVersionDto, 'name' | 'version' | 'createdAt'>), createdAt: stored.createdAt };
  }
}
