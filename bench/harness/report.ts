import { SYSTEMS } from '../systems';
import { round } from './stats';
import { Figure, Metrics, Target, Workload } from './types';

export interface Outcome {
  workload: Workload;
  system: string;
  metrics?: Metrics;
  error?: string;
}

export interface Environment {
  mode: 'full' | 'quick';
  startedAt: string;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
  poolSize: number;
  writers: number;
  rounds: number;
  loadAvgStart: number[];
  loadAvgEnd?: number[];
}

function fmt(x: unknown): string {
  if (typeof x !== 'number') return x === undefined ? '–' : String(x);
  if (!Number.isFinite(x)) return String(x);
  const r = round(x);
  return Math.abs(r) >= 1000 ? r.toLocaleString('en-US', { maximumFractionDigits: 0 }) : String(r);
}

const fmtRatio = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${round(x)}×`);

function value(outcomes: Outcome[], workload: string, system: string, figure: string): number | undefined {
  const o = outcomes.find((x) => x.workload.id === workload && x.system === system);
  const v = o?.metrics?.[figure];
  return typeof v === 'number' ? v : undefined;
}

function ratio(outcomes: Outcome[], workload: string, subject: string, peer: string, figure: string): number | undefined {
  const a = value(outcomes, workload, subject, figure);
  const b = value(outcomes, workload, peer, figure);
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/** The measured value a target is judged on, for one subject system. */
function targetValue(outcomes: Outcome[], workload: string, subject: string, t: Target): number | undefined {
  return t.kind === 'ratio' ? ratio(outcomes, workload, subject, t.peer, t.figure) : value(outcomes, workload, subject, t.figure);
}

const meets = (v: number, t: Target) => (t.op === '>=' ? v >= t.value : v <= t.value);
const opText = (t: Target) => (t.op === '>=' ? '≥' : '≤');

function describeTarget(t: Target): string {
  return t.kind === 'ratio' ? `vs ${t.peer} ${opText(t)} ${t.value}×` : `${opText(t)} ${t.value}${t.note ? ` (${t.note})` : ''}`;
}

function betterText(f: Figure): string {
  if (f.better === 'higher') return 'higher';
  if (f.better === 'lower') return f.unit === 'ms' ? 'lower (time: ratio < 1 = ours faster)' : 'lower';
  return '–';
}

export function renderReport(outcomes: Outcome[], systems: string[], env: Environment): string {
  const subjects = systems.filter((s) => SYSTEMS[s]?.subject);
  const peers = systems.filter((s) => !SYSTEMS[s]?.subject);
  const pairs = subjects.flatMap((s) => peers.map((p) => [s, p] as const));
  const workloads = [...new Map(outcomes.map((o) => [o.workload.id, o.workload])).values()];

  const lines: string[] = [];
  lines.push(`### Benchmark (${env.mode}) — ${env.startedAt}`);
  lines.push('');
  lines.push(
    `- machine: ${env.cores} cores (os.cpus().length), ${env.cpuModel}, ${env.memoryGiB} GiB RAM, Node ${env.node}; ` +
      'client and server share the machine',
  );
  const s = env.postgresSettings;
  lines.push(
    `- ${env.postgres} (synchronous_commit=${s.synchronous_commit ?? '?'}, fsync=${s.fsync ?? '?'}, ` +
      `shared_buffers=${s.shared_buffers ?? '?'}×8kB, max_connections=${s.max_connections ?? '?'})`,
  );
  lines.push(
    `- pool: ${env.poolSize} connections per system, ${env.writers} concurrent writers (W1–W3); fresh database per system per workload` +
      (env.rounds > 1 ? `; ${env.rounds} interleaved rounds, medians shown` : '; 1 round'),
  );
  lines.push(
    `- load average (1/5/15 min) at start ${env.loadAvgStart.join(' / ')}, at end ${env.loadAvgEnd?.join(' / ') ?? '?'} ` +
      '(anything well above 0 is other work competing for the same cores)',
  );
  lines.push(`- systems: ${systems.map((x) => `\`${x}\` = ${SYSTEMS[x]?.description ?? x}`).join('; ')}`);
  lines.push('');

  const header = ['workload', 'figure', 'better', ...systems, ...pairs.map(([a, b]) => `${a}/${b}`), 'target'];
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`|${header.map(() => '---').join('|')}|`);
  for (const w of workloads) {
    for (const f of w.figures) {
      const cells = systems.map((sys) => {
        const o = outcomes.find((x) => x.workload.id === w.id && x.system === sys);
        if (!o) return 'n/a';
        if (o.error) return 'error';
        return fmt(o.metrics?.[f.key]);
      });
      const ratios = pairs.map(([a, b]) => (f.better === 'info' ? '–' : fmtRatio(ratio(outcomes, w.id, a, b, f.key))));
      const targets = (w.targets ?? [])
        .filter((t) => t.figure === f.key)
        .map((t) => {
          const verdicts = subjects.map((subj) => {
            const v = targetValue(outcomes, w.id, subj, t);
            return v === undefined ? `${subj}: n/a` : `${subj} ${meets(v, t) ? '**met**' : '**MISSED**'} (${round(v)})`;
          });
          return `${describeTarget(t)}: ${verdicts.join(', ')}`;
        });
      lines.push(`| ${[w.id, `${f.label} (${f.unit || 'count'})`, betterText(f), ...cells, ...ratios, targets.join('; ') || ''].join(' | ')} |`);
    }
  }
  lines.push('');
  lines.push('Ratios are subject / peer of the figure as printed: above 1 is better for throughput, below 1 is better for times.');

  const allTargets = workloads.flatMap((w) => (w.targets ?? []).map((t) => ({ w, t })));
  if (allTargets.length && subjects.length) {
    lines.push('');
    lines.push('Targets:');
    for (const { w, t } of allTargets) {
      for (const subj of subjects) {
        const v = targetValue(outcomes, w.id, subj, t);
        const fig = w.figures.find((f) => f.key === t.figure)?.label ?? t.figure;
        const what = t.kind === 'ratio' ? `${subj}/${t.peer} ${fig}` : `${subj} ${fig}`;
        lines.push(
          `- ${w.id} ${what} = ${v === undefined ? 'n/a' : round(v)} (target ${opText(t)} ${t.value}): ` +
            (v === undefined ? 'not measured' : meets(v, t) ? 'met' : 'MISSED'),
        );
      }
    }
  }

  const errors = outcomes.filter((o) => o.error);
  if (errors.length) {
    lines.push('');
    lines.push('Errors:');
    for (const o of errors) lines.push(`- ${o.workload.id} ${o.system}: ${o.error}`);
  }
  return lines.join('\n');
}
