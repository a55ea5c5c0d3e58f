/**
 * TEST HELPER: checks real requests and responses against an OpenAPI 3.1 document, generically
 * (no per-route code): the operation is looked up by method and path template, the response by
 * status (exact, then `4XX`, then `default`), and then the status, the required headers, the
 * content type and the body are checked against what the document says. Schemas are compiled by
 * Ajv (JSON Schema 2020-12, strict, with ajv-formats) straight out of the document, so that its
 * `#/components/...` references resolve as in the document itself.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { HttpMethod, Header, MediaType, OpenApiDocument, Operation, Parameter, Response } from '../../src/http/openapi.js';

/** The id the document is registered under in Ajv; schemas are compiled as `$ref`s into it. */
const DOCUMENT_ID = 'urn:nixyard:openapi-document';

/** A response as seen on the wire. */
export interface WireResponse {
  status: number;
  /** Response headers (a fetch `Headers` or a plain object, any case). */
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The body as text (parsed here when the media type is JSON). */
  body: string;
}

/** A request as sent: path parameters, query parameters (raw strings) and JSON body. */
export interface WireRequest {
  path?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
}

/** Characters a JSON pointer segment escapes. */
const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** A media type without parameters, lowercase (`text/plain; charset=utf-8` → `text/plain`). */
const essence = (contentType: string) => (contentType.split(';')[0] ?? '').trim().toLowerCase();
const isJson = (mediaType: string) => mediaType === 'application/json' || mediaType.endsWith('+json');

function headerValue(headers: WireResponse['headers'], name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value.join(', ') : value;
  }
  return undefined;
}

/** Checks requests and responses against one document; remembers what it has checked. */
export class OpenApiChecker {
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  /** `METHOD path status` of every response checked, for coverage checks. */
  readonly seen = new Set<string>();

  constructor(readonly document: OpenApiDocument) {
    this.ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    addFormats.default(this.ajv);
    // The document's own top-level fields are not schema keywords; Ajv must not reject them.
    this.ajv.addVocabulary(Object.keys(document));
    this.ajv.addSchema(document as object, DOCUMENT_ID);
  }

