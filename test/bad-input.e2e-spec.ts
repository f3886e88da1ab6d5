import { randomBytes, randomUUID } from 'crypto';
import {
  ABOVE_DOUBLE,
  BAD_INTEGERS,
  BadRequest,
  clone,
  deeplyNested,
  edit,
  LONG,
  NUL,
  REMOVE,
  SQL_INJECTIONS,
  toJson,
  TWO_POW_63,
  unusableBodies,
  Who,
} from './support/bad-requests';
import { startApiOnly } from './support/api-only';
import { bearer, E2eContext, TenantKeys } from './support/e2e-app';

jest.setTimeout(120_000);

/**
 * API.md, Errors: "No input yields a 500; a request that fails validation writes nothing." Several
 * hundred malformed requests over every route that takes a body or parameters, each answered with
 * a 4xx problem+json; then the event count is what it was before them. The app runs without the
 * worker, so nothing else writes events meanwhile.
 */

const TENANT = `bad-${randomBytes(4).toString('hex')}`;
const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';
const STREAM = `orders-${randomBytes(4).toString('hex')}`;

const BAD_UUIDS = ['not-a-uuid', '1', `${UNKNOWN_UUID}0`, '00000000-0000-4000-8000-00000000000g', ' ', 'x'.repeat(1000), ...SQL_INJECTIONS];
const BAD_STREAM_IDS = ['orders 1', 'nodash', `orders-${'x'.repeat(1000)}`, 'ördérs-1', 'orders-ü', '../etc-passwd', '..%2F..%2Fetc-passwd', '-1', 'orders-', 'a\u0000b-1', ...SQL_INJECTIONS];
const BAD_LIMITS = ['0', '-1', '100000', 'abc', '1.5', '9223372036854775808', '1e308', 'NaN', ''];
const BAD_CURSORS = ['garbage', '!!!', Buffer.from('{"not":"an array"}').toString('base64url'), Buffer.from('["2020-02-30T00:00:00.000000Z","00000000-0000-4000-8000-000000000000"]').toString('base64url'), 'x'.repeat(1300), ...SQL_INJECTIONS];

const q = (params: Record<string, string | string[]>) =>
  Object.entries(params)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => `${encodeURIComponent(k)}=${encodeURIComponent(one)}`))
    .join('&');

const cases: BadRequest[] = [];
const add = (c: BadRequest) => cases.push(c);

/** Field-level edits of a valid body: each one makes the body invalid. */
type Edit = [path: string, value: unknown, status?: number | '4xx'];
function bodyCases(route: { method: 'POST'; path: string; who: Who; headers?: Record<string, string> }, valid: unknown, edits: Edit[], opts: { emptyIsValid?: boolean } = {}) {
  for (const u of unusableBodies(valid)) add({ ...route, ...u, headers: { ...route.headers, ...u.headers }, label: `${route.path}: ${u.label}` });
  if (!opts.emptyIsValid) add({ ...route, label: `${route.path}: empty object`, json: {} });
  for (const [path, value, status] of edits) {
    const shown = typeof value === 'string' && value.length > 40 ? `${value.slice(0, 20)}…(${value.length} chars)` : toJson(value === REMOVE ? 'missing' : value);
    add({ ...route, label: `${route.path}: ${path} = ${shown}`, json: edit(valid, path, value), status });
  }
}

const wrongStrings = (path: string, opts: { empty?: boolean; max?: number } = {}): Edit[] => [
  [path, REMOVE],
  [path, 42],
  [path, true],
  [path, ['a']],
  [path, { a: 1 }],
  ...(opts.empty === false ? [] : ([[path, '']] as Edit[])),
  [path, LONG],
  ...(opts.max ? ([[path, 'x'.repeat(opts.max + 1)]] as Edit[]) : []),
];
const wrongIntegers = (path: string, extra: unknown[] = []): Edit[] => [[path, REMOVE], ...[...BAD_INTEGERS, ...extra].map((v): Edit => [path, v])];
const wrongStringArrays = (path: string, maxItems: number, maxLength: number): Edit[] => [
  [path, REMOVE],
  [path, 'read'],
  [path, { 0: 'read' }],
  [path, [42]],
  [path, [null]],
  [path, ['']],
  [path, ['x'.repeat(maxLength + 1)]],
  [path, Array.from({ length: maxItems + 1 }, (_, i) => `p${i}`)],
];

