import { AgentWorkErrorCode } from './protocol.types';

/** The problem+json body the API answers every refusal with (API.md "Errors"). */
export interface ProblemBody {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  [extra: string]: unknown;
}

/**
 * A non-2xx answer of the API. Network faults are not wrapped: they stay what `fetch` threw, so that
 * "the server refused" and "the server was not reached" cannot be confused.
 */
export class AgentClientError extends Error {
  readonly code?: AgentWorkErrorCode | string;
  readonly type?: string;
  readonly title?: string;
  readonly detail?: string;

  constructor(
    readonly status: number,
    readonly body: ProblemBody,
  ) {
    super(`${status} ${body.title ?? 'Error'}${body.detail ? `: ${body.detail}` : ''}${body.code ? ` (${body.code})` : ''}`);
    this.name = 'AgentClientError';
    this.code = typeof body.code === 'string' ? body.code : undefined;
    this.type = body.type;
    this.title = body.title;
    this.detail = body.detail;
  }

  /** Builds the error from a raw body, which a proxy in between may have made non-JSON. */
  static fromResponse(status: number, text: string): AgentClientError {
    let body: ProblemBody;
    try {
      const parsed: unknown = text ? JSON.parse(text) : {};
      body = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as ProblemBody) : { detail: text };
    } catch {
      body = { detail: text.slice(0, 500) };
    }
    return new AgentClientError(status, body);
  }
}

export function isAgentClientError(err: unknown, code?: AgentWorkErrorCode | string): err is AgentClientError {
  return err instanceof AgentClientError && (code === undefined || err.code === code);
}
