import { ConfigModule } from '@nestjs/config';
import { parseEnv } from './env.schema';

/**
 * The Nest ConfigModule over the same schema as `prepareRuntime`, so providers can inject a
 * `ConfigService<Env, true>` with parsed values. The environment only: no `.env` file is read, and
 * (unlike `validate`) `load` leaves `process.env` as it was: no defaults leak into child processes.
 */
export const envConfigModule = () =>
  ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, cache: true, skipProcessEnv: true, load: [() => parseEnv(process.env)] });