// ---------------------------------------------------------------- tenants and api keys (admin)
const tenant = { id: 'fresh-tenant', name: 'Fresh', quota: { cpuMillis: 100, memoryMb: 100 }, allowedPermissions: ['read'] };
bodyCases({ method: 'POST', path: '/v1/tenants', who: 'admin' }, tenant, [
  ...wrongStrings('id'),
  ...['UPPER', 'a b', 'x'.repeat(41), '../etc', 'ünïcode', 'a_b', ...SQL_INJECTIONS].map((v): Edit => ['id', v]),
  ...wrongStrings('name', { max: 200 }),
  ['name', NUL],
  ['quota', REMOVE],
  ['quota', null],
  ['quota', []],
  ['quota', 'big'],
  ['quota', {}],
  ...wrongIntegers('quota.cpuMillis', [1_000_000_001]),
  ...wrongIntegers('quota.memoryMb'),
  ['quota.gpus', 1],
  ...wrongStringArrays('allowedPermissions', 200, 100),
  ['allowedPermissions', [NUL]],
  ['extra', 1],
]);
// Hostile strings in a tenant that already exists: the database sees them, and answers 409.
for (const s of SQL_INJECTIONS) {
  add({ label: `POST /v1/tenants: existing id, name ${s}`, method: 'POST', path: '/v1/tenants', who: 'admin', json: { ...tenant, id: TENANT, name: s }, status: 409 });
  add({ label: `POST /v1/tenants: existing id, permission ${s}`, method: 'POST', path: '/v1/tenants', who: 'admin', json: { ...tenant, id: TENANT, allowedPermissions: [s] }, status: 409 });
}
for (const id of ['UPPER', 'x'.repeat(41), '..', 'ü', ...SQL_INJECTIONS]) {
  add({ label: `GET /v1/tenants/${id.slice(0, 40)}`, method: 'GET', path: `/v1/tenants/${encodeURIComponent(id)}`, who: 'admin' });
}
add({ label: 'GET /v1/tenants/unknown', method: 'GET', path: '/v1/tenants/no-such-tenant', who: 'admin', status: 404 });

const apiKey = { tenantId: TENANT, role: 'client', name: 'ci' };
bodyCases({ method: 'POST', path: '/v1/api-keys', who: 'admin' }, apiKey, [
  ...wrongStrings('tenantId'),
  ...['UPPER', 'a b', ...SQL_INJECTIONS].map((v): Edit => ['tenantId', v]),
  ['tenantId', 'no-such-tenant', 404],
  ['role', REMOVE],
  ['role', 'root'],
  ['role', 'ADMIN'],
  ['role', ['client']],
  ['role', 42],
  ...SQL_INJECTIONS.map((v): Edit => ['role', v]),
  ...wrongStrings('name', { max: 200 }),
  ['extra', true],
]);
for (const s of [...SQL_INJECTIONS, NUL]) {
  add({ label: `POST /v1/api-keys: unknown tenant, name ${JSON.stringify(s)}`, method: 'POST', path: '/v1/api-keys', who: 'admin', json: { ...apiKey, tenantId: 'no-such-tenant', name: s }, status: 404 });
}
add({ label: '/v1/api-keys: name with a NUL character', method: 'POST', path: '/v1/api-keys', who: 'admin', json: { ...apiKey, name: NUL } });
for (const id of BAD_UUIDS) add({ label: `DELETE /v1/api-keys/${id.slice(0, 40)}`, method: 'DELETE', path: `/v1/api-keys/${encodeURIComponent(id)}`, who: 'admin' });
add({ label: 'DELETE /v1/api-keys/unknown', method: 'DELETE', path: `/v1/api-keys/${UNKNOWN_UUID}`, who: 'admin', status: 404 });