  /** Every operation of the document. */
  operations(): { method: HttpMethod; path: string; operation: Operation }[] {
    return Object.entries(this.document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ method: method as HttpMethod, path, operation: operation as Operation })),
    );
  }

  /** The value at a JSON pointer of the document (`/components/schemas/Error`). */
  at(pointer: string): unknown {
    let value: unknown = this.document;
    for (const segment of pointer.split('/').slice(1)) {
      if (value === null || typeof value !== 'object') return undefined;
      value = (value as Record<string, unknown>)[segment.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    return value;
  }

  /** Follows `$ref`s (local ones only) from `pointer`; the object found and where it is. */
  resolve<T>(pointer: string): { value: T; pointer: string } {
    let current = pointer;
    for (let hops = 0; hops < 10; hops++) {
      const value = this.at(current);
      if (value === undefined) throw new Error(`${current} is not in the document`);
      const ref = (value as { $ref?: unknown }).$ref;
      if (typeof ref !== 'string') return { value: value as T, pointer: current };
      if (!ref.startsWith('#/')) throw new Error(`${current}: only local references are supported, not ${ref}`);
      current = ref.slice(1);
    }
    throw new Error(`${pointer}: reference loop`);
  }

  /** The compiled schema at a JSON pointer of the document. */
  validator(pointer: string): ValidateFunction {
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOCUMENT_ID}#${pointer}` });
      this.validators.set(pointer, validate);
    }
    return validate;
  }

  private validate(pointer: string, value: unknown, what: string): string[] {
    const validate = this.validator(pointer);
    if (validate(value)) return [];
    return (validate.errors ?? []).map((error) => `${what}${error.instancePath}: ${error.message ?? error.keyword} ${JSON.stringify(error.params)}`);
  }

  private operationPointer(method: HttpMethod, path: string): string {
    const pointer = `/paths/${escapePointer(path)}/${method}`;
    if (this.at(pointer) === undefined) throw new Error(`the document has no operation ${method.toUpperCase()} ${path}`);
    return pointer;
  }

  /** Problems of a response to `method path` (a path template as in the document); empty when it matches. */
  checkResponse(method: HttpMethod, path: string, response: WireResponse): string[] {
    const operationPointer = this.operationPointer(method, path);
    const responses = this.at(`${operationPointer}/responses`) as Record<string, unknown>;
    const status = String(response.status);
    const key = [status, `${status[0]}XX`, 'default'].find((candidate) => candidate in responses);
    this.seen.add(`${method.toUpperCase()} ${path} ${response.status}`);
    if (key === undefined) return [`status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`];
    const { value: documented, pointer } = this.resolve<Response>(`${operationPointer}/responses/${key}`);
    const problems: string[] = [];

    for (const name of Object.keys(documented.headers ?? {})) {
      const header = this.resolve<Header>(`${pointer}/headers/${escapePointer(name)}`);
      const value = headerValue(response.headers, name);
      if (value === undefined) {
        if (header.value.required) problems.push(`required header ${name} is missing`);
        continue;
      }
      problems.push(...this.validate(`${header.pointer}/schema`, value, `header ${name}`));
    }

    const contentType = headerValue(response.headers, 'content-type');
    if (documented.content === undefined) {
      if (response.body !== '') problems.push(`status ${status} documents no body, got ${JSON.stringify(response.body.slice(0, 200))}`);
      return problems;
    }
    if (contentType === undefined) return [...problems, 'no Content-Type header'];
    const mediaType = essence(contentType);
    const documentedType = Object.keys(documented.content).find((candidate) => {
      const wanted = essence(candidate);
      return wanted === mediaType || (wanted.endsWith('/*') && mediaType.startsWith(wanted.slice(0, -1))) || wanted === '*/*';
    });
    if (documentedType === undefined) return [...problems, `Content-Type ${contentType} is not documented (documented: ${Object.keys(documented.content).join(', ')})`];
    const schemaPointer = `${pointer}/content/${escapePointer(documentedType)}/schema`;
    let body: unknown = response.body;
    if (isJson(mediaType)) {
      try {
        body = JSON.parse(response.body);
      } catch {
        return [...problems, `body is not JSON: ${JSON.stringify(response.body.slice(0, 200))}`];
      }
    }
    return [...problems, ...this.validate(schemaPointer, body, 'body')];
  }

  /** Problems of a request to `method path` by the document's parameters and request body; empty when it is valid. */
  checkRequest(method: HttpMethod, path: string, request: WireRequest): string[] {
    const operationPointer = this.operationPointer(method, path);
    const operation = this.at(operationPointer) as Operation;
    const problems: string[] = [];
    const given: Record<'path' | 'query', Record<string, string>> = { path: request.path ?? {}, query: request.query ?? {} };
    const known = { path: new Set<string>(), query: new Set<string>() };
    (operation.parameters ?? []).forEach((_, i) => {
      const { value: parameter, pointer } = this.resolve<Parameter>(`${operationPointer}/parameters/${i}`);
      if (parameter.in !== 'path' && parameter.in !== 'query') return;
      known[parameter.in].add(parameter.name);
      const raw = given[parameter.in][parameter.name];
      if (raw === undefined) {
        if (parameter.required) problems.push(`required ${parameter.in} parameter ${parameter.name} is missing`);
        return;
      }
      problems.push(...this.validate(`${pointer}/schema`, this.deserialize(parameter, `${pointer}/schema`, raw), `${parameter.in} parameter ${parameter.name}`));
    });
    for (const where of ['path', 'query'] as const) {
      for (const name of Object.keys(given[where])) if (!known[where].has(name)) problems.push(`${where} parameter ${name} is not documented`);
    }
    if (operation.requestBody) {
      const mediaType = operation.requestBody.content['application/json'] as MediaType | undefined;
      if (request.body === undefined) {
        if (operation.requestBody.required) problems.push('the request body is required');
      } else if (mediaType === undefined) {
        problems.push('the operation takes no JSON body');
      } else {
        problems.push(...this.validate(`${operationPointer}/requestBody/content/application~1json/schema`, request.body, 'request body'));
      }
    } else if (request.body !== undefined) {
      problems.push('the operation takes no request body');
    }
    return problems;
  }

  /** A raw parameter string as its schema types it (`style: form, explode: false` arrays split on commas). */
  private deserialize(parameter: Parameter, schemaPointer: string, raw: string): unknown {
    const { value: schema } = this.resolve<{ type?: unknown; items?: unknown }>(schemaPointer);
    if (schema.type === 'array') {
      if (parameter.explode !== false && parameter.in !== 'path') return [raw];
      return raw === '' ? [] : raw.split(',');
    }
    if ((schema.type === 'integer' || schema.type === 'number') && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
    if (schema.type === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
    return raw;
  }
}

const checkers = new WeakMap<OpenApiDocument, OpenApiChecker>();

/** The (cached) checker of a document. */
export function openApiChecker(document: OpenApiDocument): OpenApiChecker {
  let checker = checkers.get(document);
  if (!checker) {
    checker = new OpenApiChecker(document);
    checkers.set(document, checker);
  }
  return checker;
}

/**
 * Problems of one response against the document: `status`, then the body (JSON-parsed for JSON
 * media types) and headers against the operation `method path` (a path template, e.g.
 * `/v1/builds/{id}`). Empty when it matches.
 */
export function checkResponse(document: OpenApiDocument, method: HttpMethod, path: string, response: WireResponse): string[] {
  return openApiChecker(document).checkResponse(method, path, response);
}
