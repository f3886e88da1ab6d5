import { ServiceStatus } from '../agent-work.port';
import { agentServiceStatus, instanceStatus, nextHealthCheckDelayMs, serviceStatusOf, serviceStatusWithoutInstances } from './instance-health';

const interval = 10_000;
const t0 = new Date('2030-01-01T00:00:00Z');
const after = (ms: number) => new Date(t0.getTime() + ms);

describe('instanceStatus', () => {
  const heard = (reportedStatus: 'HEALTHY' | 'DEGRADED') => ({ reportedStatus, lastHeartbeatAt: t0 });

  it('given a fresh heartbeat, is what the instance reported', () => {
    expect(instanceStatus(heard('HEALTHY'), after(0), interval)).toBe('HEALTHY');
    expect(instanceStatus(heard('DEGRADED'), after(interval), interval)).toBe('DEGRADED');
  });

  it('given silence just under 3 intervals, still as reported', () => {
    expect(instanceStatus(heard('HEALTHY'), after(3 * interval - 1), interval)).toBe('HEALTHY');
    expect(instanceStatus(heard('DEGRADED'), after(3 * interval - 1), interval)).toBe('DEGRADED');
  });

  it('given 3 intervals of silence, is UNHEALTHY whatever it reported', () => {
    expect(instanceStatus(heard('HEALTHY'), after(3 * interval), interval)).toBe('UNHEALTHY');
    expect(instanceStatus(heard('DEGRADED'), after(6 * interval - 1), interval)).toBe('UNHEALTHY');
  });

  it('given 6 intervals of silence, is OFFLINE', () => {
    expect(instanceStatus(heard('HEALTHY'), after(6 * interval), interval)).toBe('OFFLINE');
    expect(instanceStatus(heard('DEGRADED'), after(60 * interval), interval)).toBe('OFFLINE');
  });

  it('given a heartbeat stamped slightly in the future (clock skew), is as reported', () => {
    expect(instanceStatus(heard('HEALTHY'), after(-500), interval)).toBe('HEALTHY');
  });

  it('follows the configured interval', () => {
    expect(instanceStatus(heard('HEALTHY'), after(3_000), 1_000)).toBe('UNHEALTHY');
    expect(instanceStatus(heard('HEALTHY'), after(3_000), 10_000)).toBe('HEALTHY');
  });
});

describe('serviceStatusOf', () => {
  it('is the best instance status', () => {
    expect(serviceStatusOf(['OFFLINE', 'UNHEALTHY', 'DEGRADED', 'HEALTHY'])).toBe('HEALTHY');
    expect(serviceStatusOf(['OFFLINE', 'DEGRADED', 'UNHEALTHY'])).toBe('DEGRADED');
    expect(serviceStatusOf(['OFFLINE', 'UNHEALTHY'])).toBe('UNHEALTHY');
    expect(serviceStatusOf(['OFFLINE', 'OFFLINE'])).toBe('OFFLINE');
  });

  it('with no instance is OFFLINE', () => {
    expect(serviceStatusOf([])).toBe('OFFLINE');
  });

  it('ignores a status it does not know', () => {
    expect(serviceStatusOf(['SLEEPY' as ServiceStatus, 'UNHEALTHY'])).toBe('UNHEALTHY');
  });
});

describe('serviceStatusWithoutInstances', () => {
  it('given a fresh registration, is HEALTHY for 3 intervals', () => {
    expect(serviceStatusWithoutInstances(t0, after(0), interval)).toBe('HEALTHY');
    expect(serviceStatusWithoutInstances(t0, after(3 * interval - 1), interval)).toBe('HEALTHY');
  });

  it('then UNHEALTHY, then OFFLINE from 6 intervals', () => {
    expect(serviceStatusWithoutInstances(t0, after(3 * interval), interval)).toBe('UNHEALTHY');
    expect(serviceStatusWithoutInstances(t0, after(6 * interval), interval)).toBe('OFFLINE');
  });
});

describe('agentServiceStatus', () => {
  it('with no instance applies the registration grace', () => {
    expect(agentServiceStatus({ registeredAt: t0, instances: [] }, after(interval), interval)).toBe('HEALTHY');
    expect(agentServiceStatus({ registeredAt: t0, instances: [] }, after(6 * interval), interval)).toBe('OFFLINE');
  });

  it('with instances is the best one, however old the registration', () => {
    const instances = [
      { reportedStatus: 'HEALTHY' as const, lastHeartbeatAt: t0 },
      { reportedStatus: 'DEGRADED' as const, lastHeartbeatAt: after(5 * interval) },
    ];
    // At 6 intervals the first is OFFLINE; the second, heard 1 interval ago, is DEGRADED.
    expect(agentServiceStatus({ registeredAt: t0, instances }, after(6 * interval), interval)).toBe('DEGRADED');
    // At 9 intervals the second is UNHEALTHY too.
    expect(agentServiceStatus({ registeredAt: t0, instances }, after(9 * interval), interval)).toBe('UNHEALTHY');
  });
});

describe('nextHealthCheckDelayMs', () => {
  it('is the time until UNHEALTHY, then until OFFLINE, then nothing', () => {
    expect(nextHealthCheckDelayMs(t0, after(1_000), interval)).toBe(29_000);
    expect(nextHealthCheckDelayMs(t0, after(3 * interval), interval)).toBe(3 * interval);
    expect(nextHealthCheckDelayMs(t0, after(6 * interval), interval)).toBeUndefined();
  });
});
