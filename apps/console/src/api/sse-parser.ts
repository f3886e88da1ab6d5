/**
 * Server-Sent Events, parsed from text chunks as they arrive (WHATWG "event stream interpretation").
 * The console reads GET /v1/sagas/{id}/live with fetch because EventSource cannot send the
 * Authorization header; this turns the streamed body back into events. Chunks may split a line, a
 * CRLF pair or a UTF-8 character anywhere (the caller decodes with a streaming TextDecoder).
 */
export interface SseMessage {
  /** The last `id:` seen (it persists across messages, as in EventSource). */
  id?: string;
  event: string;
  data: string;
}

export class SseParser {
  private buffer = '';
  private lastId: string | undefined;
  private eventType = '';
  private data: string[] = [];
  private hasData = false;
  private pendingCr = false;

  /** Feeds a decoded chunk; returns the messages it completed. */
  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    let text = chunk;
    // A CR at the end of the previous chunk and an LF at the start of this one are one line end.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch !== '\n' && ch !== '\r') continue;
      this.line(this.buffer.slice(start, i), out);
      if (ch === '\r') {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === '\n') i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === '') {
      if (this.hasData) {
        out.push({ id: this.lastId, event: this.eventType || 'message', data: this.data.join('\n') });
      }
      this.eventType = '';
      this.data = [];
      this.hasData = false;
      return;
    }
    if (line.startsWith(':')) return; // comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      default:
        break; // `retry` and unknown fields: the console schedules its own reconnects
    }
  }
}