// ---------------------------------------------------------------- starting sagas (client)
const agentBody = {
  agent: { name: 'billing-bot', type: 'worker', capabilities: ['invoices'], permissions: ['read'], resources: { cpuMillis: 100, memoryMb: 128 } },
};
const provisioning = { method: 'POST' as const, path: '/v1/sagas/agent-provisioning', who: 'client' as const };
bodyCases(provisioning, agentBody, [
  ['agent', REMOVE],
  ['agent', null],
  ['agent', []],
  ['agent', 'bot'],
  ['agent', {}],
  ...wrongStrings('agent.name', { max: 200 }),
  ...wrongStrings('agent.type', { max: 100 }),
  ...wrongStringArrays('agent.capabilities', 100, 100),
  ...wrongStringArrays('agent.permissions', 100, 100),
  ['agent.resources', REMOVE],
  ['agent.resources', null],
  ['agent.resources', []],
  ['agent.resources', {}],
  ...wrongIntegers('agent.resources.cpuMillis', [1_000_000_001]),
  ...wrongIntegers('agent.resources.memoryMb'),
  ['agent.initialTask', {}],
  ['agent.initialTask', []],
  ['agent.initialTask', 'smoke'],
  ['agent.initialTask', { name: 'smoke' }],
  ['agent.initialTask', { handler: 'echo' }],
  ['agent.initialTask', { name: 'smoke', handler: 'no-such-handler' }],
  ...SQL_INJECTIONS.map((h): Edit => ['agent.initialTask', { name: 'smoke', handler: h }]),
  ['agent.initialTask', { name: 'smoke', handler: 'echo', config: [] }],
  ['agent.initialTask', { name: 'smoke', handler: 'echo', config: 'x' }],
  ['agent.initialTask', { name: 'x'.repeat(201), handler: 'echo' }],
  ['agent.name', NUL],
  ['agent.capabilities', [NUL]],
  ['agent.initialTask', { name: 'smoke', handler: 'echo', config: { s: NUL } }],
  ['agent.__proto__', { polluted: true }],
  ['agent.constructor', { prototype: { polluted: true } }],
  ['agent.resources.gpus', 1],
  ['agent.extra', 1],
]);
add({ ...provisioning, label: 'agent-provisioning: Idempotency-Key of 201 characters', json: agentBody, headers: { 'Idempotency-Key': 'k'.repeat(201) } });

const workflow = { name: 'nightly', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] as string[] }] };
const twoTasks = (a: Record<string, unknown>, b: Record<string, unknown>) => [
  { id: 'a', handler: 'noop', dependsOn: [], ...a },
  { id: 'b', handler: 'noop', dependsOn: [], ...b },
];
const taskWorkflow = { method: 'POST' as const, path: '/v1/sagas/task-workflow', who: 'client' as const };
bodyCases(taskWorkflow, workflow, [
  ...wrongStrings('name', { max: 200 }),
  ['maxParallel', 0],
  ['maxParallel', 65],
  ...BAD_INTEGERS.filter((v) => v !== null).map((v): Edit => ['maxParallel', v]),
  ['tasks', REMOVE],
  ['tasks', []],
  ['tasks', {}],
  ['tasks', 'a'],
  ['tasks', null],
  ['tasks', [null]],
  ['tasks', [42]],
  ['tasks', ['a']],
  ['tasks', Array.from({ length: 501 }, (_, i) => ({ id: `t${i}`, handler: 'noop', dependsOn: [] }))],
  ...wrongStrings('tasks.0.id'),
  ...['a b', 'x'.repeat(101), 'ü', ...SQL_INJECTIONS].map((v): Edit => ['tasks.0.id', v]),
  ...wrongStrings('tasks.0.handler', { max: 100 }),
  ['tasks.0.handler', 'no-such-handler'],
  ...SQL_INJECTIONS.map((v): Edit => ['tasks.0.handler', v]),
  ['tasks.0.dependsOn', REMOVE],
  ['tasks.0.dependsOn', 'a'],
  ['tasks.0.dependsOn', null],
  ['tasks.0.dependsOn', [42]],
  ['tasks.0.dependsOn', ['no-such-task']],
  ['tasks.0.dependsOn', ['a b']],
  ...SQL_INJECTIONS.map((v): Edit => ['tasks.0.dependsOn', [v]]),
  // Invalid DAGs.
  ['tasks.0.dependsOn', ['a']],
  ['tasks', twoTasks({ dependsOn: ['b'] }, { dependsOn: ['a'] })],
  ['tasks', [...twoTasks({ dependsOn: ['c'] }, { dependsOn: ['a'] }), { id: 'c', handler: 'noop', dependsOn: ['b'] }]],
  ['tasks', twoTasks({}, { id: 'a' })],
  // Unknown handlers.
  ['tasks.0.compensation', { handler: 'no-such-handler' }],
  ['tasks.0.compensation', { handler: 42 }],
  ['tasks.0.compensation', {}],
  ['tasks.0.compensation', 'noop'],
  ['tasks.0.compensation', { handler: 'noop', config: [] }],
  // Bad template references.
  ['tasks.0.config', { url: '{{ nope.output.x }}' }],
  ['tasks.0.config', { url: '{{ a }}' }],
  ['tasks.0.config', { url: '{{ a.outputs.x }}' }],
  ['tasks.0.config', { nested: { list: ['{{}}'] } }],
  ['tasks.0.config', { url: "{{ '; drop table events; -- .output }}" }],
  ['tasks', twoTasks({ config: { v: '{{ b.output.x }}' } }, { dependsOn: ['a'] })],
  ['tasks', twoTasks({}, { config: { v: '{{ a.output.x }}' } })],
  ['tasks', twoTasks({ compensation: { handler: 'noop', config: { v: '{{ b.output }}' } } }, {})],
  ['tasks.0.config', []],
  ['tasks.0.config', 'x'],
  ['tasks.0.config', 42],
  ['tasks.0.priority', 'URGENT'],
  ['tasks.0.priority', 'low'],
  ['tasks.0.priority', 3],
  ...SQL_INJECTIONS.map((v): Edit => ['tasks.0.priority', v]),
  ['tasks.0.retry', {}],
  ['tasks.0.retry', []],
  ['tasks.0.retry', { maxAttempts: 0, backoffMs: 10 }],
  ['tasks.0.retry', { maxAttempts: 101, backoffMs: 10 }],
  ['tasks.0.retry', { maxAttempts: 1.5, backoffMs: 10 }],
  ['tasks.0.retry', { maxAttempts: 3, backoffMs: -1 }],
  ['tasks.0.retry', { maxAttempts: 3, backoffMs: 3_600_001 }],
  ['tasks.0.retry', { maxAttempts: TWO_POW_63, backoffMs: 10 }],
  ['tasks.0.retry', { maxAttempts: '3', backoffMs: '10' }],
  ...[0, -1, 1.5, 86_400_001, 1e308, TWO_POW_63, '1000'].map((v): Edit => ['tasks.0.timeoutMs', v]),
  ['name', NUL],
  ['tasks.0.config', { s: NUL }],
  ['tasks.0.config', { [NUL]: 1 }],
  // class-transformer would drop these keys from the stored input: refused rather than lost.
  ['tasks.0.config', { constructor: 'Alice' }],
  ['tasks.0.config', { nested: [JSON.parse('{"__proto__":1}')] }],
  ['tasks.0.config', { prototype: 'Alice' }],
  ['tasks.0.extra', 1],
  ['tasks.0.__proto__', { polluted: true }],
]);
add({ ...taskWorkflow, label: 'task-workflow: Idempotency-Key of 201 characters', json: workflow, headers: { 'Idempotency-Key': 'k'.repeat(201) } });

