import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Controller, Get, Module } from '@nestjs/common';

@Controller()
class HealthController {
  @Get('health')
  health() {
    return { status: 'ok' };
  }
}

@Module({ controllers: [HealthController] })
class ApiModule {}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(ApiModule);
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);
  console.log(`api listening on http://127.0.0.1:${port}`);
}

void bootstrap();
