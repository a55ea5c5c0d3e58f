// The OpenAPI document's structure: OpenAPI 3.1 shape, every $ref resolving, every operation
// complete, every schema compiling with Ajv (JSON Schema 2020-12, strict), enums taken from the
// code, and records made by src/builds/record.ts valid against the BuildRecord schema.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../errors.js';
import { BUILD_STATUSES, BUILD_TRIGGERS, fail, newRecord, succeed, type BuildRecord } from '../builds/record.js';
import type { BuildStats } from '../builds/types.js';
import { openApiChecker } from '../../test/helpers/openapi-check.js';
import { OPENAPI_DOCUMENT, type HttpMethod, type Operation, type Response } from './openapi.js';

const checker = openApiChecker(OPENAPI_DOCUMENT);
const METHODS: readonly HttpMethod[] = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];

/** Every `[pointer, value]` of the document, depth first. */
function walk(value: unknown, pointer = ''): [string, unknown][] {
  if (value === null || typeof value !== 'object') return [[pointer, value]];
  const entries: [string, unknown][] = [[pointer, value]];
  for (const [key, child] of Object.entries(value)) entries.push(...walk(child, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`));
  return entries;
}

const NOW = new Date('2026-11-22T10:15:00.123Z');
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
const queued = newRecord(
  { id: '20261122T101500123Z-1a2b3c4d', image: 'shell/git', tag: 'latest', packages: ['bashInteractive', 'git'], arch: 'amd64', revision: 'abc123', trigger: 'api', instance: 'host-1' },
  NOW,
);
const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('OpenAPI document', () => {
  it('is an OpenAPI 3.1.0 document that survives JSON (it is served as JSON)', () => {
    expect(OPENAPI_DOCUMENT.openapi).toBe('3.1.0');
    expect(OPENAPI_DOCUMENT.info.title).not.toBe('');
    expect(OPENAPI_DOCUMENT.info.version).not.toBe('');
    expect(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT))).toEqual(OPENAPI_DOCUMENT);
    const allowed = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs'];
    expect(Object.keys(OPENAPI_DOCUMENT).filter((key) => !allowed.includes(key))).toEqual([]);
  });

  it('every $ref resolves inside the document', () => {
    const refs = walk(OPENAPI_DOCUMENT).filter(([pointer]) => pointer.endsWith('/$ref'));
    expect(refs.length).toBeGreaterThan(10);
    for (const [pointer, ref] of refs) {
      expect(typeof ref === 'string' && ref.startsWith('#/'), `${pointer}: ${String(ref)}`).toBe(true);
      expect(checker.at((ref as string).slice(1)), `${pointer} → ${String(ref)}`).toBeDefined();
    }
  });

  it('every operation has a unique operationId, a summary, known tags and responses with descriptions', () => {
    const ids = new Set<string>();
    const tags = new Set<string>((OPENAPI_DOCUMENT.tags ?? []).map((tag) => tag.name));
    for (const [path, item] of Object.entries(OPENAPI_DOCUMENT.paths)) {
      expect(path).toMatch(/^\/v1\//);
      expect(Object.keys(item).filter((method) => !METHODS.includes(method as HttpMethod)), path).toEqual([]);
      for (const [method, value] of Object.entries(item)) {
        const operation = value as Operation;
        const where = `${method.toUpperCase()} ${path}`;
        expect(operation.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
        expect(ids.has(operation.operationId), `${where}: duplicate operationId`).toBe(false);
        ids.add(operation.operationId);
        expect(operation.summary, where).not.toBe('');
        for (const tag of operation.tags) expect(tags.has(tag), `${where}: tag ${tag}`).toBe(true);
        const statuses = Object.keys(operation.responses);
        expect(statuses.some((status) => /^2\d\d$/.test(status)), `${where}: a success response`).toBe(true);
        for (const status of statuses) {
          expect(status, where).toMatch(/^([1-5](\d\d|XX)|default)$/);
          const { value: response, pointer } = checker.resolve<Response>(`/paths/${path.replace(/\//g, '~1')}/${method}/responses/${status}`);
          expect(response.description, `${where} ${status}`).not.toBe('');
          for (const mediaType of Object.keys(response.content ?? {})) expect(checker.at(`${pointer}/content/${mediaType.replace(/\//g, '~1')}/schema`)).toBeDefined();
        }
      }
    }
    expect(ids.size).toBe(checker.operations().length);
  });

  it('path templates and path parameters agree; path parameters are required', () => {
    for (const { method, path, operation } of checker.operations()) {
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
      const declared = (operation.parameters ?? []).map((_, i) => checker.resolve<{ name: string; in: string; required?: boolean }>(`/paths/${path.replace(/\//g, '~1')}/${method}/parameters/${i}`).value);
      const pathParameters = declared.filter((parameter) => parameter.in === 'path');
      expect(pathParameters.map((parameter) => parameter.name).sort(), `${method} ${path}`).toEqual(inTemplate.sort());
      for (const parameter of pathParameters) expect(parameter.required, `${method} ${path} ${parameter.name}`).toBe(true);
      expect(new Set(declared.map((parameter) => `${parameter.in} ${parameter.name}`)).size, `${method} ${path}: duplicate parameters`).toBe(declared.length);
    }
  });

  it('every component schema, and every schema of a parameter, header or body, compiles with Ajv 2020 (strict)', () => {
    const names = Object.keys(OPENAPI_DOCUMENT.components.schemas);
    expect(names).toEqual(expect.arrayContaining(['BuildRecord', 'BuildPage', 'BuildStats', 'BuildRequest', 'Error']));
    for (const name of names) expect(() => checker.validator(`/components/schemas/${name}`), name).not.toThrow();
    const schemas = walk(OPENAPI_DOCUMENT).filter(([pointer]) => /\/(schema)$/.test(pointer) && !pointer.startsWith('/components/schemas/'));
    expect(schemas.length).toBeGreaterThan(10);
    for (const [pointer] of schemas) expect(() => checker.validator(pointer), pointer).not.toThrow();
  });

  it('takes statuses, triggers and error codes from the code', () => {
    const schemas = OPENAPI_DOCUMENT.components.schemas;
    expect(schemas.BuildStatus.enum).toEqual(BUILD_STATUSES);
    expect(schemas.BuildRecord.properties).toMatchObject({ trigger: { enum: BUILD_TRIGGERS } });
    expect(schemas.ErrorCode.enum).toEqual(Object.keys(ERROR_CODES));
  });

  it('every error response is the shared Error schema; every operation documents a default, and 401 unless it is open', () => {
    for (const { method, path, operation } of checker.operations()) {
      for (const status of Object.keys(operation.responses).filter((status) => !status.startsWith('2'))) {
        const { value: response } = checker.resolve<Response>(`/paths/${path.replace(/\//g, '~1')}/${method}/responses/${status}`);
        expect(response.content, `${method} ${path} ${status}`).toEqual({ 'application/json': { schema: { $ref: '#/components/schemas/Error' } } });
      }
      const open = operation.security !== undefined && operation.security.length === 0;
      expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(expect.arrayContaining(open ? ['default'] : ['401', 'default']));
      if (open) expect(Object.keys(operation.responses)).not.toContain('401');
    }
  });

  it('documents the statuses, headers and media types of the contract', () => {
    const expected: [HttpMethod, string, string[]][] = [
      ['get', '/v1/builds', ['200', '400']],
      ['post', '/v1/builds', ['202', '400']],
      ['get', '/v1/builds/{id}', ['200', '404']],
      ['get', '/v1/builds/{id}/logs', ['200', '404']],
      ['post', '/v1/builds/{id}/cancel', ['200', '404', '409']],
      ['post', '/v1/builds/{id}/retry', ['202', '404', '409']],
      ['get', '/v1/builds/queue/stats', ['200']],
      ['get', '/v1/builds/builder-types', ['200']],
      ['get', '/v1/openapi.json', ['200']],
      ['get', '/v1/apps', ['200']],
      ['post', '/v1/apps', ['201', '400', '409']],
      ['get', '/v1/apps/{app}', ['200', '404']],
      ['patch', '/v1/apps/{app}', ['200', '400', '404', '409']],
      ['delete', '/v1/apps/{app}', ['204', '404']],
      ['post', '/v1/apps/{app}/webhook', ['200', '202', '400', '404']],
    ];
    expect(checker.operations().map(({ method, path }) => `${method} ${path}`).sort()).toEqual(expected.map(([method, path]) => `${method} ${path}`).sort());
    for (const [method, path, statuses] of expected) {
      expect(Object.keys(checker.operations().find((operation) => operation.method === method && operation.path === path)?.operation.responses ?? {})).toEqual(
        expect.arrayContaining(statuses),
      );
    }
    const logs = OPENAPI_DOCUMENT.paths['/v1/builds/{id}/logs'].get.responses['200'];
    expect(Object.keys(logs.content)).toEqual(['text/plain']);
    expect(logs.headers['X-Build-Status'].required).toBe(true);
    expect(OPENAPI_DOCUMENT.paths['/v1/builds'].post.responses['202'].headers).toHaveProperty('Location');
    expect(OPENAPI_DOCUMENT.paths['/v1/builds/{id}/retry'].post.responses['202'].headers).toHaveProperty('Location');
  });

  it('declares basic and bearer security, and anonymous access for registries without access control', () => {
    expect(OPENAPI_DOCUMENT.components.securitySchemes).toEqual({
      basic: expect.objectContaining({ type: 'http', scheme: 'basic' }),
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
    expect(OPENAPI_DOCUMENT.security).toEqual([{}, { basic: [] }, { bearer: [] }]);
  });
});