// ---------------------------------------------------------------- operating sagas (operator)
const sagaOps: [op: string, valid: Record<string, unknown>, edits: Edit[], emptyIsValid: boolean][] = [
  ['retry', { reason: 'back up' }, [['reason', 42], ['reason', true], ['reason', []], ['reason', {}], ['reason', LONG], ['reason', 'x'.repeat(1001)], ['extra', 1]], true],
  [
    'skip',
    { step: 'reserve-resources', reason: 'by hand' },
    [...wrongStrings('step', { max: 200 }), ...wrongStrings('reason', { max: 1000 }), ['extra', 1]],
    false,
  ],
  ['cancel', { reason: 'withdrawn' }, [...wrongStrings('reason', { max: 1000 }), ['reason', null], ['extra', 1]], false],
];
for (const [op, valid, edits, emptyIsValid] of sagaOps) {
  const route = { method: 'POST' as const, path: `/v1/sagas/${UNKNOWN_UUID}/${op}`, who: 'operator' as const };
  bodyCases(route, valid, edits, { emptyIsValid });
  // Valid bodies with hostile strings, for a saga that does not exist: 404.
  for (const s of [...SQL_INJECTIONS, NUL]) {
    const json = Object.fromEntries(Object.keys(valid).map((k) => [k, s]));
    add({ ...route, label: `${op}: unknown saga, every field ${JSON.stringify(s)}`, json, status: 404 });
  }
  for (const id of BAD_UUIDS) add({ ...route, path: `/v1/sagas/${encodeURIComponent(id)}/${op}`, label: `${op}: saga id ${id.slice(0, 40)}`, json: valid });
}

// ---------------------------------------------------------------- reading sagas
for (const [suffix, who] of [['', 'client'], ['/events', 'client'], ['/compensations', 'client'], ['/live', 'client']] as const) {
  for (const id of BAD_UUIDS) add({ label: `GET /v1/sagas/{${id.slice(0, 40)}}${suffix}`, method: 'GET', path: `/v1/sagas/${encodeURIComponent(id)}${suffix}`, who });
  add({ label: `GET /v1/sagas/{unknown}${suffix}`, method: 'GET', path: `/v1/sagas/${UNKNOWN_UUID}${suffix}`, who, status: 404 });
}
const sagaEventQueries: Record<string, string[]> = {
  fromVersion: ['-1', 'abc', '1.5', '9223372036854775808', ...SQL_INJECTIONS],
  limit: [...BAD_LIMITS.filter((l) => l !== '1e308'), '1001', ...SQL_INJECTIONS],
  direction: ['sideways', 'FORWARD', '', ...SQL_INJECTIONS],
  unknown: ['1'],
};
for (const [param, values] of Object.entries(sagaEventQueries)) {
  for (const v of values) add({ label: `GET /v1/sagas/{id}/events?${param}=${v.slice(0, 40)}`, method: 'GET', path: `/v1/sagas/${UNKNOWN_UUID}/events?${q({ [param]: v })}`, who: 'client' });
}

