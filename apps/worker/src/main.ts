import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CoreModule, WorkerModule } from '@app/platform';
import { prepareRuntime } from '../../api/src/bootstrap/runtime';

/** `npm run start:worker`: saga executor and projections against DATABASE_URL (run N copies). */
async function main(): Promise<void> {
  const runtime = await prepareRuntime({ role: 'worker' });
  @Module({ imports: [CoreModule.forRoot(runtime.config), WorkerModule] })
  class WorkerAppModule {}
  const app = await NestFactory.createApplicationContext(WorkerAppModule);
  app.enableShutdownHooks();
  console.log(`worker started (database ${new URL(runtime.config.databaseUrl).host}, bus ${runtime.config.redisUrl ? 'redis' : 'in-memory'})`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
