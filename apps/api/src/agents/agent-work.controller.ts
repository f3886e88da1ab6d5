import { applyDecorators, Body, Controller, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Response } from 'express';
import { AGENT_WORK, AgentPrincipal, AgentWork } from '@app/agents';
import { AgentOnly } from '../auth/auth.types';
import { AgentCaller } from '../auth/principal.decorator';
import { untilClientGone } from '../http/client-gone';
import { UuidOr404Param } from '../http/params';
import { ApiProblems } from '../http/problem.docs';
import {
  AgentHeartbeatAckDto,
  AgentHeartbeatDto,
  AgentTaskAckDto,
  AgentTaskLockDto,
  AgentTaskProgressDto,
  CompleteAgentTaskDto,
  ExtendAgentTaskLockDto,
  FailAgentTaskDto,
  PollAgentTasksDto,
  PolledTasksDto,
} from './agent-work.dto';

const LOCK_REFUSALS: [409, string] = [409, 'LOCK_LOST: the lockToken is no longer the current one (the lock expired and the task went on); TASK_CANCELLED: the saga was cancelled'];

/** `POST /v1/agent/tasks/{taskId}/{action}` of the instance that holds the task's lock (decorators bottom-up). */
const TaskAction = (action: string, summary: string, description: string, ok: { type: new () => unknown; description: string }) =>
  applyDecorators(
    ApiProblems([404, "unknown task (or not a UUID), or another tenant's"], LOCK_REFUSALS),
    ApiOkResponse(ok),
    ApiParam({ name: 'taskId', format: 'uuid', description: 'the taskId the poll answered' }),
    ApiOperation({ summary, description }),
    HttpCode(200),
    Post(`tasks/:taskId/${action}`),
  );

/**
 * The work protocol of agent instances (API.md "Agents: the work protocol"). The agent is always the
 * key's: the routes take no agent or tenant from the request.
 */
@ApiTags('agents')
@ApiBearerAuth()
@ApiProblems([403, 'not an agent key'])
@AgentOnly()
@Controller('v1/agent')
export class AgentWorkController {
  constructor(@Inject(AGENT_WORK) private readonly work: AgentWork) {}

  @Post('heartbeat')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Heartbeat of an agent instance',
    description: "Says that the instance lives (and how loaded it is); answers the agent's service status and how often to heartbeat. An instance heartbeats before it polls.",
  })
  @ApiOkResponse({ type: AgentHeartbeatAckDto })
  @ApiProblems([409, 'AGENT_DECOMMISSIONING: the agent is being decommissioned'])
  agentHeartbeat(@Body() body: AgentHeartbeatDto, @AgentCaller() agent: AgentPrincipal): Promise<AgentHeartbeatAckDto> {
    return this.work.heartbeat(agent, body);
  }

  @Post('tasks/poll')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Poll for tasks (long poll)',
    description:
      "Locks up to maxTasks of the tasks queued for the agent's capabilities (and its initial task), highest priority first, then oldest; waits up to waitMs for one to come, else answers an empty list. A client that goes away ends its wait.",
  })
  @ApiOkResponse({ type: PolledTasksDto })
  @ApiProblems([409, 'AGENT_DECOMMISSIONING: the agent is being decommissioned; INSTANCE_OFFLINE: the instance must heartbeat first'])
  async pollAgentTasks(@Body() body: PollAgentTasksDto, @AgentCaller() agent: AgentPrincipal, @Res({ passthrough: true }) res: Response): Promise<PolledTasksDto> {
    const tasks = await untilClientGone(res, (signal) => this.work.poll(agent, body, signal));
    return { tasks };
  }

  @TaskAction('complete', 'Complete a task', "Records the task's output; the saga goes on from it.", { type: AgentTaskAckDto, description: 'the task is completed' })
  async completeAgentTask(@UuidOr404Param('taskId', 'task') taskId: string, @Body() body: CompleteAgentTaskDto, @AgentCaller() agent: AgentPrincipal): Promise<AgentTaskAckDto> {
    await this.work.complete(agent, taskId, body);
    return { taskId };
  }

  @TaskAction('fail', 'Fail a task', "Records the attempt's failure; the task's retry policy decides what follows (never a retry with retryable: false).", {
    type: AgentTaskAckDto,
    description: 'the failure is recorded',
  })
  async failAgentTask(@UuidOr404Param('taskId', 'task') taskId: string, @Body() body: FailAgentTaskDto, @AgentCaller() agent: AgentPrincipal): Promise<AgentTaskAckDto> {
    await this.work.fail(agent, taskId, body);
    return { taskId };
  }

  @TaskAction('extend', "Extend a task's lock", 'Keeps the task locked to this instance for lockMs from now.', { type: AgentTaskLockDto, description: 'the lock runs until lockedUntil' })
  extendAgentTaskLock(@UuidOr404Param('taskId', 'task') taskId: string, @Body() body: ExtendAgentTaskLockDto, @AgentCaller() agent: AgentPrincipal): Promise<AgentTaskLockDto> {
    return this.work.extend(agent, taskId, body);
  }

  @TaskAction('progress', "Report a task's progress", "Shows as the step's progress in the saga view.", { type: AgentTaskAckDto, description: 'the progress is recorded' })
  async reportAgentTaskProgress(@UuidOr404Param('taskId', 'task') taskId: string, @Body() body: AgentTaskProgressDto, @AgentCaller() agent: AgentPrincipal): Promise<AgentTaskAckDto> {
    await this.work.progress(agent, taskId, body);
    return { taskId };
  }
}