/** Invalid query strings of a list route. */
function listCases(path: string, who: Who, params: Record<string, string[]>) {
  for (const [param, values] of Object.entries(params)) {
    for (const v of values) add({ label: `GET ${path}?${param}=${v.slice(0, 40)}`, method: 'GET', path: `${path}?${q({ [param]: v })}`, who });
  }
  add({ label: `GET ${path}?limit=1&limit=2`, method: 'GET', path: `${path}?${q({ limit: ['1', '2'] })}`, who });
  add({ label: `GET ${path}?unknown=1`, method: 'GET', path: `${path}?unknown=1`, who });
  add({ label: `GET ${path}?${SQL_INJECTIONS[0]}=1`, method: 'GET', path: `${path}?${q({ [SQL_INJECTIONS[0]]: '1' })}`, who });
}
listCases('/v1/sagas', 'client', {
  type: ['nope', ...SQL_INJECTIONS],
  status: ['NOPE', 'running', ...SQL_INJECTIONS],
  limit: [...BAD_LIMITS, '501', ...SQL_INJECTIONS],
  cursor: BAD_CURSORS,
});
listCases('/v1/compensations', 'operator', {
  status: ['NOPE', 'failed', ...SQL_INJECTIONS],
  limit: [...BAD_LIMITS, '501', ...SQL_INJECTIONS],
  cursor: BAD_CURSORS,
});

// ---------------------------------------------------------------- dead letters (operator)
listCases('/v1/dead-letters', 'operator', {
  topic: ['a b', 'x'.repeat(201), 'ü', ...SQL_INJECTIONS],
  limit: [...BAD_LIMITS, '501', ...SQL_INJECTIONS],
  cursor: ['garbage', '1-2-3', ...SQL_INJECTIONS],
});
for (const id of ['abc', '1-2-3', 'x'.repeat(1000), '99999999999999999999999', ...SQL_INJECTIONS]) {
  add({ label: `POST /v1/dead-letters/${id.slice(0, 40)}/replay`, method: 'POST', path: `/v1/dead-letters/${encodeURIComponent(id)}/replay`, who: 'operator', status: 404 });
}
add({ label: 'POST /v1/dead-letters/{unknown}/replay', method: 'POST', path: '/v1/dead-letters/987654321/replay', who: 'operator', status: 404 });

