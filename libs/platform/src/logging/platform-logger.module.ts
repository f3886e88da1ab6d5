import { ConfigService } from '@nestjs/config';
import { LoggerModule, Params } from 'nestjs-pino';
import type { LogFn, Logger as Pino } from 'pino';
import { Options } from 'pino-http';
import pretty from 'pino-pretty';
import { Env } from '../config/env.schema';

/**
 * nestjs-pino for both processes, at LOG_LEVEL: readable text when a person watches the terminal,
 * JSON lines otherwise (for log collectors). `http` adds the API's request logging.
 */
export function platformLoggerModule(http: Options = {}) {
  return LoggerModule.forRootAsync({
    inject: [ConfigService],
    useFactory: (config: ConfigService<Env, true>): Params => {
      const options: Options = { ...http, level: config.get('LOG_LEVEL', { infer: true }), hooks: { logMethod: nestInventoryAtDebug } };
      return { pinoHttp: process.stdout.isTTY ? [options, terminal()] : options };
    },
  });
}

/** Nest's start-up inventory: a line per module and per route (about 60), for debugging, not reading. */
const NEST_INVENTORY = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

function nestInventoryAtDebug(this: Pino, args: Parameters<LogFn>, method: LogFn, level: number): void {
  const context = (args[0] as { context?: unknown } | undefined)?.context;
  if (level === this.levels.values.info && typeof context === 'string' && NEST_INVENTORY.has(context)) {
    this.debug(...(args as [object, string?]));
    return;
  }
  method.apply(this, args);
}

function terminal() {
  return pretty({
    colorize: true,
    // In-process and synchronous: the last lines of a shutdown are written before the exit.
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    singleLine: true,
    messageFormat: '{if context}[{context}] {end}{msg}',
    // Request lines carry method, url, status and time in their message.
    ignore: 'pid,hostname,context,req,res,responseTime',
  });
}
