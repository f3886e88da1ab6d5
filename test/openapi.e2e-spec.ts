import { startApiOnly } from './support/api-only';
import { E2eContext } from './support/e2e-app';

jest.setTimeout(120_000);

/**
 * Every route of API.md, as `METHOD /path/{param}`, with what the OpenAPI document must say about
 * it: a JSON request body (with properties) for the POST routes that take one, the query
 * parameters API.md names, and the content type of the success answer.
 */
interface RouteSpec {
  route: string;
  body?: boolean;
  query?: string[];
  headers?: string[];
  /** Content type of the 2xx answer (default application/json); `none` for 204. */
  produces?: 'application/json' | 'text/event-stream' | 'text/plain' | 'none';
  /** An /v1 route: documented with the bearer scheme. Default: true for /v1 routes. */
  auth?: boolean;
}

const ROUTES: RouteSpec[] = [
  { route: 'POST /v1/tenants', body: true },
  { route: 'GET /v1/tenants/{id}' },
  { route: 'GET /v1/me' },
  { route: 'POST /v1/api-keys', body: true },
  { route: 'DELETE /v1/api-keys/{id}', produces: 'none' },
  { route: 'POST /v1/sagas/agent-provisioning', body: true, headers: ['Idempotency-Key'] },
  { route: 'POST /v1/sagas/task-workflow', body: true, headers: ['Idempotency-Key'] },
  { route: 'GET /v1/sagas/{sagaId}' },
  { route: 'GET /v1/sagas', query: ['type', 'status', 'definition', 'limit', 'cursor'] },
  { route: 'GET /v1/sagas/{sagaId}/events' },
  { route: 'GET /v1/sagas/{sagaId}/compensations' },
  { route: 'GET /v1/compensations', query: ['status', 'limit', 'cursor'] },
  { route: 'POST /v1/sagas/{sagaId}/retry', body: true },
  { route: 'POST /v1/sagas/{sagaId}/skip', body: true },
  { route: 'POST /v1/sagas/{sagaId}/cancel', body: true },
  { route: 'POST /v1/sagas/{sagaId}/resume', body: true },
  { route: 'POST /v1/sagas/{sagaId}/compensate', body: true },
  { route: 'POST /v1/sagas/{sagaId}/signals/{name}', body: true },
  { route: 'GET /v1/sagas/{sagaId}/live', produces: 'text/event-stream' },
  { route: 'GET /v1/dead-letters', query: ['topic', 'limit', 'cursor'] },
  { route: 'POST /v1/dead-letters/{id}/replay' },
  { route: 'POST /v1/streams/{streamId}/events', body: true },
  { route: 'GET /v1/streams/{streamId}/events', query: ['fromVersion', 'limit', 'direction'] },
  { route: 'GET /v1/streams/{streamId}/state', query: ['atVersion'] },
  { route: 'GET /v1/events', query: ['after', 'limit', 'category'] },
  { route: 'GET /v1/projections' },
  { route: 'POST /v1/projections/{name}/rebuild' },
  { route: 'GET /v1/agents', query: ['status', 'capability', 'limit', 'cursor'] },
  { route: 'GET /v1/agents/{agentId}' },
  { route: 'GET /v1/tasks', query: ['sagaId', 'status'] },
  { route: 'GET /v1/tasks/{taskId}' },
  { route: 'GET /v1/services', query: ['capability', 'status'] },
  { route: 'GET /v1/stats/sagas' },
  { route: 'POST /v1/agents/{agentId}/keys', body: true },
  { route: 'POST /v1/agents/{agentId}/decommission', body: true },
  { route: 'GET /v1/queues' },
  { route: 'POST /v1/agent/heartbeat', body: true },
  { route: 'POST /v1/agent/tasks/poll', body: true },
  { route: 'POST /v1/agent/tasks/{taskId}/complete', body: true },
  { route: 'POST /v1/agent/tasks/{taskId}/fail', body: true },
  { route: 'POST /v1/agent/tasks/{taskId}/extend', body: true },
  { route: 'POST /v1/agent/tasks/{taskId}/progress', body: true },
  { route: 'POST /v1/workflow-definitions', body: true },
  { route: 'GET /v1/workflow-definitions', query: ['limit', 'cursor'] },
  { route: 'GET /v1/workflow-definitions/{name}' },
  { route: 'GET /v1/workflow-definitions/{name}/versions/{version}' },
  { route: 'POST /v1/schedules', body: true },
  { route: 'GET /v1/schedules', query: ['limit', 'cursor'] },
  { route: 'GET /v1/schedules/{id}' },
  { route: 'POST /v1/schedules/{id}/pause' },
  { route: 'POST /v1/schedules/{id}/resume' },
  { route: 'DELETE /v1/schedules/{id}', produces: 'none' },
  { route: 'GET /health' },
  { route: 'GET /ready' },
];

