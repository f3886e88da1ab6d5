import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { randomUUID } from 'crypto';
import { Request, Response, NextFunction } from 'express';
import { LoggerModule } from 'nestjs-pino';
import { CoreModule, PlatformConfig, PlatformMetrics, WorkerModule } from '@app/platform';
import { ApiKeyGuard } from './auth/api-key.guard';
import { ApiKeysService } from './auth/api-keys.service';
import { requireJsonBody } from './http/content-type.middleware';
import { ProblemFilter } from './http/problem.filter';
import { OpsController } from './ops/ops.controller';
import { TenantsController } from './tenants/tenants.controller';
import { API_CONTROLLERS, API_PROVIDERS } from './routes';

const CORRELATION_HEADER = 'x-correlation-id';

@Module({})
export class AppModule implements NestModule {
  constructor(private readonly metrics: PlatformMetrics) {}

  /** The API; with `config.worker.enabled` also the worker (the all-in-one `npm start`). */
  static forRoot(config: PlatformConfig): DynamicModule {
    const runsWorker = config.worker.enabled || config.projections.enabled;
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: {
            level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info'),
            // One correlation id per request: taken from X-Correlation-Id or made here, echoed
            // back, and written into the metadata of every event the request causes.
            genReqId: (req, res) => {
              const given = req.headers[CORRELATION_HEADER];
              const id = typeof given === 'string' && /^[A-Za-z0-9._:-]{1,100}$/.test(given) ? given : randomUUID();
              res.setHeader('X-Correlation-Id', id);
              return id;
            },
            autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/metrics' },
            redact: ['req.headers.authorization'],
          },
        }),
        TerminusModule,
        ...(runsWorker ? [WorkerModule] : []),
      ],
      controllers: [OpsController, TenantsController, ...API_CONTROLLERS],
      providers: [
        ApiKeysService,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
        ...API_PROVIDERS,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    const histogram = this.metrics.httpRequests;
    consumer
      .apply(requireJsonBody, (req: Request, res: Response, next: NextFunction) => {
        const end = histogram.startTimer({ method: req.method });
        res.on('finish', () => end({ route: (req.route?.path as string) ?? 'unmatched', status: String(res.statusCode) }));
        next();
      })
      .forRoutes('*');
  }
}
