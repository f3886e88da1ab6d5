import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { Request, Response, NextFunction } from 'express';
import { CoreModule, envConfigModule, PlatformConfig, PlatformMetrics, platformLoggerModule, WorkerModule } from '@app/platform';
import { ApiKeyGuard } from './auth/api-key.guard';
import { ApiKeysService } from './auth/api-keys.service';
import { requireJsonBody } from './http/content-type.middleware';
import { ProblemFilter } from './http/problem.filter';
import { requestLogOptions } from './http/request-log.options';
import { OpsController } from './ops/ops.controller';
import { TenantsController } from './tenants/tenants.controller';
import { MeController } from './auth/me.controller';
import { API_CONTROLLERS, API_PROVIDERS } from './routes';

@Module({})
export class AppModule implements NestModule {
  constructor(private readonly metrics: PlatformMetrics) {}

  /** The API; with `config.worker.enabled` also the worker (the all-in-one `npm start`). */
  static forRoot(config: PlatformConfig): DynamicModule {
    const runsWorker = config.worker.enabled || config.projections.enabled;
    return {
      module: AppModule,
      imports: [
        envConfigModule(),
        CoreModule.forRoot(config),
        platformLoggerModule(requestLogOptions),
        TerminusModule,
        ...(runsWorker ? [WorkerModule] : []),
      ],
      controllers: [OpsController, TenantsController, MeController, ...API_CONTROLLERS],
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
