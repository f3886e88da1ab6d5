import 'reflect-metadata';
import { exitOnConfigError, httpServerSpans, startTelemetry } from '@app/platform';
import { createApp } from './bootstrap/create-app';
import { prepareRuntime } from './bootstrap/runtime';
import { stopOnSignals } from './bootstrap/shutdown';

/**
 * `npm start`: api + worker in one process (embedded PostgreSQL when DATABASE_URL is unset,
 * in-memory bus when REDIS_URL is unset). `npm run start:api` (--api-only): the API alone.
 */
async function main(): Promise<void> {
  const apiOnly = process.argv.includes('--api-only');
  // OpenTelemetry first, when OTEL_EXPORTER_OTLP_ENDPOINT asks for it (README "Tracing").
  const telemetry = startTelemetry(apiOnly ? 'saga-platform-api' : 'saga-platform');
  const runtime = await prepareRuntime({ role: apiOnly ? 'api' : 'all' });
  // From here on a signal stops everything that started, the embedded database last.
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  const signals = stopOnSignals(
    async () => {
      await app?.close();
      await runtime.embedded?.stop();
      await telemetry?.shutdown();
    },
    { timeoutMs: runtime.shutdownTimeoutMs, name: apiOnly ? 'saga-platform api' : 'saga-platform' },
  );
  app = await createApp(runtime.config);
  if (telemetry) app.use(httpServerSpans());
  const { port, host } = runtime.listen;
  try {
    await app.listen(port, host);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
    console.error(`saga-platform: port ${port} on ${host} is already in use; set PORT to another one`);
    await app.close().catch(() => undefined);
    await runtime.embedded?.stop().catch(() => undefined);
    process.exit(1);
  }
  // Stopped while starting (Ctrl-C during boot): no banner for a platform that is going away.
  if (signals.stopping) return;

  const base = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  const dataDir = runtime.embedded?.dataDir;
  const lines = [
    '',
    `Saga Platform ${apiOnly ? 'API' : 'API + worker'} listening on ${base}`,
    `  database: ${dataDir ? `embedded PostgreSQL (PGlite), data in ${dataDir}` : redact(runtime.config.databaseUrl)}`,
    `  message bus: ${runtime.config.redisUrl ? `Redis ${redact(runtime.config.redisUrl)}` : 'in-memory (single process)'}`,
    `  docs: ${base}/docs`,
    `  console: ${base}/console`,
  ];
  if (runtime.generatedAdminKey) {
    lines.push(`  admin api key (kept in ${runtime.adminKeyFile}; set ADMIN_API_KEY to choose your own):`, `    ${runtime.generatedAdminKey}`);
  }
  lines.push(
    '',
    'Try (in another terminal):',
    `  curl -s -X POST ${base}/v1/tenants -H "Authorization: Bearer ${runtime.generatedAdminKey ?? '$ADMIN_API_KEY'}" \\`,
    `    -H 'Content-Type: application/json' -d '{"id":"acme","name":"Acme","quota":{"cpuMillis":4000,"memoryMb":8192},"allowedPermissions":["read","write"]}'`,
    '',
  );
  console.log(lines.join('\n'));
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

main().catch((err) => {
  exitOnConfigError(err);
  // Refusals meant for people are one line; anything else is a bug or an outage, with its stack.
  if ((err as { code?: string })?.code === 'DATA_DIR_IN_USE') console.error(`saga-platform: ${(err as Error).message}`);
  else console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
