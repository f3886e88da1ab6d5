import { InvalidArgumentError } from 'commander';
import { readFileSync } from 'fs';
import { extname } from 'path';
import { usageError } from './exit-codes';

/** Option parser: a JSON value (`--payload '{"ok":true}'`). */
export function parseJson(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (err) {
    throw new InvalidArgumentError(`not JSON: ${(err as Error).message}`);
  }
}

/** Option parser: a JSON object. */
export function parseJsonObject(value: string): Record<string, unknown> {
  const parsed = parseJson(value);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('not a JSON object');
  return parsed as Record<string, unknown>;
}

/** Option parser: an integer ≥ 0. */
export function parseCount(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError('not a whole number');
  return Number(value);
}

/** Option parser: an integer ≥ 1. */
export function parsePositive(value: string): number {
  const n = parseCount(value);
  if (n < 1) throw new InvalidArgumentError('must be at least 1');
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Option parser: a duration in milliseconds from `500ms`, `30s`, `5m`, `1h` (a bare number is seconds). */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('not a duration (e.g. 500ms, 30s, 5m, 1h)');
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 's']);
}

/** A YAML or JSON document from a file (`-`: stdin); JSON by extension, else YAML (which reads JSON too). */
export function readDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    if (extname(file).toLowerCase() === '.json') return JSON.parse(text) as unknown;
    // Loaded here: only the commands that read files pay for the YAML parser.
    const YAML = require('yaml') as typeof import('yaml');
    return YAML.parse(text) as unknown;
  } catch (err) {
    throw usageError(`${file} is not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML or JSON'}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** `readDocument`, which must hold an object (a mapping). */
export function readObject(file: string): Record<string, unknown> {
  const doc = readDocument(file);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw usageError(`${file} must hold an object (a mapping), not ${Array.isArray(doc) ? 'a list' : typeof doc}`);
  return doc as Record<string, unknown>;
}
