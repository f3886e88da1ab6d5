/**
 * Benchmark harness: `npm run bench` (= node -r @swc-node/register bench/run.ts).
 *
 * Runs the workloads of /work/shared/BENCHMARKS.md (bench/workloads/) against our event store and
 * its peers (bench/systems/) on the PostgreSQL server of DATABASE_URL, each (workload, system) in a
 * fresh database that is dropped afterwards. Prints one JSON line per (workload, system) on stdout,
 * then a Markdown table with the ratios ours / peer and the targets; progress goes to stderr.
 */
import * as os from 'os';
import { parseArgs, USAGE } from './harness/cli';
import { DatabaseManager, isTooManyClients } from './harness/databases';
import { Progress } from './harness/progress';
import { Environment, Outcome, renderReport } from './harness/report';
import { median, round } from './harness/stats';
import { Metrics, ResultLine, Workload, WorkloadContext } from './harness/types';
import { DEFAULT_SYSTEMS, SYSTEMS } from './systems';
import { WORKLOADS } from './workloads';

const DEFAULT_SERVER_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

type BaseContext = Pick<WorkloadContext, 'quick' | 'size' | 'poolSize' | 'writers' | 'progress'>;

async function runOne(workload: Workload, system: string, label: string, base: BaseContext, databases: DatabaseManager): Promise<Metrics> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const definition = SYSTEMS[system];
  const ctx: WorkloadContext = {
    ...base,
    workload: workload.id,
    system,
    phase: (name) => base.progress.phase(`${label}: ${name}`),
    analyze: () => databases.analyzeAll(),
    createDatabase: (suffix) => databases.create([system, workload.id, ...(suffix ? [suffix] : [])]),
    async openEventStore() {
      if (!definition.openEventStore) throw new Error(`${system} is not an event store`);
      ctx.phase('creating database');
      const url = await databases.create([system, workload.id]);
      const adapter = await definition.openEventStore(url, base.poolSize);
      cleanups.push(() => adapter.close());
      return adapter;
    },
    onCleanup: (fn) => cleanups.push(fn),
    log: (message) => base.progress.log(`${label}: ${message}`),
  };
  try {
    return await workload.run(ctx);
  } finally {
    for (const fn of cleanups.reverse()) {
      await Promise.resolve()
        .then(fn)
        .catch((err) => base.progress.log(`${label}: cleanup failed: ${(err as Error).message}`));
    }
  }
}

/** Median of every numeric field over the rounds; other fields from the first round. */
function combineRounds(rounds: Metrics[]): Metrics {
  if (rounds.length === 1) return rounds[0];
  const out: Metrics = { ...rounds[0] };
  for (const key of Object.keys(out)) {
    const values = rounds.map((r) => r[key]).filter((v): v is number => typeof v === 'number');
    if (values.length === rounds.length) out[key] = round(median(values));
  }
  return out;
}

