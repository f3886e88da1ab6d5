import { PoolClient } from 'pg';
import { RecordedEvent } from '@app/event-store';
import { Projection } from './projection';

/**
 * Applies inline projections inside the transaction that appends the events, so their read
 * models change atomically with the log (read-your-writes for that model).
 */
export class InlineProjector {
  private readonly inline: { projection: Projection; types: Set<string> }[];

  constructor(projections: Projection[]) {
    this.inline = projections.filter((p) => p.mode === 'inline').map((projection) => ({ projection, types: new Set(projection.eventTypes) }));
  }

  async apply(tx: PoolClient, events: RecordedEvent[]): Promise<void> {
    for (const { projection, types } of this.inline) {
      const relevant = events.filter((e) => types.has(e.type));
      if (relevant.length) await projection.handle(relevant, { tx });
    }
  }
}
