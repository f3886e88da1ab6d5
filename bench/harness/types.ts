import { EventStoreAdapter } from '../systems/adapter';
import { Progress } from './progress';

/** A figure a workload reports, e.g. `eventsPerSec`. */
export interface Figure {
  key: string;
  label: string;
  unit: string;
  /** Which direction is better; `info` figures are printed without judging. */
  better: 'higher' | 'lower' | 'info';
}

/**
 * A goal for the subject system (`ours`). `ratio`: ours / peer of the figure against `op value`;
 * `absolute`: ours' own figure (e.g. W5's snapshot speed-up) against `op value`.
 */
export type Target =
  | { figure: string; kind: 'ratio'; peer: string; op: '>=' | '<='; value: number; note?: string }
  | { figure: string; kind: 'absolute'; op: '>=' | '<='; value: number; note?: string };

export type Metrics = Record<string, number | string | boolean>;

export interface WorkloadContext {
  /** The workload's id, e.g. `W1`. */
  workload: string;
  /** The system under test, e.g. `ours`, `emmett`, `pg`. */
  system: string;
  quick: boolean;
  /** `full` scaled by --scale (1/50 with --quick), at least `min`: the workload's main sizes. */
  size(full: number, min?: number): number;
  /** Connections per pool (the same for every system). */
  poolSize: number;
  /** Concurrent writers of the write workloads. */
  writers: number;
  progress: Progress;
  /** Starts a progress phase labelled with workload, system and round, e.g. `W1 ours: run`. */
  phase(name: string): void;
  /**
   * A fresh, empty database on the benchmark server (dropped at the end of the run) with the
   * system's event store set up in it. Closed by the harness after the workload.
   */
  openEventStore(): Promise<EventStoreAdapter>;
  /**
   * ANALYZE the databases of this (workload, system), after setup and warm-up and before the clock
   * starts: fresh tables have no planner statistics, and a plan cached while a table was nearly
   * empty (a prepared statement's generic plan) can stay a sequential scan for the whole run.
   * A production database has statistics; every system gets them alike.
   */
  analyze(): Promise<void>;
  /** A fresh, empty database (dropped at the end); for systems that are not event stores (W7/W8). */
  createDatabase(suffix?: string): Promise<string>;
  /** Runs after the workload for this system, even when it failed (close pools, stop runtimes). */
  onCleanup(fn: () => Promise<void> | void): void;
  log(message: string): void;
}

/**
 * One benchmark workload. Add a file under bench/workloads/ exporting one and list it in
 * bench/workloads/index.ts; the harness does the rest (databases, progress, JSON, table).
 */
export interface Workload {
  id: string;
  title: string;
  /** Systems this workload can run; others given with --systems are skipped for it. */
  systems: string[];
  figures: Figure[];
  targets?: Target[];
  run(ctx: WorkloadContext): Promise<Metrics>;
}

export interface ResultLine {
  workload: string;
  system: string;
  error?: string;
  [figure: string]: unknown;
}
