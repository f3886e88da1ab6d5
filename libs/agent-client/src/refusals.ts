import { AgentClientError } from './agent-client.error';

/** Why a running agent stopped by itself (or `stopped` when asked to). */
export type AgentStopReason = 'stopped' | 'unauthorized' | 'forbidden' | 'decommissioning' | 'rejected' | 'crashed';

/**
 * What the run loop does about a failed call, decided in one place so that the heartbeat, the poll
 * and the task reports agree:
 * - `transient`: the API was not reached or is briefly unavailable; back off and try again.
 * - `offline`: the server no longer counts this instance as live; heartbeat, then poll again.
 * - `lost`: the task is no longer ours (lock taken over, saga cancelled, task gone); drop it.
 * - `stop`: retrying cannot help (key revoked, agent decommissioning); the instance stops.
 * - `aborted`: we cancelled the call ourselves.
 * - `rejected`: any other refusal; the caller decides.
 */
export type Refusal =
  | { kind: 'transient' | 'offline' | 'lost' | 'aborted' | 'rejected' }
  | { kind: 'stop'; reason: AgentStopReason };

const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

export function classifyRefusal(err: unknown): Refusal {
  if (err instanceof AgentClientError) {
    if (err.status === 401) return { kind: 'stop', reason: 'unauthorized' };
    if (err.status === 403) return { kind: 'stop', reason: 'forbidden' };
    if (TRANSIENT_STATUSES.has(err.status)) return { kind: 'transient' };
    if (err.status === 404) return { kind: 'lost' };
    if (err.status === 409) {
      if (err.code === 'AGENT_DECOMMISSIONING') return { kind: 'stop', reason: 'decommissioning' };
      if (err.code === 'LOCK_LOST' || err.code === 'TASK_CANCELLED') return { kind: 'lost' };
      // INSTANCE_OFFLINE, or a 409 from a server that does not say why: heartbeating is the remedy.
      return { kind: 'offline' };
    }
    return { kind: 'rejected' };
  }
  if ((err as { name?: string } | null)?.name === 'AbortError') return { kind: 'aborted' };
  // Connection refused or reset, DNS, our own request timeout (TimeoutError), a truncated body.
  return { kind: 'transient' };
}
