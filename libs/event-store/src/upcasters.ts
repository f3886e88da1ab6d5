import { RecordedEvent, Upcaster } from './event-store.types';

/**
 * Upcasters by (type, schemaVersion). On read, an event is passed through the chain
 * v1 → v2 → … until no upcaster matches, so stored events are never rewritten.
 */
export class UpcasterRegistry {
  private readonly byKey = new Map<string, Upcaster>();

  constructor(upcasters: Upcaster[] = []) {
    upcasters.forEach((u) => this.register(u));
  }

  register(upcaster: Upcaster): this {
    if (upcaster.toSchemaVersion <= upcaster.fromSchemaVersion) {
      throw new Error(`upcaster ${upcaster.type}: toSchemaVersion must be above fromSchemaVersion`);
    }
    this.byKey.set(`${upcaster.type}@${upcaster.fromSchemaVersion}`, upcaster);
    return this;
  }

  get size(): number {
    return this.byKey.size;
  }

  upcast(event: RecordedEvent): RecordedEvent {
    let current = event;
    for (let guard = 0; guard < 100; guard++) {
      const u = this.byKey.get(`${current.type}@${current.schemaVersion}`);
      if (!u) return current;
      current = { ...current, data: u.upcast(current.data, current.metadata), schemaVersion: u.toSchemaVersion };
    }
    throw new Error(`upcaster chain for ${event.type} does not end`);
  }
}
