import { EventMetadata, RecordedEvent } from '../event-store.types';

export interface EventRowShape {
  global_position: number;
  event_id: string;
  stream_id: string;
  version: number;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: EventMetadata;
  recorded_at: Date;
}

export const EVENT_COLUMNS =
  'global_position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at';

export function toRecordedEvent(row: EventRowShape): RecordedEvent {
  return {
    eventId: row.event_id,
    streamId: row.stream_id,
    version: row.version,
    globalPosition: row.global_position,
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
    recordedAt: row.recorded_at,
  };
}
