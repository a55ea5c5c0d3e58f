/**
 * A small typed client of the registry's API (`/v1/builds…`, `/v1/apps…`) over global `fetch`,
 * for `nixyard builds` and `nixyard apps`. An error answer (`{"errors":[{code,message,detail}]}`) becomes a
 * {@link BuildsApiError}; a registry that cannot be reached (refused, DNS, timeout, a cut stream)
 * becomes a {@link RegistryUnreachableError} naming the URL.
 */
import type { AppView } from '../apps/app.js';
import type { AppInput, ConnectedApp } from '../apps/connected-apps.js';
import type { BuildRecord } from '../builds/record.js';
import type { BuilderType, BuildPage, BuildStats } from '../builds/types.js';

/** The registry when neither `--registry` nor `NIXYARD_REGISTRY` names one. */
export const DEFAULT_REGISTRY = 'http://localhost:8080';
/** How long a request (other than a followed log) may take before the registry counts as unreachable. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** The registry answered with an error: its code (e.g. `BUILD_UNKNOWN`), message, detail and HTTP status. */
export class BuildsApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = 'BuildsApiError';
  }
}

/** The registry at `registry` could not be reached, or the connection broke; the message says how. */
export class RegistryUnreachableError extends Error {
  constructor(
    readonly registry: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'RegistryUnreachableError';
  }
}

/** Settings of a {@link BuildsClient}. */
export interface BuildsClientOptions {
  /** Base URL of the registry (`http://localhost:8080`), without `/v1`. */
  registry: string;
  /** Value of the `Authorization` header, when the registry has access control on. */
  authorization?: string;
  /** Milliseconds a request may take (default {@link REQUEST_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** The fetch to use (default the global one). */
  fetch?: typeof fetch;
}

/** A page query as `GET /v1/builds` takes it. */
export interface ListQuery {
  status?: readonly string[];
  image?: string;
  limit?: number;
  cursor?: string;
}

/** The body of `POST /v1/builds`. */
export interface CreateBuild {
  image: string;
  tag: string;
  arch?: string;
  /** A build from application source: the repository, ref and directory, and what to change in the plan. */
  source?: { repo: string; ref?: string; dir?: string };
  installCmd?: string;
  buildCmd?: string;
  startCmd?: string;
  pkgs?: string[];
  env?: Record<string, string>;
  user?: 'root' | 'nonroot';
  buildTimeout?: number;
}

/**
 * The `Authorization` header from the environment: `NIXYARD_TOKEN` as a bearer token, else
 * `NIXYARD_USERNAME` and `NIXYARD_PASSWORD` as basic credentials, else none. Throws when only one
 * of username and password is set.
 */
export function authorizationFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const token = env['NIXYARD_TOKEN'];
  if (token) return `Bearer ${token}`;
  const username = env['NIXYARD_USERNAME'];
  const password = env['NIXYARD_PASSWORD'];
  if (!username && !password) return undefined;
  if (!username || !password) throw new Error('set both NIXYARD_USERNAME and NIXYARD_PASSWORD (or NIXYARD_TOKEN)');
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * Where a command sends its requests and as whom: `--registry`, else `NIXYARD_REGISTRY`, else
 * {@link DEFAULT_REGISTRY}, and the `Authorization` of the environment. Throws what is wrong.
 */
export function registryTarget(option: string | undefined, env: NodeJS.ProcessEnv): { registry: string; authorization?: string } {
  const registry = registryUrl(option ?? (env['NIXYARD_REGISTRY'] || DEFAULT_REGISTRY));
  const authorization = authorizationFromEnv(env);
  return { registry, ...(authorization !== undefined ? { authorization } : {}) };
}

