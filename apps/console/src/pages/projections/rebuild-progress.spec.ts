import { addSample, rebuildPercent, startTrack, trail } from './rebuild-progress';

describe('rebuild progress (from GET /v1/projections samples)', () => {
  it('works off the largest lag seen and ends at LIVE', () => {
    let t = startTrack(0, { status: 'REBUILDING', position: 500, lag: 1000 });
    expect(rebuildPercent(t)).toBe(0);
    t = addSample(t, 100, { status: 'REBUILDING', position: 500, lag: 250 });
    expect(rebuildPercent(t)).toBe(75);
    t = addSample(t, 200, { status: 'REBUILDING', position: 500, lag: 250 });
    expect(t.samples).toHaveLength(2); // unchanged samples are not kept
    t = addSample(t, 300, { status: 'LIVE', position: 1000, lag: 0 });
    expect(t.finishedAt).toBe(300);
    expect(rebuildPercent(t)).toBe(100);
    expect(trail(t)).toBe('REBUILDING → LIVE');
    expect(addSample(t, 400, { status: 'REBUILDING', position: 0, lag: 9 })).toBe(t); // a finished track stays as it was
  });

  it('never claims 100 % before LIVE', () => {
    const t = addSample(startTrack(0, { status: 'REBUILDING', position: 0, lag: 3 }), 1, { status: 'REBUILDING', position: 0, lag: 0 });
    expect(rebuildPercent(t)).toBe(99);
  });
});