// ---------------------------------------------------------------- event store (operator)
const append = { expectedVersion: 'any', events: [{ type: 'OrderPlaced', data: { total: 42 } }] };
const appendRoute = { method: 'POST' as const, path: `/v1/streams/${STREAM}/events`, who: 'operator' as const };
const nestedData = (depth: number) => {
  let data: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < depth; i++) data = { a: data };
  return data;
};
bodyCases(appendRoute, append, [
  ['expectedVersion', REMOVE],
  ...['latest', -2, 1.5, null, true, '1', '0', TWO_POW_63, 1e308, ABOVE_DOUBLE, {}, [], 'ANY', 'NaN', ...SQL_INJECTIONS].map((v): Edit => ['expectedVersion', v]),
  ['expectedVersion', 5, 409],
  ['expectedVersion', 'stream_exists', 409],
  ['events', REMOVE],
  ['events', []],
  ['events', Array.from({ length: 1001 }, (_, i) => ({ type: 'OrderPlaced', data: { i } }))],
  ['events', {}],
  ['events', 'OrderPlaced'],
  ['events', null],
  ['events', [null]],
  ['events', [42]],
  ['events', [[]]],
  ...wrongStrings('events.0.type'),
  ...['1abc', 'a b', 'x'.repeat(201), 'ü', ...SQL_INJECTIONS].map((v): Edit => ['events.0.type', v]),
  ['events.0.data', REMOVE],
  ['events.0.data', null],
  ['events.0.data', []],
  ['events.0.data', 'x'],
  ['events.0.data', 42],
  ['events.0.data', { s: NUL }],
  ['events.0.data', { [NUL]: 1 }],
  ['events.0.data', nestedData(70)],
  ['events.0.data', { constructor: 'Alice' }],
  ['events.0.metadata', { constructor: 'Alice' }],
  ['events.0.data', { deep: { prototype: 1 } }],
  ['events.0.metadata', []],
  ['events.0.metadata', 'x'],
  ['events.0.metadata', 42],
  ['events.0.metadata', { s: NUL }],
  ['events.0.eventId', 'not-a-uuid'],
  ['events.0.eventId', 42],
  ['events.0.eventId', ''],
  ...SQL_INJECTIONS.map((v): Edit => ['events.0.eventId', v]),
  ['events', [{ eventId: UNKNOWN_UUID, type: 'A', data: {} }, { eventId: UNKNOWN_UUID, type: 'B', data: {} }], '4xx'],
  ['events.0.extra', 1],
  ['events.0.__proto__', { polluted: true }],
  ['extra', 1],
]);
for (const category of ['saga', 'agent', 'task', 'quota', 'service', 'tenant']) {
  add({ ...appendRoute, label: `append to the platform category ${category}`, path: `/v1/streams/${category}-${randomUUID()}/events`, json: append, status: 403 });
}
add({ ...appendRoute, who: 'client', label: 'append with a client key', json: append, status: 403 });
add({ ...appendRoute, who: 'admin', label: 'append with the admin key and no X-Tenant-Id', json: append });
for (const s of [...SQL_INJECTIONS, 'UPPER', 'x'.repeat(41)]) {
  add({ ...appendRoute, who: 'admin', label: `append with the admin key, X-Tenant-Id ${s.slice(0, 40)}`, json: append, headers: { 'X-Tenant-Id': s } });
}
for (const id of BAD_STREAM_IDS) {
  const encoded = encodeURIComponent(id);
  add({ ...appendRoute, label: `append to stream ${id.slice(0, 40)}`, path: `/v1/streams/${encoded}/events`, json: append });
  add({ label: `GET /v1/streams/${id.slice(0, 40)}/events`, method: 'GET', path: `/v1/streams/${encoded}/events`, who: 'operator' });
  add({ label: `GET /v1/streams/${id.slice(0, 40)}/state`, method: 'GET', path: `/v1/streams/${encoded}/state`, who: 'client' });
}
// A literal `..` is a path segment of its own: no route, or not a stream id.
add({ ...appendRoute, label: 'append to /v1/streams/../events', path: '/v1/streams/../events', json: append });
add({ label: 'GET /v1/streams/orders-1/../../tenants', method: 'GET', path: '/v1/streams/orders-1/../../tenants', who: 'operator', status: 404 });
add({ ...appendRoute, label: 'append to a 2,000-character stream id', path: `/v1/streams/orders-${'x'.repeat(2000)}/events`, json: append });

const streamQueries: Record<string, string[]> = {
  fromVersion: ['-1', 'abc', '1.5', '9223372036854775808', '1e308', ...SQL_INJECTIONS],
  limit: [...BAD_LIMITS, '1001', ...SQL_INJECTIONS],
  direction: ['sideways', 'BACKWARD', '', ...SQL_INJECTIONS],
  unknown: ['1'],
};
for (const [param, values] of Object.entries(streamQueries)) {
  for (const v of values) add({ label: `GET /v1/streams/{id}/events?${param}=${v.slice(0, 40)}`, method: 'GET', path: `/v1/streams/${STREAM}/events?${q({ [param]: v })}`, who: 'operator' });
}
for (const v of ['-1', 'abc', '1.5', '9223372036854775808', '', ...SQL_INJECTIONS]) {
  add({ label: `GET /v1/streams/{id}/state?atVersion=${v}`, method: 'GET', path: `/v1/streams/tenant-${TENANT}/state?${q({ atVersion: v })}`, who: 'client' });
}
add({ label: 'GET /v1/streams/{id}/state?unknown=1', method: 'GET', path: `/v1/streams/tenant-${TENANT}/state?unknown=1`, who: 'client' });
listCases('/v1/events', 'operator', {
  after: ['-1', 'abc', '1.5', '9223372036854775808', '1e308', ...SQL_INJECTIONS],
  limit: [...BAD_LIMITS, '1001', ...SQL_INJECTIONS],
  category: ['a b', 'a-b', '', 'x'.repeat(101), 'ü', ...SQL_INJECTIONS],
});

// ---------------------------------------------------------------- projections
for (const name of ['nope', 'x'.repeat(1000), ...SQL_INJECTIONS]) {
  add({ label: `POST /v1/projections/${name.slice(0, 40)}/rebuild`, method: 'POST', path: `/v1/projections/${encodeURIComponent(name)}/rebuild`, who: 'admin', status: 404 });
}
add({ label: 'POST /v1/projections/{name}/rebuild with an operator key', method: 'POST', path: '/v1/projections/agents/rebuild', who: 'operator', status: 403 });

