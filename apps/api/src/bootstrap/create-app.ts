import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { PlatformConfig } from '@app/platform';
import { AppModule } from '../app.module';
import { JsonDepthInterceptor } from '../http/json-depth.interceptor';
import { createValidationPipe } from '../http/validation';
import { serveConsole } from './console-static';
import { createOpenApiDocument } from './openapi';

/** Builds the HTTP application (used by main.ts and by the end-to-end tests). */
export async function createApp(config: PlatformConfig, options: { logger?: boolean } = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: true,
    logger: options.logger === false ? false : undefined,
  });
  if (options.logger !== false) app.useLogger(app.get(Logger));
  // JSON only, 1 MiB at most: larger bodies answer 413, other media types 415 (see middleware).
  app.useBodyParser('json', { limit: '1mb', type: ['application/json', 'application/*+json'] });
  app.useGlobalInterceptors(new JsonDepthInterceptor());
  app.useGlobalPipes(createValidationPipe());
  app.set('trust proxy', false);
  app.disable('x-powered-by');

  const document = createOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  serveConsole(app); // the web console at /console (static, no api key)
  return app;
}