const load1m = () => round(os.loadavg()[0]);

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const systems = options.systems ?? DEFAULT_SYSTEMS;
  const unknownSystems = systems.filter((s) => !SYSTEMS[s]);
  if (unknownSystems.length) throw new Error(`unknown system(s) ${unknownSystems.join(', ')}; known: ${Object.keys(SYSTEMS).join(', ')}`);
  const unknownWorkloads = (options.only ?? []).filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknownWorkloads.length) {
    throw new Error(`unknown workload(s) ${unknownWorkloads.join(', ')}; known: ${WORKLOADS.map((w) => w.id).join(', ')}`);
  }
  const workloads = WORKLOADS.filter((w) => !options.only || options.only.includes(w.id));

  const serverUrl = process.env.DATABASE_URL?.trim() || DEFAULT_SERVER_URL;
  const databases = new DatabaseManager(serverUrl, options.keep);
  const progress = new Progress();

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress.log(`${signal}: dropping the benchmark databases ...`);
    databases
      .dropAll()
      .catch((err) => progress.log(`could not drop databases: ${(err as Error).message}`))
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const server = await databases.serverInfo();
  const env: Environment = {
    mode: options.quick ? 'quick' : 'full',
    startedAt: new Date().toISOString(),
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: server.version,
    postgresSettings: server.settings,
    poolSize: options.poolSize,
    writers: options.writers,
    rounds: options.rounds,
    loadAvgStart: os.loadavg().map(round),
  };
  progress.log(
    `bench (${env.mode}): ${workloads.map((w) => w.id).join(',')} × ${systems.join(',')} on ${env.postgres}, ` +
      `${env.cores} cores, pool ${options.poolSize}`,
  );

  const outcomes: Outcome[] = [];
  const started = performance.now();
  const size = (full: number, min = 1) => Math.max(min, Math.round(full * options.scale));
  const base: BaseContext = { quick: options.quick, size, poolSize: options.poolSize, writers: options.writers, progress };
  try {
    for (const workload of workloads) {
      const applicable = systems.filter((system) => {
        if (workload.systems.includes(system)) return true;
        progress.log(`${workload.id} ${system}: skipped (not applicable)`);
        return false;
      });
      const runs = new Map<string, { metrics: Metrics[]; error?: string; load: number[] }>(
        applicable.map((s) => [s, { metrics: [], load: [] }]),
      );
      for (let r = 0; r < options.rounds; r++) {
        // Interleaved rounds, reversed every other time, so that drift on a shared machine
        // falls on every system alike.
        const order = r % 2 ? [...applicable].reverse() : applicable;
        for (const system of order) {
          const entry = runs.get(system)!;
          if (entry.error) continue;
          const label = `${workload.id} ${system}${options.rounds > 1 ? ` (round ${r + 1}/${options.rounds})` : ''}`;
          let metrics: Metrics | undefined;
          for (let attempt = 1; ; attempt++) {
            try {
              metrics = await runOne(workload, system, label, base, databases);
              break;
            } catch (err) {
              if (isTooManyClients(err) && attempt < 3) {
                // Other users of the server took every connection: not this system's fault.
                progress.log(`${label}: server out of connections (53300), retrying in 10 s`);
                await databases.dropAll();
                await new Promise((r) => setTimeout(r, 10_000));
                continue;
              }
              entry.error = (err as Error).message;
              progress.log(`${label}: FAILED: ${(err as Error).stack ?? entry.error}`);
              break;
            }
          }
          entry.load.push(load1m());
          // Free the disk at once (the final dropAll catches anything left). The database's
          // commit / rollback counts include setup and warm-up; rollbacks are failed statements.
          const stats = await databases.dropAll();
          if (metrics) entry.metrics.push({ ...metrics, dbCommits: stats.commits, dbRollbacks: stats.rollbacks });
          progress.log(`${label}: done`);
        }
      }
      for (const system of applicable) {
        const entry = runs.get(system)!;
        const outcome: Outcome = { workload, system };
        const line: ResultLine = { workload: workload.id, system };
        if (entry.error) {
          outcome.error = entry.error;
          line.error = entry.error;
        } else {
          outcome.metrics = combineRounds(entry.metrics);
          Object.assign(line, outcome.metrics);
        }
        outcomes.push(outcome);
        Object.assign(line, { scale: round(options.scale), rounds: options.rounds, pool: options.poolSize, mode: env.mode, load1m: round(median(entry.load)) });
        process.stdout.write(`${JSON.stringify(line)}\n`);
      }
    }
  } finally {
    await databases.dropAll().catch((err) => progress.log(`could not drop databases: ${(err as Error).message}`));
  }
  env.loadAvgEnd = os.loadavg().map(round);

  process.stdout.write(`\n${renderReport(outcomes, systems.filter((s) => outcomes.some((o) => o.system === s)), env)}\n`);
  progress.log(`bench finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return outcomes.some((o) => o.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
