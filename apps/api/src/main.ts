import 'reflect-metadata';
import { createApp } from './bootstrap/create-app';
import { prepareRuntime } from './bootstrap/runtime';

/**
 * `npm start`: api + worker in one process (embedded PostgreSQL when DATABASE_URL is unset,
 * in-memory bus when REDIS_URL is unset). `npm run start:api` (--api-only): the API alone.
 */
async function main(): Promise<void> {
  const apiOnly = process.argv.includes('--api-only');
  const runtime = await prepareRuntime({ role: apiOnly ? 'api' : 'all' });
  const app = await createApp(runtime.config);
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '0.0.0.0';
  await app.listen(port, host);

  const base = `http://127.0.0.1:${port}`;
  const lines = [
    '',
    `Saga Platform ${apiOnly ? 'API' : 'API + worker'} listening on ${base}`,
    `  database: ${runtime.embedded ? `embedded PostgreSQL (PGlite, data in .data/pglite)` : redact(runtime.config.databaseUrl)}`,
    `  message bus: ${runtime.config.redisUrl ? `Redis ${redact(runtime.config.redisUrl)}` : 'in-memory (single process)'}`,
    `  docs: ${base}/docs`,
  ];
  if (runtime.generatedAdminKey) {
    lines.push(`  admin api key (kept in .data/admin-api-key; set ADMIN_API_KEY to choose your own):`, `    ${runtime.generatedAdminKey}`);
  }
  lines.push(
    '',
    'Try:',
    `  curl -s -X POST ${base}/v1/tenants -H "Authorization: Bearer ${runtime.generatedAdminKey ?? '$ADMIN_API_KEY'}" \\`,
    `    -H 'Content-Type: application/json' -d '{"id":"acme","name":"Acme","quota":{"cpuMillis":4000,"memoryMb":8192},"allowedPermissions":["read","write"]}'`,
    '',
  );
  console.log(lines.join('\n'));

  const stop = async () => {
    await app.close();
    await runtime.embedded?.stop();
  };
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
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
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
