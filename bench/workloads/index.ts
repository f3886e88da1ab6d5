import { Workload } from '../harness/types';
import { w1 } from './w1-append-new-streams';
import { w2 } from './w2-batch-appends';
import { w3 } from './w3-hot-streams';
import { w4 } from './w4-read-stream';
import { w5 } from './w5-aggregate-load';
import { w6 } from './w6-global-log';
import { w7 } from './w7-sagas';
import { w8 } from './w8-saga-compensations';
import { w10 } from './w10-agent-tasks';
import { wLatency } from './w-latency-wakeups';

/**
 * The workload registry, in run order. To add one (W6 global-log catch-up, W7/W8 sagas vs DBOS):
 * write bench/workloads/wN-<name>.ts exporting a `Workload`, import it here and append it. A
 * workload for systems that are not event stores (DBOS) lists them in `systems`, registers them in
 * bench/systems/index.ts, and builds them itself from `ctx.createDatabase()`.
 */
export const WORKLOADS: Workload[] = [w1, w2, w3, w4, w5, w6, w7, w8, w10, wLatency];
