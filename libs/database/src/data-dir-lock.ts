import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'fs';
import { join, resolve } from 'path';

const LOCK_FILE = 'saga-platform.pid';

/** Another live process holds the data directory: the message is one line, for people. */
export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';

  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    const holder = Number.isNaN(holderPid) ? 'another process (starting right now)' : `process ${holderPid}`;
    super(`data directory ${dataDir} is in use by ${holder}; stop it first, or set DATA_DIR to another directory`);
  }
}

export interface DataDirLock {
  readonly dataDir: string;
  release(): void;
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A recycled pid (after a reboot, or in a container) that is no Node process is not our holder.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|saga/i.test(cmdline);
  } catch {
    return true;
  }
}

function readHolder(file: string): number {
  try {
    return Number.parseInt(readFileSync(file, 'utf8').split('\n')[0], 10);
  } catch {
    return NaN;
  }
}

/**
 * Takes the data directory for this process (PostgreSQL's postmaster.pid, in small): a pid file
 * created with O_EXCL. A file left by a dead process (SIGKILL, power loss) is stale and taken over;
 * one of a live process refuses the start, since two PGlite instances on one directory corrupt it.
 * Released on exit, however the process ends short of SIGKILL.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n${new Date().toISOString()}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
    }
    const holder = readHolder(file);
    if (Number.isNaN(holder)) {
      // Being written this very moment by a process starting alongside, or truncated by a crash:
      // a live writer finishes within milliseconds.
      const ageMs = Date.now() - safeMtime(file);
      if (ageMs < 2000) throw new DataDirInUseError(dir, holder);
    } else if (isAlive(holder)) {
      throw new DataDirInUseError(dir, holder);
    }
    // Stale: move it aside under a name of our own (atomic), so two starters cannot both remove it
    // and then both create theirs; the loser of the rename simply tries again.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
      // What we moved may already be the fresh file of a process that took the stale one over just
      // before us: put it back (link fails if a file is there again) and let the loop refuse.
      if (isAlive(readHolder(aside))) {
        try {
          linkSync(aside, file);
        } catch {
          /* a third process created one meanwhile: the loop sees it */
        }
      }
      unlinkSync(aside);
    } catch {
      /* someone else moved it first */
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      if (readHolder(file) === process.pid) unlinkSync(file);
    } catch {
      /* already gone */
    }
  };
  process.on('exit', release);
  return { dataDir: dir, release };
}

function safeMtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