/** The registry base URL, checked and without trailing slashes; throws when it is not an http(s) URL. */
export function registryUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`registry ${JSON.stringify(value)} is not a URL (e.g. http://localhost:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`registry ${JSON.stringify(value)} is not an http(s) URL`);
  return value.replace(/\/+$/, '');
}

/** Why a fetch failed, from its cause (`ECONNREFUSED`, `ENOTFOUND`, …). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/** The error an error response stands for: the first entry of an OCI error body, else the HTTP status. */
async function apiError(response: Response): Promise<BuildsApiError> {
  const text = await response.text().catch(() => '');
  try {
    const first = (JSON.parse(text) as { errors?: { code?: unknown; message?: unknown; detail?: unknown }[] }).errors?.[0];
    if (first && typeof first.code === 'string') {
      return new BuildsApiError(first.code, typeof first.message === 'string' ? first.message : '', response.status, first.detail);
    }
  } catch {
    // not JSON: described by its status below
  }
  const snippet = text.trim().replace(/\s+/g, ' ').slice(0, 200);
  return new BuildsApiError(`HTTP_${response.status}`, `${response.status} ${response.statusText}${snippet ? `: ${snippet}` : ''}`, response.status);
}

/** The methods the client sends. */
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** The builds API of one registry. Every method throws {@link BuildsApiError} or {@link RegistryUnreachableError}. */
export class BuildsClient {
  readonly registry: string;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(options: BuildsClientOptions) {
    this.registry = registryUrl(options.registry);
    this.authorization = options.authorization;
    this.timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** `GET /v1/builds`: a page of records, newest first. */
  list(query: ListQuery = {}, signal?: AbortSignal): Promise<BuildPage> {
    const params = new URLSearchParams();
    if (query.status && query.status.length > 0) params.set('status', query.status.join(','));
    if (query.image !== undefined) params.set('image', query.image);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    const search = params.toString();
    return this.json<BuildPage>('GET', `/v1/builds${search ? `?${search}` : ''}`, undefined, signal);
  }

  /** `GET /v1/builds/:id`: one record. */
  get(id: string, signal?: AbortSignal): Promise<BuildRecord> {
    return this.json<BuildRecord>('GET', `/v1/builds/${encodeURIComponent(id)}`, undefined, signal);
  }

  /** `POST /v1/builds`: starts a build (or joins the running build of the same image). */
  create(body: CreateBuild): Promise<BuildRecord> {
    return this.json<BuildRecord>('POST', '/v1/builds', body);
  }

  /** `POST /v1/builds/:id/cancel`. */
  cancel(id: string): Promise<BuildRecord> {
    return this.json<BuildRecord>('POST', `/v1/builds/${encodeURIComponent(id)}/cancel`);
  }

  /** `POST /v1/builds/:id/retry`: the new record. */
  retry(id: string): Promise<BuildRecord> {
    return this.json<BuildRecord>('POST', `/v1/builds/${encodeURIComponent(id)}/retry`);
  }

  /** `GET /v1/builds/queue/stats`. */
  stats(): Promise<BuildStats> {
    return this.json<BuildStats>('GET', '/v1/builds/queue/stats');
  }

  /** `GET /v1/builds/builder-types`. */
  async builders(): Promise<BuilderType[]> {
    return (await this.json<{ builders: BuilderType[] }>('GET', '/v1/builds/builder-types')).builders;
  }

  /** `GET /v1/apps`: the connected apps. */
  async apps(): Promise<AppView[]> {
    return (await this.json<{ apps: AppView[] }>('GET', '/v1/apps')).apps;
  }

  /** `GET /v1/apps/:id`. */
  app(id: string): Promise<AppView> {
    return this.json<AppView>('GET', `/v1/apps/${encodeURIComponent(id)}`);
  }

  /** `POST /v1/apps`: the app, with its webhook secret (shown this once). */
  connectApp(body: AppInput): Promise<ConnectedApp> {
    return this.json<ConnectedApp>('POST', '/v1/apps', body);
  }

  /** `PATCH /v1/apps/:id`. */
  updateApp(id: string, body: Partial<AppInput>): Promise<ConnectedApp> {
    return this.json<ConnectedApp>('PATCH', `/v1/apps/${encodeURIComponent(id)}`, body);
  }

  /** `DELETE /v1/apps/:id`. */
  async disconnectApp(id: string): Promise<void> {
    await this.request('DELETE', `/v1/apps/${encodeURIComponent(id)}`, { timeout: 'whole' }, async () => undefined);
  }

  /** `GET /v1/builds/:id/logs`: the log so far. */
  log(id: string): Promise<string> {
    return this.request('GET', `/v1/builds/${encodeURIComponent(id)}/logs`, { timeout: 'whole' }, (response, read) => read(() => response.text()));
  }

  /**
   * `GET /v1/builds/:id/logs?follow=1`: hands the log to `onText` as it arrives (awaiting it)
   * until the registry ends the response, which it does when the build ends. Resolves with the
   * `X-Build-Status` the response started with. Only the wait for the response's headers is timed.
   */
  followLog(id: string, onText: (text: string) => void | Promise<void>, signal?: AbortSignal): Promise<string | null> {
    const path = `/v1/builds/${encodeURIComponent(id)}/logs?follow=1`;
    return this.request('GET', path, { timeout: 'headers', ...(signal ? { signal } : {}) }, async (response, read) => {
      const status = response.headers.get('x-build-status');
      const reader = response.body?.getReader();
      if (reader === undefined) return status;
      const decoder = new TextDecoder();
      for (;;) {
        const chunk = await read(() => reader.read());
        if (chunk.done) break;
        const text = decoder.decode(chunk.value, { stream: true });
        if (text !== '') await onText(text);
      }
      const rest = decoder.decode();
      if (rest !== '') await onText(rest);
      return status;
    });
  }

  private json<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.request(method, path, { timeout: 'whole', body, ...(signal ? { signal } : {}) }, async (response, read) => {
      const text = await read(() => response.text());
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new BuildsApiError('HTTP_INVALID_JSON', `${method} ${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`, response.status);
      }
    });
  }

  /**
   * Sends a request and hands an OK response to `consume`, which reads its body through `read`
   * (so that a broken connection or a timeout becomes a {@link RegistryUnreachableError}); an
   * error response becomes a {@link BuildsApiError}. `timeout` times the whole exchange or only
   * the wait for the headers. The caller's own `signal` aborting rethrows its reason.
   */
  private async request<T>(
    method: Method,
    path: string,
    options: { timeout: 'whole' | 'headers'; body?: unknown; signal?: AbortSignal },
    consume: (response: Response, read: <R>(reading: () => Promise<R>) => Promise<R>) => Promise<T>,
  ): Promise<T> {
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(new Error(`no answer within ${this.timeoutMs / 1000} s`)), this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([timer.signal, options.signal]) : timer.signal;
    const reason = (error: unknown) => (timer.signal.aborted ? (timer.signal.reason as Error).message : networkReason(error));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authorization) headers['authorization'] = this.authorization;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      let response: Response;
      try {
        response = await this.fetch(`${this.registry}${path}`, { method, headers, signal, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw new RegistryUnreachableError(this.registry, `cannot reach the registry at ${this.registry} (${reason(error)})`, { cause: error });
      }
      if (options.timeout === 'headers') clearTimeout(timeout);
      if (!response.ok) throw await apiError(response);
      const read = async <R>(reading: () => Promise<R>): Promise<R> => {
        try {
          return await reading();
        } catch (error) {
          if (options.signal?.aborted) throw options.signal.reason;
          throw new RegistryUnreachableError(this.registry, `the connection to the registry at ${this.registry} broke (${reason(error)})`, { cause: error });
        }
      };
      return await consume(response, read);
    } finally {
      clearTimeout(timeout);
    }
  }
}
