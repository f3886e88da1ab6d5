export interface CliOptions {
  quick: boolean;
  only?: string[];
  systems?: string[];
  poolSize: number;
  writers: number;
  keep: boolean;
  help: boolean;
  rounds: number;
  /** Multiplies the workloads' main sizes; --quick means 1/50. */
  scale: number;
}

export const USAGE = `Usage: npm run bench -- [options]

  --quick              tiny sizes (≈1/50th), a smoke test that finishes in well under a minute
  --only W1,W4         run only these workloads
  --systems ours,emmett,pg
                       systems to compare (default ours,emmett,pg,dbos; also: ours-nonotify)
  --pool N             connections per system pool (default 16; the same for every system)
  --writers N          concurrent writers in W1-W3 (default 16)
  --scale F            multiply the main sizes by F (e.g. 0.25 for a shorter run; --quick = 0.02)
  --rounds N           run every (workload, system) N times, systems interleaved (order reversed
                       on every other round), and report the median of each figure (default 1)
  --keep               keep the benchmark databases (default: dropped at the end)
  -h, --help           this text

Environment: DATABASE_URL (server to use; default postgresql://postgres@127.0.0.1:5432/postgres).
Results: one JSON line per (workload, system) on stdout, then a Markdown table; progress on stderr.`;

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function parseArgs(argv: string[]): CliOptions {
  const options: CliOptions = { quick: false, poolSize: 16, writers: 16, keep: false, help: false, rounds: 1, scale: NaN };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes a positive integer`);
      return n;
    };
    switch (flag) {
      case '--quick':
        options.quick = true;
        break;
      case '--only':
        options.only = list(value()).map((w) => w.toUpperCase());
        break;
      case '--systems':
        options.systems = list(value()).map((s) => s.toLowerCase());
        break;
      case '--pool':
        options.poolSize = int();
        break;
      case '--writers':
        options.writers = int();
        break;
      case '--scale': {
        const n = Number(value());
        if (!(n > 0)) throw new Error('--scale takes a positive number');
        options.scale = n;
        break;
      }
      case '--rounds':
        options.rounds = int();
        break;
      case '--keep':
        options.keep = true;
        break;
      case '-h':
      case '--help':
        options.help = true;
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  if (Number.isNaN(options.scale)) options.scale = options.quick ? 1 / 50 : 1;
  return options;
}