/** Listed only if the document lists it (API.md names it, but a scrape target need not be documented). */
const OPTIONAL: RouteSpec[] = [{ route: 'GET /metrics', produces: 'text/plain' }];

type Schema = { $ref?: string; type?: string; properties?: Record<string, unknown>; items?: Schema; allOf?: Schema[]; oneOf?: Schema[]; anyOf?: Schema[] };
type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  parameters?: { name: string; in: string; $ref?: string }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
  security?: Record<string, string[]>[];
};
type OpenApi = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema>; securitySchemes?: Record<string, { type: string; scheme?: string; bearerFormat?: string }> };
  servers?: { url: string }[];
  info: { license?: { name: string } };
  tags?: { name: string; description?: string }[];
  security?: Record<string, string[]>[];
};

describe('OpenAPI document', () => {
  let ctx: E2eContext;
  let doc: OpenApi;

  beforeAll(async () => {
    ctx = await startApiOnly();
    const res = await ctx.http().get('/docs-json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    doc = res.body;
  });
  afterAll(async () => ctx?.close());

  const resolve = (schema: Schema | undefined, seen = new Set<string>()): Schema | undefined => {
    if (!schema?.$ref) return schema;
    if (seen.has(schema.$ref)) return undefined;
    seen.add(schema.$ref);
    const name = schema.$ref.replace('#/components/schemas/', '');
    return resolve(doc.components?.schemas?.[name], seen);
  };

  /** A schema that says something: an object with properties, an array of such, a composition, or a typed scalar. */
  const describes = (schema: Schema | undefined): boolean => {
    const s = resolve(schema);
    if (!s) return false;
    if (s.properties && Object.keys(s.properties).length > 0) return true;
    if (s.type === 'array') return describes(s.items);
    for (const parts of [s.allOf, s.oneOf, s.anyOf]) if (parts?.length && parts.every((p) => describes(p))) return true;
    return s.type !== undefined && s.type !== 'object';
  };

  const operation = (route: string): Operation | undefined => {
    const [method, path] = route.split(' ');
    return doc.paths[path]?.[method.toLowerCase()];
  };

  /** What is wrong with one route's documentation (empty when nothing). */
  const problemsOf = (spec: RouteSpec): string[] => {
    const op = operation(spec.route);
    if (!op) return [`${spec.route}: missing`];
    const out: string[] = [];
    const path = spec.route.split(' ')[1];
    const params = (op.parameters ?? []).filter((p) => !p.$ref);
    for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
      if (!params.some((p) => p.in === 'path' && p.name === name)) out.push(`${spec.route}: path parameter ${name} not documented`);
    }
    for (const name of spec.query ?? []) {
      if (!params.some((p) => p.in === 'query' && p.name === name)) out.push(`${spec.route}: query parameter ${name} not documented`);
    }
    for (const name of spec.headers ?? []) {
      if (!params.some((p) => p.in === 'header' && p.name.toLowerCase() === name.toLowerCase())) out.push(`${spec.route}: header ${name} not documented`);
    }
    if (spec.body) {
      const schema = resolve(op.requestBody?.content?.['application/json']?.schema);
      if (!schema?.properties || Object.keys(schema.properties).length === 0) out.push(`${spec.route}: no application/json requestBody schema with properties`);
    }
    const success = Object.entries(op.responses ?? {}).filter(([code]) => /^2\d\d$/.test(code));
    const produces = spec.produces ?? 'application/json';
    if (success.length === 0) out.push(`${spec.route}: no 2xx response`);
    else if (produces === 'none') {
      if (!success.some(([code]) => code === '204')) out.push(`${spec.route}: no 204 response`);
    } else {
      const ok = success.some(([, r]) => {
        const entry = Object.entries(r.content ?? {}).find(([type]) => type.startsWith(produces));
        return entry !== undefined && (produces !== 'application/json' || describes(entry[1].schema));
      });
      if (!ok) out.push(`${spec.route}: no 2xx response with a ${produces} schema (has ${success.map(([c, r]) => `${c}: ${Object.keys(r.content ?? {}).join(',') || 'no content'}`).join('; ')})`);
    }
    const needsAuth = spec.auth ?? path.startsWith('/v1/');
    const security = op.security ?? doc.security ?? [];
    const bearer = security.some((s) => Object.keys(s).some((k) => doc.components?.securitySchemes?.[k]?.scheme === 'bearer'));
    if (needsAuth && !bearer) out.push(`${spec.route}: not documented as needing the bearer api key`);
    if (!needsAuth && bearer) out.push(`${spec.route}: documented as needing an api key, but it is public`);
    return out;
  };

  it('is OpenAPI 3 with a bearer security scheme', () => {
    expect(doc.openapi).toMatch(/^3\./);
    const schemes = Object.values(doc.components?.securitySchemes ?? {});
    expect(schemes).toContainEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
  });

  it('documents every route of API.md: parameters, JSON request bodies with properties, a 2xx response with a schema, auth', () => {
    const problems = [...ROUTES.flatMap(problemsOf), ...OPTIONAL.filter((s) => operation(s.route)).flatMap(problemsOf)];
    expect(problems).toEqual([]);
  });

  it('documents no route that API.md does not have', () => {
    const known = new Set([...ROUTES, ...OPTIONAL].map((r) => r.route));
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.filter((r) => !known.has(r))).toEqual([]);
  });

  const operations = (): [string, Operation][] =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map(([m, op]): [string, Operation] => [`${m.toUpperCase()} ${path}`, op]),
    );

  it('gives every operation a summary, a description and a unique camelCase operationId', () => {
    const ops = operations();
    expect(ops.filter(([, op]) => !op.summary || !op.description).map(([r]) => r)).toEqual([]);
    expect(ops.filter(([, op]) => !/^[a-z][a-zA-Z]+$/.test(op.operationId ?? '')).map(([r, op]) => `${r}: ${op.operationId}`)).toEqual([]);
    const ids = ops.map(([, op]) => op.operationId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    expect(operation('GET /v1/sagas/{sagaId}')?.operationId).toBe('getSaga');
    expect(operation('GET /v1/sagas')?.operationId).toBe('listSagas');
    expect(operation('POST /v1/sagas/agent-provisioning')?.operationId).toBe('startAgentProvisioning');
  });

  it('answers every error with the problem+json schema, and documents the errors every route shares', () => {
    const problem = resolve({ $ref: '#/components/schemas/Problem' });
    expect(Object.keys(problem?.properties ?? {}).sort()).toEqual(['detail', 'errors', 'status', 'title', 'type']);
    const out: string[] = [];
    for (const [route, op] of operations()) {
      const responses = op.responses ?? {};
      for (const [code, r] of Object.entries(responses)) {
        if (/^[45]/.test(code) && r.content?.['application/problem+json']?.schema?.$ref !== '#/components/schemas/Problem') out.push(`${route}: ${code} without the Problem schema`);
      }
      const [method, path] = route.split(' ');
      const expected = [...(path.startsWith('/v1/') ? ['401', '503'] : []), ...(op.requestBody ? ['400', '413', '415'] : []), ...(method === 'POST' ? ['413', '415'] : [])];
      for (const code of expected) if (!responses[code]) out.push(`${route}: no ${code}`);
    }
    expect(out).toEqual([]);
    // Role-restricted, conflicting and refusing routes, as API.md says.
    expect(Object.keys(operation('GET /v1/events')?.responses ?? {})).toContain('403');
    expect(Object.keys(operation('POST /v1/tenants')?.responses ?? {})).toEqual(expect.arrayContaining(['403', '409']));
    expect(Object.keys(operation('POST /v1/sagas/{sagaId}/retry')?.responses ?? {})).toEqual(expect.arrayContaining(['403', '404', '422']));
    expect(Object.keys(operation('POST /v1/streams/{streamId}/events')?.responses ?? {})).toEqual(expect.arrayContaining(['403', '404', '409']));
  });

  it('declares public routes public, opaque bearer keys, servers, a license and described tags', () => {
    for (const route of ['GET /health', 'GET /ready']) expect(operation(route)?.security).toEqual([]);
    for (const scheme of Object.values(doc.components?.securitySchemes ?? {})) expect(scheme.bearerFormat).toBeUndefined();
    expect(doc.servers?.length).toBeGreaterThan(0);
    expect(doc.info.license?.name).toBeTruthy();
    expect(doc.tags?.length).toBeGreaterThan(0);
    expect(doc.tags?.filter((t) => !t.description)).toEqual([]);
    const used = new Set(operations().flatMap(([, op]) => (op as { tags?: string[] }).tags ?? []));
    expect([...used].filter((t) => !doc.tags?.some((d) => d.name === t))).toEqual([]);
  });

  it('types a nullable saga id as a nullable uuid string', () => {
    for (const name of ['AgentDto', 'TaskDto']) {
      expect(doc.components?.schemas?.[name]?.properties?.sagaId).toEqual(expect.objectContaining({ type: 'string', format: 'uuid', nullable: true }));
    }
  });

  it('serves the Swagger UI at /docs', async () => {
    const res = await ctx.http().get('/docs').redirects(2);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toMatch(/swagger-ui/i);
  });
});
