/**
 * Agent SDK: a client for the REST work protocol (API.md "Agents: the work protocol") and a run
 * loop that turns a handler function into an agent instance. Dependency-free (global fetch).
 */
export { AgentClient } from './agent-client';
export type { AgentClientOptions, CallOptions } from './agent-client';
export { AgentClientError, isAgentClientError } from './agent-client.error';
export type { ProblemBody } from './agent-client.error';
export { defaultInstanceId, runAgent } from './run-agent';
export type { AgentHandle, AgentStopped, RunAgentOptions } from './run-agent';
export { NonRetryableError } from './task-handler';
export type { TaskContext, TaskHandler, TaskHandlers } from './task-handler';
export type { TaskOutcome } from './task-runner';
export type { AgentStopReason } from './refusals';
export { consoleAgentLogger, silentAgentLogger } from './agent-logger';
export type { AgentLogger } from './agent-logger';
export { backoffDelay } from './backoff';
export type { BackoffOptions } from './backoff';
export * from './protocol.types';
