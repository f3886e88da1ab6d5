/**
 * SIGINT / SIGTERM always stop the process: the first signal starts a graceful stop (in-flight
 * requests and effects finish, leases are given back, the embedded database is closed) under a
 * hard deadline; a stop that hangs, or a second signal, ends the process at once. Nest's own
 * `enableShutdownHooks` is not used, since it has no deadline.
 */
export function stopOnSignals(stop: () => Promise<void>, options: { timeoutMs: number; name: string }): { readonly stopping: boolean } {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (stopping) {
      console.error(`${options.name}: ${signal} again; exiting now`);
      process.exit(code);
    }
    stopping = true;
    console.error(`${options.name}: ${signal} received; stopping (at most ${Math.round(options.timeoutMs / 1000)} s)`);
    const deadline = setTimeout(() => {
      console.error(`${options.name}: graceful stop did not finish within ${options.timeoutMs} ms; exiting`);
      process.exit(1);
    }, options.timeoutMs);
    stop().then(
      () => {
        clearTimeout(deadline);
        console.error(`${options.name}: stopped`);
        process.exit(0);
      },
      (err: unknown) => {
        clearTimeout(deadline);
        console.error(`${options.name}: stop failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get stopping() {
      return stopping;
    },
  };
}
