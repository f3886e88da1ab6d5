/* Decides where the tests' PostgreSQL and Redis come from and passes it to every worker through
 * the environment (no Jest globals): testcontainers when a Docker engine answers, else
 * DATABASE_URL / REDIS_URL, else the local defaults. Each test file then creates its own database. */
const fs = require('fs');

const LOCAL_DB = 'postgresql://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

function dockerMayAnswer() {
  if (process.env.TESTCONTAINERS_DISABLED === '1') return false;
  if (process.env.DOCKER_HOST) return true;
  return fs.existsSync('/var/run/docker.sock');
}

/** The e2e tests (and any test that opens /console) need the built console: built when stale. */
function buildConsoleIfStale(globalConfig) {
  const projects = globalConfig && globalConfig.selectProjects;
  if (projects && !projects.includes('e2e')) return;
  const { execFileSync } = require('child_process');
  const path = require('path');
  try {
    execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'apps', 'console', 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });
  } catch {
    console.log('\n[tests] the console did not build (see above): the last build (if any) is served and the console tests may fail');
  }
}

module.exports = async function globalSetup(globalConfig) {
  buildConsoleIfStale(globalConfig);
  if (!process.env.DATABASE_URL && dockerMayAnswer()) {
    try {
      const { PostgreSqlContainer } = require('@testcontainers/postgresql');
      const { RedisContainer } = require('@testcontainers/redis');
      const pg = await new PostgreSqlContainer('postgres:16-alpine').withUsername('postgres').withPassword('postgres').start();
      const redis = await new RedisContainer('redis:7-alpine').start();
      globalThis.__SAGA_CONTAINERS__ = [pg, redis];
      process.env.DATABASE_URL = pg.getConnectionUri();
      process.env.REDIS_URL = redis.getConnectionUrl();
      console.log(`\n[tests] PostgreSQL and Redis from testcontainers`);
      return;
    } catch (err) {
      console.log(`\n[tests] Docker engine not usable (${err.message.split('\n')[0]}); using local services`);
    }
  }
  process.env.DATABASE_URL = process.env.DATABASE_URL || LOCAL_DB;
  process.env.REDIS_URL = process.env.REDIS_URL || LOCAL_REDIS;
};
