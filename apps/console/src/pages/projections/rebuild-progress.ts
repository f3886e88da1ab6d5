/**
 * Progress of a projection rebuild as the console sees it through GET /v1/projections. While
 * REBUILDING, `lag` counts the events the rebuild has still to apply (the API does not expose the
 * rebuild's own position), so the progress is how much of the largest lag seen since the rebuild
 * began has been worked off. Pure.
 */
export interface RebuildSample {
  at: number;
  status: string;
  position: number;
  lag: number;
}

export interface RebuildTrack {
  startedAt: number;
  samples: RebuildSample[];
  /** When LIVE was seen again after the rebuild began. */
  finishedAt?: number;
}

export function startTrack(now: number, first: Omit<RebuildSample, 'at'>): RebuildTrack {
  return { startedAt: now, samples: [{ at: now, ...first }] };
}

/** Adds a sample (only when something changed); LIVE after the start ends the track. */
export function addSample(track: RebuildTrack, now: number, s: Omit<RebuildSample, 'at'>): RebuildTrack {
  if (track.finishedAt) return track;
  const last = track.samples[track.samples.length - 1];
  const changed = !last || last.status !== s.status || last.lag !== s.lag || last.position !== s.position;
  const samples = changed ? [...track.samples, { at: now, ...s }] : track.samples;
  return { ...track, samples, finishedAt: s.status === 'LIVE' ? now : undefined };
}

export function rebuildPercent(track: RebuildTrack): number {
  if (track.finishedAt) return 100;
  const maxLag = Math.max(...track.samples.map((s) => s.lag), 0);
  const lag = track.samples[track.samples.length - 1]?.lag ?? maxLag;
  if (maxLag <= 0) return 0;
  return Math.max(0, Math.min(99, Math.round(((maxLag - lag) / maxLag) * 100)));
}

/** "REBUILDING → LIVE" (the statuses the rebuild went through, without repeats). */
export function trail(track: RebuildTrack): string {
  const out: string[] = [];
  for (const s of track.samples) if (out[out.length - 1] !== s.status) out.push(s.status);
  return out.join(' → ');
}