describe('OpenAPI schemas against values made by the code', () => {
  const valid = (name: string, value: unknown) => {
    const validate = checker.validator(`/components/schemas/${name}`);
    const ok = validate(value);
    return ok ? [] : validate.errors;
  };

  it('records through their whole life are valid BuildRecords', () => {
    const building = { ...queued, attempts: 1, status: 'building' as const };
    const succeeded = succeed(building, { layers: [{ digest: DIGEST, size: 1234 }], manifestDigest: DIGEST }, later(3));
    const failed = fail(building, { code: 'NIX_BUILD_FAILED', message: 'builder for hello failed' }, later(2));
    const cancelled = fail(building, { code: 'BUILD_CANCELLED', message: 'cancelled' }, later(1), 'cancelled');
    const retry = newRecord({ ...queued, callback: undefined, id: '20261122T101600000Z-0badf00d', retryOf: failed.id }, later(60));
    const delivered = newRecord(
      { ...queued, retryOf: undefined, id: '20261122T101700000Z-0badf00d', push: ['ghcr.io/acme/web', '127.0.0.1:5000/acme/web:v1'], moves: { tags: ['main', 'latest'], order: 1764800000000 }, callback: 'https://deploy.example/hooks', app: 'app-1a2b3c4d5e' },
      later(70),
    );
    const pushed = {
      ...succeed({ ...delivered, status: 'pushing' as const }, { layers: [{ digest: DIGEST, size: 1234 }], manifestDigest: DIGEST }, later(80)),
      pushes: [{ to: 'ghcr.io/acme/web', status: 'pushed' as const, references: ['ghcr.io/acme/web:main-1a2b3c4'], digest: DIGEST, bytesUploaded: 2048, layersUploaded: 2, error: null }],
      tags: ['main-1a2b3c4', 'main'],
      callback: { url: 'https://deploy.example/hooks', deliveries: [{ status: 'RUNNING' as const, attempts: 1, delivered: true, lastAttemptAt: later(75).toISOString(), lastResult: 'HTTP 204 No Content' }] },
    };
    for (const record of [queued, succeeded, failed, cancelled, retry, delivered, pushed]) expect(valid('BuildRecord', record), record.status).toEqual([]);
    expect(valid('BuildPage', { builds: [retry, failed], next: failed.id })).toEqual([]);
    expect(valid('BuildPage', { builds: [], next: null })).toEqual([]);
  });

  it('rejects records that drift from record.ts', () => {
    const record: BuildRecord = queued;
    expect(valid('BuildRecord', { ...record, extra: 1 })).not.toEqual([]);
    expect(valid('BuildRecord', { ...record, status: 'done' })).not.toEqual([]);
    expect(valid('BuildRecord', { ...record, id: 'not-an-id' })).not.toEqual([]);
    expect(valid('BuildRecord', { ...record, createdAt: 'yesterday' })).not.toEqual([]);
    expect(valid('BuildRecord', { ...record, error: { code: 'NO_SUCH_CODE', message: 'x' } })).not.toEqual([]);
    const { retryOf: _retryOf, ...withoutRetryOf } = record;
    expect(valid('BuildRecord', withoutRetryOf)).not.toEqual([]);
  });

  it('stats and error bodies as the server writes them are valid', () => {
    const stats: BuildStats = {
      window: 200,
      counts: { queued: 1, fetching: 0, planning: 0, evaluating: 0, building: 1, installing: 0, compiling: 0, packing: 0, uploading: 0, pushing: 0, succeeded: 5, failed: 2, cancelled: 1 },
      queued: 1,
      running: 1,
      succeeded: 5,
      failed: 2,
      cancelled: 1,
      averageDurationMs: { total: 4200, queued: 10, evaluating: 1200, building: 2500, packing: 400, uploading: 90 },
      instance: { id: 'host-1', running: 1, queued: 0, maxBuilds: 2 },
      queue: { backend: 'rabbitmq', connected: true, waiting: 4, consumers: 2, retrying: 1, dead: 0 },
    };
    expect(valid('BuildStats', stats)).toEqual([]);
    expect(valid('BuildStats', { ...stats, queue: { backend: 'rabbitmq', connected: false, waiting: null, consumers: null, retrying: null, dead: null } })).toEqual([]);
    expect(valid('BuildStats', { ...stats, queue: { ...stats.queue, backend: 'kafka' } })).not.toEqual([]);
    expect(valid('BuildStats', { ...stats, averageDurationMs: { total: null } })).toEqual([]);
    expect(valid('BuildStats', { ...stats, counts: { ...stats.counts, running: 3 } })).not.toEqual([]);
    expect(valid('Error', { errors: [{ code: 'BUILD_UNKNOWN', message: 'no build has this id', detail: null }] })).toEqual([]);
    expect(valid('Error', { errors: [{ code: 'PARAMETER_INVALID', message: 'limit', detail: { parameter: 'limit' } }] })).toEqual([]);
    expect(valid('Error', { errors: [{ code: 'BUILD_UNKNOWN', message: 'no detail' }] })).not.toEqual([]);
  });

  it('build requests: image and tag by the OCI grammars, arch by the known architectures', () => {
    expect(valid('BuildRequest', { image: 'shell/git' })).toEqual([]);
    expect(valid('BuildRequest', { image: 'arm64/hello', tag: 'v1.2', arch: 'arm64' })).toEqual([]);
    expect(valid('BuildRequest', { image: 'Shell' })).not.toEqual([]);
    expect(valid('BuildRequest', { image: 'hello', tag: '-x' })).not.toEqual([]);
    expect(valid('BuildRequest', { image: 'hello', arch: 'mips' })).not.toEqual([]);
    expect(valid('BuildRequest', { tag: 'latest' })).not.toEqual([]);
    expect(valid('BuildRequest', { image: 'hello', tags: 'latest' })).not.toEqual([]);
  });
});
