/** An entry as Redis replies it; `fields` is null for an entry trimmed from the stream while pending (Redis 6.2). */
export type RawEntry = [id: string, fields: string[] | null];

/** One topic stream a subscription reads. */
export interface StreamState {
  topic: string;
  key: string;
  /** XAUTOCLAIM cursor: a scan of the pending list goes on where the previous one stopped. */
  cursor: string;
}

/** An entry handed to this consumer, with the group's delivery count (this delivery included). */
export interface PendingEntry {
  stream: StreamState;
  id: string;
  fields: string[];
  deliveries: number;
}
