import { InstanceReportedStatus, SERVICE_STATUS_ORDER, ServiceStatus } from '../agent-work.port';

/**
 * Health rules of API.md "Agents: the work protocol" (Health), as pure functions of the clock: an
 * instance is what it reports while it heartbeats, UNHEALTHY after 3 intervals of silence, OFFLINE
 * after 6; an agent's service is as healthy as its best instance. The monitor applies them and
 * records the *changes* as events.
 */

/** Silence (in heartbeat intervals) from which an instance is UNHEALTHY. */
export const UNHEALTHY_AFTER_INTERVALS = 3;
/** Silence (in heartbeat intervals) from which an instance is OFFLINE. */
export const OFFLINE_AFTER_INTERVALS = 6;

export interface InstanceHeartbeat {
  reportedStatus: InstanceReportedStatus;
  lastHeartbeatAt: Date;
}

/** The instance's status at `now`: as reported while silence < 3 intervals, then UNHEALTHY, from 6 OFFLINE. */
export function instanceStatus(instance: InstanceHeartbeat, now: Date, heartbeatIntervalMs: number): ServiceStatus {
  return statusAfterSilence(instance.reportedStatus, silenceMs(instance.lastHeartbeatAt, now), heartbeatIntervalMs);
}

/** The best of the statuses (HEALTHY > DEGRADED > UNHEALTHY > OFFLINE); none: OFFLINE. */
export function serviceStatusOf(instanceStatuses: readonly ServiceStatus[]): ServiceStatus {
  let best = SERVICE_STATUS_ORDER.length - 1;
  for (const status of instanceStatuses) {
    const rank = SERVICE_STATUS_ORDER.indexOf(status);
    if (rank >= 0 && rank < best) best = rank;
  }
  return SERVICE_STATUS_ORDER[best];
}

/**
 * A service that has never had an instance: a freshly registered one is given the same grace as a
 * silent instance, counted from registration (HEALTHY for 3 intervals, UNHEALTHY until 6, then
 * OFFLINE), so that provisioning is not refused before its first instance had time to start.
 */
export function serviceStatusWithoutInstances(registeredAt: Date, now: Date, heartbeatIntervalMs: number): ServiceStatus {
  return statusAfterSilence('HEALTHY', silenceMs(registeredAt, now), heartbeatIntervalMs);
}

/**
 * An agent's service status: its best instance's, or (no instance yet) the registration grace of
 * serviceStatusWithoutInstances.
 */
export function agentServiceStatus(
  agent: { registeredAt: Date; instances: readonly InstanceHeartbeat[] },
  now: Date,
  heartbeatIntervalMs: number,
): ServiceStatus {
  if (agent.instances.length === 0) return serviceStatusWithoutInstances(agent.registeredAt, now, heartbeatIntervalMs);
  return serviceStatusOf(agent.instances.map((i) => instanceStatus(i, now, heartbeatIntervalMs)));
}

/**
 * How long until a silent instance (last heard of at `lastHeardAt`) changes status if it stays
 * silent: when the monitor should look at it next. Undefined once it is OFFLINE (no further change).
 */
export function nextHealthCheckDelayMs(lastHeardAt: Date, now: Date, heartbeatIntervalMs: number): number | undefined {
  const silence = silenceMs(lastHeardAt, now);
  for (const intervals of [UNHEALTHY_AFTER_INTERVALS, OFFLINE_AFTER_INTERVALS]) {
    const at = intervals * heartbeatIntervalMs;
    if (silence < at) return at - silence;
  }
  return undefined;
}

function statusAfterSilence(reported: ServiceStatus, silence: number, heartbeatIntervalMs: number): ServiceStatus {
  if (silence >= OFFLINE_AFTER_INTERVALS * heartbeatIntervalMs) return 'OFFLINE';
  if (silence >= UNHEALTHY_AFTER_INTERVALS * heartbeatIntervalMs) return 'UNHEALTHY';
  return reported;
}

/** A heartbeat "from the future" (clocks of two workers a little apart) counts as no silence. */
function silenceMs(since: Date, now: Date): number {
  return Math.max(0, now.getTime() - since.getTime());
}
