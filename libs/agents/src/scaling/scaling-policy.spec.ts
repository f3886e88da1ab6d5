import { DEFAULT_SCALING, ScalingDecision, ScalingObservation, ScalingPolicy, decideScale, validateScalingPolicy } from './scaling-policy';

/** given(policy).when(observation).then(decision): the decision must contain the expected fields. */
const given = (policy: ScalingPolicy) => ({
  when: (observation: Partial<ScalingObservation>) => {
    const decision = decideScale(policy, { currentInstances: 1, pendingTasks: 0, cpuPercents: [], ...observation });
    return {
      then(expected: Partial<ScalingDecision>): ScalingDecision {
        expect(decision).toMatchObject(expected);
        if (expected.cappedByQuota === undefined) expect(decision.cappedByQuota).toBeUndefined();
        return decision;
      },
    };
  },
});

const workload: ScalingPolicy = { strategy: 'WORKLOAD_BASED', min: 1, max: 5, targetPendingPerInstance: 10 };
const performance: ScalingPolicy = { strategy: 'PERFORMANCE_BASED', min: 1, max: 10, targetCpuPercent: 60 };
const auto: ScalingPolicy = { strategy: 'AUTO', min: 1, max: 10, targetPendingPerInstance: 10, targetCpuPercent: 60 };

describe('decideScale', () => {
  describe('FIXED', () => {
    it('runs min instances whatever the queue and the load', () => {
      given({ strategy: 'FIXED', min: 2, max: 2 })
        .when({ currentInstances: 5, pendingTasks: 1000, cpuPercents: [99, 99] })
        .then({ desired: 2, reason: 'fixed at min 2' });
    });

    it('is the default policy: one instance', () => {
      given(DEFAULT_SCALING).when({ currentInstances: 0 }).then({ desired: 1 });
    });
  });

  describe('WORKLOAD_BASED', () => {
    it('gives one instance per targetPendingPerInstance pending tasks, rounded up', () => {
      given(workload).when({ pendingTasks: 12 }).then({ desired: 2, reason: '12 pending ÷ 10 per instance = 2, within [1, 5]' });
    });

    it('clamps to max: 100 pending at 10 per instance asks for 10, max is 5', () => {
      given(workload).when({ pendingTasks: 100 }).then({ desired: 5, reason: '100 pending ÷ 10 per instance = 10, clamped to max 5' });
    });

    it('asks for all 10 when max allows it', () => {
      given({ ...workload, max: 20 }).when({ pendingTasks: 100 }).then({ desired: 10 });
    });

    it('drains to min when the queue is empty', () => {
      given(workload).when({ currentInstances: 5, pendingTasks: 0 }).then({ desired: 1, reason: '0 pending ÷ 10 per instance = 0, raised to min 1' });
    });

    it('drains to zero when min is 0', () => {
      given({ ...workload, min: 0 }).when({ currentInstances: 3, pendingTasks: 0 }).then({ desired: 0 });
    });

    it('ignores the CPU load', () => {
      given(workload).when({ currentInstances: 2, pendingTasks: 15, cpuPercents: [100, 100] }).then({ desired: 2 });
    });
  });

  describe('PERFORMANCE_BASED', () => {
    it('scales current instances by average CPU over the target', () => {
      given(performance)
        .when({ currentInstances: 3, cpuPercents: [80, 90, 100] })
        .then({ desired: 5, reason: '3 instances × 90% avg CPU ÷ 60% target = 5, within [1, 10]' });
    });

    it('scales down when the instances idle', () => {
      given(performance).when({ currentInstances: 4, cpuPercents: [10, 10, 10, 10] }).then({ desired: 1 });
    });

    it('keeps an exact fit (no floating-point extra instance)', () => {
      given({ ...performance, targetCpuPercent: 70 }).when({ currentInstances: 3, cpuPercents: [70, 70, 70] }).then({ desired: 3 });
    });

    it('keeps the current count when no instance reported CPU', () => {
      given(performance).when({ currentInstances: 3, cpuPercents: [] }).then({ desired: 3, reason: 'no CPU reports: keeping 3, within [1, 10]' });
    });

    it('clamps to max', () => {
      given(performance).when({ currentInstances: 10, cpuPercents: [100] }).then({ desired: 10, reason: expect.stringContaining('clamped to max 10') });
    });

    it('ignores the queue', () => {
      given(performance).when({ currentInstances: 2, pendingTasks: 500, cpuPercents: [60, 60] }).then({ desired: 2 });
    });
  });

  describe('AUTO', () => {
    it('takes the workload rule when it asks for more', () => {
      given(auto)
        .when({ currentInstances: 2, pendingTasks: 70, cpuPercents: [30, 30] })
        .then({
          desired: 7,
          reason: 'larger of workload (70 pending ÷ 10 per instance = 7) and performance (2 instances × 30% avg CPU ÷ 60% target = 1) = 7, within [1, 10]',
        });
    });

    it('takes the performance rule when it asks for more', () => {
      given(auto).when({ currentInstances: 4, pendingTasks: 5, cpuPercents: [90, 90, 90, 90] }).then({ desired: 6 });
    });

    it('without CPU reports follows the queue alone, so it still drains to min', () => {
      given(auto).when({ currentInstances: 6, pendingTasks: 0, cpuPercents: [] }).then({ desired: 1, reason: '0 pending ÷ 10 per instance = 0, raised to min 1' });
    });

    it('with only a CPU target behaves as PERFORMANCE_BASED', () => {
      given({ strategy: 'AUTO', min: 1, max: 10, targetCpuPercent: 50 }).when({ currentInstances: 2, pendingTasks: 999, cpuPercents: [100, 100] }).then({ desired: 4 });
    });

    it('with no workload target and no CPU reports keeps the current count', () => {
      given({ strategy: 'AUTO', min: 1, max: 10, targetCpuPercent: 50 }).when({ currentInstances: 3 }).then({ desired: 3 });
    });
  });

  describe('tenant quota', () => {
    it('caps the target at what the quota allows, and says so', () => {
      given(workload)
        .when({ pendingTasks: 100, quotaInstances: 3 })
        .then({ desired: 3, cappedByQuota: true, uncapped: 5, reason: '100 pending ÷ 10 per instance = 10, clamped to max 5; capped at 3 by the tenant quota' });
    });

    it('does not cap when the quota holds the target', () => {
      given(workload).when({ pendingTasks: 30, quotaInstances: 3 }).then({ desired: 3 });
    });

    it('is unlimited when undefined or Infinity', () => {
      given(workload).when({ pendingTasks: 100 }).then({ desired: 5 });
      given(workload).when({ pendingTasks: 100, quotaInstances: Infinity }).then({ desired: 5 });
    });

    it('wins over min when it cannot even hold min', () => {
      given({ strategy: 'FIXED', min: 3, max: 3 })
        .when({ quotaInstances: 2 })
        .then({ desired: 2, cappedByQuota: true, uncapped: 3, reason: 'fixed at min 3; capped at 2 by the tenant quota (below min 3)' });
    });

    it('an exhausted quota gives zero', () => {
      given(workload).when({ pendingTasks: 50, quotaInstances: 0 }).then({ desired: 0, cappedByQuota: true, uncapped: 5 });
    });
  });
});

