import CircuitBreaker from 'opossum';

/** How the `http` handler's breakers judge an origin (opossum's option names). */
export interface HttpCircuitBreakerOptions {
  /** Calls in the rolling window before the breaker may open at all. Default 5. */
  volumeThreshold: number;
  /** The breaker opens when more than this percentage of the window's calls failed. Default 50. */
  errorThresholdPercentage: number;
  /** The rolling window, in ms. Default 10 000. */
  rollingCountTimeout: number;
  /** Buckets of the rolling window (must divide it). Default 10. */
  rollingCountBuckets: number;
  /** How long an open breaker fails fast before it lets one probe through (half-open), in ms. Default 10 000. */
  resetTimeout: number;
  /** Origins remembered at most; beyond, the least recently used (closed first) is forgotten. Default 1000. */
  maxOrigins: number;
}

export const DEFAULT_HTTP_CIRCUIT_BREAKER: Readonly<HttpCircuitBreakerOptions> = {
  volumeThreshold: 5,
  errorThresholdPercentage: 50,
  rollingCountTimeout: 10_000,
  rollingCountBuckets: 10,
  resetTimeout: 10_000,
  maxOrigins: 1000,
};

/** One origin's breaker as operators see it; `failures` counts the rolling window's. */
export interface HttpCircuitState {
  origin: string;
  state: 'closed' | 'half_open' | 'open';
  failures: number;
}

/** Code of the error a call gets while its origin's breaker is open (the step's `errorCode`). */
export const CIRCUIT_OPEN = 'CIRCUIT_OPEN';

type Send = () => Promise<unknown>;

/**
 * A failure that says nothing about the remote (the saga was cancelled, the worker is stopping):
 * carried through the breaker without counting against the origin, then unwrapped.
 */
class NotTheRemote {
  constructor(readonly error: unknown) {}
}

/** Aborted by the step's timeout (the remote was too slow), as opposed to a cancel or a shutdown. */
const isTimeout = (reason: unknown): boolean => {
  const r = reason as { code?: unknown; name?: unknown } | null | undefined;
  return r?.code === 'TIMEOUT' || r?.name === 'TimeoutError';
};

/**
 * One circuit breaker (opossum) per target origin (scheme, host and port). A call that fails
 * (5xx, network error, timeout) counts against its origin; once the window holds enough calls and
 * too many failed, calls fail fast with code `CIRCUIT_OPEN` until a probe, let through after
 * `resetTimeout`, succeeds. Answers below 500 count as successes: the origin is up.
 */
export class HttpCircuits {
  private readonly options: HttpCircuitBreakerOptions;
  private readonly breakers = new Map<string, CircuitBreaker<[Send, AbortSignal], unknown>>();

  constructor(options: Partial<HttpCircuitBreakerOptions> = {}) {
    this.options = { ...DEFAULT_HTTP_CIRCUIT_BREAKER, ...options };
  }

  /**
   * Runs `send` under `origin`'s breaker. `send` resolves for answers the breaker counts as
   * successes and throws for failures; `signal` is the step's, so a cancel does not count.
   */
  async call<T>(origin: string, signal: AbortSignal, send: () => Promise<T>): Promise<T> {
    const breaker = this.breakerFor(origin);
    try {
      return (await breaker.fire(send, signal)) as T;
    } catch (err) {
      if (err instanceof NotTheRemote) throw err.error;
      if ((err as { code?: unknown })?.code === 'EOPENBREAKER') {
        throw Object.assign(new Error(`http: circuit open for ${origin} after ${breaker.stats.failures} recent failures; not called`), { code: CIRCUIT_OPEN });
      }
      throw err;
    }
  }

  /** Every remembered origin's breaker. */
  states(): HttpCircuitState[] {
    return [...this.breakers].map(([origin, b]) => ({
      origin,
      state: b.opened ? 'open' : b.halfOpen ? 'half_open' : 'closed',
      failures: b.stats.failures,
    }));
  }

  /** Stops every breaker's timers (they are unref'd: this is tidiness, not a condition of exit). */
  shutdown(): void {
    for (const b of this.breakers.values()) b.shutdown();
    this.breakers.clear();
  }

  private breakerFor(origin: string): CircuitBreaker<[Send, AbortSignal], unknown> {
    const known = this.breakers.get(origin);
    if (known) {
      // Map order is use order: the first entries are the least recently used.
      this.breakers.delete(origin);
      this.breakers.set(origin, known);
      return known;
    }
    if (this.breakers.size >= this.options.maxOrigins) this.forgetOne();
    const { maxOrigins: _maxOrigins, ...opossum } = this.options;
    const breaker: CircuitBreaker<[Send, AbortSignal], unknown> = new CircuitBreaker(
      async (send: Send, signal: AbortSignal) => {
        try {
          return await send();
        } catch (err) {
          if (signal.aborted && !isTimeout(signal.reason)) throw new NotTheRemote(err);
          throw err;
        }
      },
      {
        ...opossum,
        name: origin,
        // Timeouts are the step's and config.timeoutMs's, which abort the request; opossum's own
        // would only stop waiting for it.
        timeout: false,
        enableSnapshots: false,
        // A half-open probe that was cancelled proved nothing: keep the breaker open (another
        // probe follows) rather than close it on no evidence.
        errorFilter: (err: unknown) => err instanceof NotTheRemote && !breaker.halfOpen,
      },
    );
    this.breakers.set(origin, breaker);
    return breaker;
  }

  private forgetOne(): void {
    let victim: string | undefined;
    for (const [origin, b] of this.breakers) {
      if (b.closed) {
        victim = origin;
        break;
      }
    }
    victim ??= this.breakers.keys().next().value;
    if (victim === undefined) return;
    this.breakers.get(victim)?.shutdown();
    this.breakers.delete(victim);
  }
}