// ---------------------------------------------------------------- read models (client)
listCases('/v1/agents', 'client', {
  status: ['NOPE', 'active', ...SQL_INJECTIONS],
  capability: ['', 'x'.repeat(101)],
  limit: [...BAD_LIMITS, '501', ...SQL_INJECTIONS],
  cursor: BAD_CURSORS,
});
listCases('/v1/tasks', 'client', {
  sagaId: ['not-a-uuid', ...SQL_INJECTIONS],
  status: ['NOPE', ...SQL_INJECTIONS],
  limit: ['0', '100000', 'abc'],
  cursor: ['garbage', ...SQL_INJECTIONS],
});
listCases('/v1/services', 'client', {
  status: ['NOPE', ...SQL_INJECTIONS],
  capability: ['x'.repeat(101)],
  limit: ['0', '100000', 'abc'],
  cursor: ['garbage', ...SQL_INJECTIONS],
});
for (const resource of ['agents', 'tasks']) {
  for (const id of BAD_UUIDS) add({ label: `GET /v1/${resource}/${id.slice(0, 40)}`, method: 'GET', path: `/v1/${resource}/${encodeURIComponent(id)}`, who: 'client' });
  add({ label: `GET /v1/${resource}/{unknown}`, method: 'GET', path: `/v1/${resource}/${UNKNOWN_UUID}`, who: 'client', status: 404 });
}

// ---------------------------------------------------------------- authentication, roles, unknown routes
for (const [label, header] of [
  ['no Authorization', undefined],
  ['Basic auth', 'Basic YWRtaW46YWRtaW4='],
  ['empty bearer', 'Bearer '],
  ['unknown key', 'Bearer sk_unknown'],
  ['SQL in the key', `Bearer ${SQL_INJECTIONS[1].replace(/ /g, '')}'--`],
  ['key of 1,000 characters', `Bearer ${'k'.repeat(1000)}`],
  ['two keys', 'Bearer a b'],
] as const) {
  for (const [method, path] of [['GET', '/v1/sagas'], ['POST', '/v1/sagas/agent-provisioning'], ['GET', `/v1/streams/${STREAM}/events`], ['POST', '/v1/tenants']] as const) {
    add({ label: `${method} ${path}: ${label}`, method, path, who: 'none', headers: header ? { Authorization: header } : {}, json: method === 'POST' ? {} : undefined, status: 401 });
  }
}
for (const [method, path, who] of [
  ['POST', '/v1/tenants', 'operator'],
  ['POST', '/v1/api-keys', 'client'],
  ['GET', '/v1/compensations', 'client'],
  ['GET', '/v1/events', 'client'],
  ['GET', '/v1/dead-letters', 'client'],
  ['GET', '/v1/projections', 'client'],
  ['POST', `/v1/sagas/${UNKNOWN_UUID}/cancel`, 'client'],
] as const) {
  add({ label: `${method} ${path} with a ${who} key`, method, path, who, json: method === 'POST' ? {} : undefined, status: 403 });
}
for (const [method, path] of [['PUT', '/v1/sagas'], ['PATCH', `/v1/tenants/${TENANT}`], ['DELETE', '/v1/sagas'], ['GET', '/v1/nope'], ['POST', '/v1/sagas/nope']] as const) {
  add({ label: `${method} ${path}`, method, path, who: 'admin', json: method === 'GET' ? undefined : {}, status: 404 });
}

// ------------------------------------------------------------------------------------------------

const PROBLEM = /^application\/problem\+json/;