describe('validateScalingPolicy', () => {
  const fields = (p: ScalingPolicy) => validateScalingPolicy(p).map((problem) => problem.field);

  it('accepts the default and every well-formed strategy', () => {
    for (const p of [DEFAULT_SCALING, workload, performance, auto, { strategy: 'FIXED', min: 0, max: 1 } as ScalingPolicy]) {
      expect(validateScalingPolicy(p)).toEqual([]);
    }
  });

  it('refuses a negative or fractional min', () => {
    expect(fields({ strategy: 'FIXED', min: -1, max: 1 })).toEqual(['min']);
    expect(fields({ strategy: 'FIXED', min: 0.5, max: 1 })).toEqual(['min']);
  });

  it('refuses max below min, max 0, and max above 100', () => {
    expect(validateScalingPolicy({ strategy: 'FIXED', min: 3, max: 2 })).toEqual([{ field: 'max', message: 'must be >= min (3)' }]);
    expect(fields({ strategy: 'FIXED', min: 0, max: 0 })).toEqual(['max']);
    expect(fields({ strategy: 'FIXED', min: 1, max: 101 })).toEqual(['max']);
  });

  it('WORKLOAD_BASED needs targetPendingPerInstance >= 1', () => {
    expect(validateScalingPolicy({ strategy: 'WORKLOAD_BASED', min: 1, max: 5 })).toEqual([
      { field: 'targetPendingPerInstance', message: 'is required by WORKLOAD_BASED' },
    ]);
    expect(fields({ ...workload, targetPendingPerInstance: 0 })).toEqual(['targetPendingPerInstance']);
  });

  it('PERFORMANCE_BASED needs targetCpuPercent in 1..100', () => {
    expect(fields({ strategy: 'PERFORMANCE_BASED', min: 1, max: 5 })).toEqual(['targetCpuPercent']);
    expect(fields({ ...performance, targetCpuPercent: 0 })).toEqual(['targetCpuPercent']);
    expect(fields({ ...performance, targetCpuPercent: 101 })).toEqual(['targetCpuPercent']);
    expect(fields({ ...performance, targetCpuPercent: 100 })).toEqual([]);
  });

  it('AUTO needs at least one target', () => {
    expect(fields({ strategy: 'AUTO', min: 1, max: 5 })).toEqual(['targetPendingPerInstance']);
    expect(fields({ strategy: 'AUTO', min: 1, max: 5, targetPendingPerInstance: 5 })).toEqual([]);
    expect(fields({ strategy: 'AUTO', min: 1, max: 5, targetCpuPercent: 50 })).toEqual([]);
  });

  it('refuses an unknown strategy', () => {
    expect(fields({ strategy: 'MAGIC' as ScalingPolicy['strategy'], min: 1, max: 1 })).toEqual(['strategy']);
  });

  it('names every problem at once', () => {
    expect(fields({ strategy: 'PERFORMANCE_BASED', min: -1, max: 500 })).toEqual(['min', 'max', 'targetCpuPercent']);
  });
});
