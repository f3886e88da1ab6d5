import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ProblemDto, problemResponse, ProblemStatus } from '../http/problem.docs';

const TAGS: [name: string, description: string][] = [
  ['sagas', 'Start sagas, follow them (one saga, lists, live events) and operate their compensations'],
  ['agents', 'The work protocol of agent instances (agent keys: heartbeat, poll, complete, fail, extend, progress) and the operators\' agent routes: keys, decommissioning, queues'],
  ['read models', 'Agents, tasks, services and saga statistics from the projections (eventually consistent)'],
  ['workflow definitions', 'Stored, versioned task workflows: submit once, start many times by name'],
  ['schedules', 'Cron schedules (IANA time zones) that start a saga at each fire, exactly once however many workers run'],
  ['event store', 'Raw streams: append with an expected version, read, replay state; the global log'],
  ['projections', 'Read-model positions, lag and rebuilds'],
  ['dead letters', 'Messages whose deliveries kept failing: list and replay'],
  ['tenants', 'Tenants and their api keys (admin)'],
  ['operations', 'Liveness and readiness probes (no api key)'],
];

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/**
 * The OpenAPI document of the API, served at /docs (UI) and /docs-json. Operation ids are the
 * handler names (`getSaga`, `startTaskWorkflow`): stable and readable, so each handler name must be
 * unique across controllers (the OpenAPI e2e spec checks it).
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Saga Platform')
    .setDescription('Event-sourced sagas on PostgreSQL: start sagas, replay streams, query projections, operate compensations.')
    .setVersion('1')
    .addServer('/', 'this server')
    // Keys are opaque random strings, not JWTs: no bearerFormat.
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: undefined, description: 'API key (`Authorization: Bearer <key>`)' });
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const config = builder.build();
  config.info.license = { name: 'UNLICENSED' };
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controller, method) => method,
    extraModels: [ProblemDto],
  });
  return addSharedAnswers(document);
}

/**
 * Answers every route shares, added here rather than on each handler because the guard and the
 * body parser give them, not the handler: an operation without a security scheme is public
 * (`security: []`); one with the api key answers 401 (no or unknown key) and 503 (database away);
 * any POST, PUT or PATCH 413 (over 1 MiB) and 415 (not JSON), and one with a JSON body 400.
 * A status a route documents itself keeps its description.
 */
function addSharedAnswers(document: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const shared: ProblemStatus[] = [];
      if (!op.security?.length) op.security = [];
      else shared.push(401, 503);
      if (method !== 'get' && method !== 'delete') shared.push(413, 415);
      if (op.requestBody) shared.push(400);
      for (const status of shared) op.responses[status] ??= problemResponse(status);
    }
  }
  return document;
}
