/**
 * The platform's built-in example agent type: one instance that handles ANY capability, configured by
 * the environment the local runtime passes to the processes it spawns:
 *   SAGA_API_URL, SAGA_AGENT_KEY (required), SAGA_INSTANCE_ID (default <hostname>-<pid>),
 *   SAGA_AGENT_CONCURRENCY (default 1).
 * Output: `{ handledBy, capability, input, result }`; `translate` with `input.text` gets a
 * deterministic "translation", anything else an echo. Input knobs let tests shape a run:
 * `sleepMs` (honours cancellation), `fail: true` or `failTimes: n` (fail attempts 1..n; add
 * `retryable: false` to skip the retry policy), `progress: true` (reports 50 %).
 * It drains and exits 0 on SIGTERM or SIGINT, or when its stdin pipe closes (its supervisor died).
 *
 *   node -r @swc-node/register examples/agents/example-agent.ts
 */
import { fstatSync } from 'node:fs';
// By path rather than `@app/agent-client`: the runtime may spawn this file from any working
// directory, where the tsconfig that maps the alias is not found.
import { consoleAgentLogger, defaultInstanceId, PolledTask, runAgent, TaskContext } from '../../libs/agent-client/src';

interface Knobs {
  sleepMs?: number;
  fail?: boolean;
  failTimes?: number;
  retryable?: boolean;
  progress?: boolean;
  text?: string;
  to?: string;
}

function readEnv(): { baseUrl: string; key: string; instanceId: string; concurrency: number } {
  const baseUrl = process.env.SAGA_API_URL;
  const key = process.env.SAGA_AGENT_KEY;
  const concurrency = Number(process.env.SAGA_AGENT_CONCURRENCY ?? '1');
  const bad = !baseUrl ? 'SAGA_API_URL is required' : !key ? 'SAGA_AGENT_KEY is required' : !(Number.isInteger(concurrency) && concurrency >= 1) ? 'SAGA_AGENT_CONCURRENCY must be an integer >= 1' : undefined;
  if (bad) {
    console.error(`example-agent: ${bad}`);
    process.exit(2);
  }
  return { baseUrl: baseUrl!, key: key!, concurrency, instanceId: process.env.SAGA_INSTANCE_ID || defaultInstanceId() };
}

/** Reverses the word order: deterministic, so a test can tell what the output must be. */
function translate(text: string, to: string | undefined): { text: string; to: string } {
  return { text: text.split(/\s+/).filter(Boolean).reverse().join(' '), to: to ?? 'en' };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function handlerFor(instanceId: string) {
  return async (task: PolledTask, ctx: TaskContext) => {
    const input = (task.input ?? {}) as Knobs;
    if (input.progress) await ctx.progress(50, 'halfway');
    if (typeof input.sleepMs === 'number' && input.sleepMs > 0) await pause(input.sleepMs, ctx.signal);
    if (input.fail === true || (typeof input.failTimes === 'number' && task.attempt <= input.failTimes)) {
      throw Object.assign(new Error(`failing as asked (attempt ${task.attempt})`), { code: 'ASKED_TO_FAIL', retryable: input.retryable });
    }
    const result = task.capability === 'translate' && typeof input.text === 'string' ? translate(input.text, input.to) : task.input;
    return { handledBy: instanceId, capability: task.capability, input: task.input, result };
  };
}

async function main(): Promise<void> {
  const env = readEnv();
  const agent = runAgent({ ...env, handlers: handlerFor(env.instanceId), handleSignals: true, logger: consoleAgentLogger });
  // The local runtime gives its instances a stdin pipe (a socket pair, for Node) that closes if the
  // worker dies: drain then, so an instance never outlives its supervisor. A terminal or /dev/null
  // is no such pipe.
  const stdin = fstatSync(0);
  if (stdin.isFIFO() || stdin.isSocket()) {
    process.stdin.resume().on('end', () => {
      consoleAgentLogger.info('stdin closed (supervisor gone); draining', { inFlight: agent.inFlight() });
      void agent.stop();
    });
  }
  const stopped = await agent.done;
  // A revoked key or a refused configuration is an error for whoever supervises the process;
  // a drain or a decommissioning is the normal end of an instance.
  process.exit(stopped.reason === 'stopped' || stopped.reason === 'decommissioning' ? 0 : 1);
}

void main();
