import type CliTable3 from 'cli-table3';

type Cell = string | number | boolean | null | undefined;

/** Machine output: the API's JSON as is, on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON value per line (streams: `sagas watch --json`, `events tail --json`). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Hints for people (the next page's cursor, ...): stderr, so stdout stays the data. */
export function printNote(text: string): void {
  process.stderr.write(`${text}\n`);
}

const cellText = (c: Cell): string => (c === undefined || c === null || c === '' ? '-' : String(c));

/** A borderless table (kubectl style): easy to read, easy to grep. */
export function printTable(head: string[], rows: Cell[][], empty: string): void {
  if (rows.length === 0) return printLine(empty);
  // Loaded here: commands that print no table never pay for it.
  const Table = require('cli-table3') as typeof CliTable3;
  const blank = { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '' };
  const table = new Table({ head, chars: blank, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 3 } });
  for (const row of rows) table.push(row.map(cellText));
  printLine(
    table
      .toString()
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n'),
  );
}

/** Label / value lines of one resource. */
export function printFields(fields: [label: string, value: Cell][]): void {
  const width = Math.max(...fields.map(([label]) => label.length)) + 2;
  for (const [label, value] of fields) printLine(`${`${label}:`.padEnd(width)}${cellText(value)}`);
}

/** `2024-05-01 12:00:01Z`: an ISO time without the noise. */
export function formatTime(iso: string | null | undefined): string | undefined {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : undefined;
}

/** `850ms`, `12.3s`, `4m05s`, `2h10m`. */
export function formatDuration(ms: number | null | undefined): string | undefined {
  if (ms === undefined || ms === null) return undefined;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The command line being run, as one could type it again (`saga sagas list --status FAILED`). */
export function commandLine(args: string[] = process.argv.slice(2)): string {
  return ['saga', ...args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))].join(' ');
}

/** Where the next page starts, for people (stderr): this command again with `--cursor`. */
export function noteNextPage(nextCursor: string | undefined): void {
  if (!nextCursor) return;
  const args = process.argv.slice(2);
  const at = args.findIndex((a) => a === '--cursor' || a.startsWith('--cursor='));
  if (at >= 0) args.splice(at, args[at] === '--cursor' ? 2 : 1);
  printNote(`more: ${commandLine([...args, '--cursor', nextCursor])}`);
}