describe(`bad input: ${cases.length} malformed requests, every one a 4xx problem+json, none writing anything`, () => {
  let ctx: E2eContext;
  let keys: TenantKeys;
  let before: Record<string, number>;
  let eventsBefore: number;
  const byStatus = new Map<string, number>();

  /** Rows of every table a request can write (the worker is off: projections write nothing). */
  const counts = async () => {
    const { rows } = await ctx.db.pool.query<Record<string, number>>(
      `select (select count(*) from events)::int as events,
              (select count(*) from api_keys)::int as api_keys,
              (select count(*) from saga_idempotency)::int as saga_idempotency,
              (select count(*) from saga_work)::int as saga_work,
              (select count(*) from snapshots)::int as snapshots,
              (select count(*) from projection_checkpoints)::int as projection_checkpoints`,
    );
    return rows[0];
  };

  beforeAll(async () => {
    ctx = await startApiOnly();
    keys = await ctx.tenant(TENANT);
    before = await counts();
    eventsBefore = before.events;
    expect(eventsBefore).toBeGreaterThan(0);
  });
  afterAll(async () => ctx?.close());

  const keyOf = (who: Who): string | undefined =>
    ({ none: undefined, client: keys.client, operator: keys.operator, admin: ctx.adminKey })[who];

  it('has at least 200 of them', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
  });

  it.each(cases.map((c, i) => [`#${i} ${c.method} ${c.label}`.slice(0, 160), c] as const))('%s', async (_title, c) => {
    const agent = ctx.http();
    let req = (agent[c.method.toLowerCase() as 'get'](c.path) as ReturnType<typeof agent.get>).buffer(true);
    const key = keyOf(c.who);
    if (key) req = req.set(bearer(key));
    for (const [k, v] of Object.entries(c.headers ?? {})) req = req.set(k, v);
    if (c.json !== undefined) req = req.set('Content-Type', 'application/json').send(toJson(c.json));
    else if (c.raw !== undefined) req = req.set('Content-Type', c.contentType ?? 'application/json').send(c.raw);
    const res = await req;
    byStatus.set(String(res.status), (byStatus.get(String(res.status)) ?? 0) + 1);

    const summary = `${res.status} ${res.headers['content-type']} ${(res.text ?? '').slice(0, 300)}`;
    expect({ status: res.status < 500 && res.status >= 400 ? '4xx' : res.status, summary }).toEqual({ status: '4xx', summary });
    if (c.status !== '4xx') expect({ status: res.status, summary }).toEqual({ status: c.status ?? 400, summary });
    expect(res.headers['content-type']).toMatch(PROBLEM);
    const body = JSON.parse(res.text);
    expect(body).toEqual(
      expect.objectContaining({ type: expect.any(String), title: expect.any(String), status: res.status, detail: expect.any(String) }),
    );
  });

  it('wrote nothing (events, api keys, saga work and idempotency, snapshots, checkpoints) and polluted no prototype', async () => {
    const after = await counts();
    console.log(
      `bad input: ${cases.length} malformed requests, answered by status: ${[...byStatus.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ')}`,
    );
    expect(after).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  // Hostile strings in free-form fields are data: stored and returned verbatim, harming nothing.
  describe('hostile but valid values are data', () => {
    it.each(SQL_INJECTIONS)('stores %j verbatim in a saga input, an event and a filter', async (s) => {
      const started = await ctx
        .http()
        .post('/v1/sagas/agent-provisioning')
        .set(bearer(keys.client))
        .send({ agent: { name: s, type: s, capabilities: [s], permissions: [s], resources: { cpuMillis: 1, memoryMb: 1 }, initialTask: { name: s, handler: 'echo', config: { s } } } });
      expect(started.status).toBe(202);
      const saga = await ctx.http().get(`/v1/sagas/${started.body.sagaId}`).set(bearer(keys.client));
      expect(saga.status).toBe(200);
      expect(saga.body.input.agent).toMatchObject({ name: s, type: s, capabilities: [s], permissions: [s], initialTask: { name: s, config: { s } } });

      const wf = clone(workflow);
      wf.name = s;
      (wf.tasks[0] as Record<string, unknown>).config = { s, nested: [s] };
      expect((await ctx.http().post('/v1/sagas/task-workflow').set(bearer(keys.client)).send(wf)).status).toBe(202);

      const stream = `notes-${randomUUID()}`;
      const appended = await ctx
        .http()
        .post(`/v1/streams/${stream}/events`)
        .set(bearer(keys.operator))
        .send({ expectedVersion: 'no_stream', events: [{ type: 'NoteTaken', data: { [s]: s }, metadata: { s } }] });
      expect(appended.status).toBe(201);
      const read = await ctx.http().get(`/v1/streams/${stream}/events`).set(bearer(keys.operator));
      expect(read.body.events[0]).toMatchObject({ data: { [s]: s }, metadata: { s } });

      const filtered = await ctx.http().get(`/v1/agents?${q({ capability: s })}`).set(bearer(keys.client));
      expect(filtered.status).toBe(200);
      expect(filtered.body.items).toEqual([]);
      const services = await ctx.http().get(`/v1/services?${q({ capability: s })}`).set(bearer(keys.client));
      expect(services.status).toBe(200);

      // The events table is still there, and grew by what was accepted only.
      expect((await counts()).events).toBeGreaterThan(eventsBefore);
    });

    it('accepts a body nested just within the limits', async () => {
      const res = await ctx
        .http()
        .post(`/v1/streams/deep-${randomUUID()}/events`)
        .set(bearer(keys.operator))
        .set('Content-Type', 'application/json')
        .send(toJson({ expectedVersion: 'any', events: [{ type: 'Deep', data: nestedData(20) }] }));
      expect(res.status).toBe(201);
      expect(deeplyNested(3)).toBe('{"a":{"a":{"a":1}}}');
    });
  });
});
