import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { CoreModule, envConfigModule, exitOnConfigError, platformLoggerModule, startTelemetry, WorkerModule } from '@app/platform';
import { prepareRuntime } from '../../api/src/bootstrap/runtime';
import { stopOnSignals } from '../../api/src/bootstrap/shutdown';

/**
 * `npm run start:worker`: saga executor and projections against DATABASE_URL (run N copies). A
 * worker started before its database waits for it (prepareRuntime retries), and one that loses it
 * later keeps retrying in its loops: it never exits for an outage.
 */
async function main(): Promise<void> {
  // OpenTelemetry first, when OTEL_EXPORTER_OTLP_ENDPOINT asks for it (README "Tracing").
  const telemetry = startTelemetry('saga-platform-worker');
  const runtime = await prepareRuntime({ role: 'worker' });
  @Module({ imports: [envConfigModule(), platformLoggerModule(), CoreModule.forRoot(runtime.config), WorkerModule] })
  class WorkerAppModule {}
  let app: Awaited<ReturnType<typeof NestFactory.createApplicationContext>> | undefined;
  stopOnSignals(
    async () => {
      await app?.close();
      await telemetry?.shutdown();
    },
    { timeoutMs: runtime.shutdownTimeoutMs, name: 'saga-platform worker' },
  );
  app = await NestFactory.createApplicationContext(WorkerAppModule, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  console.log(`worker started (database ${new URL(runtime.config.databaseUrl).host}, bus ${runtime.config.redisUrl ? 'redis' : 'in-memory'})`);
}

main().catch((err) => {
  exitOnConfigError(err);
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
