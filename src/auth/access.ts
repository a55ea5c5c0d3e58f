/**
 * Access control for the registry: who may pull which names, in one of two modes.
 *
 * - `token` (the Docker token flow): `/v2/…` answers 401 with
 *   `WWW-Authenticate: Bearer realm="<base>/token",service="nixyard",scope="repository:<name>:pull"`;
 *   the client gets a short-lived signed token from `GET /token` (Basic credentials, as docker
 *   sends them; `POST /token` with `grant_type=password`, as containerd does) and sends it as
 *   `Authorization: Bearer`. Only `pull` is ever granted.
 * - `basic`: every request carries `Authorization: Basic` credentials.
 *
 * Protected are all names, or those under the configured prefixes. Rules:
 * - `/v2/` needs credentials when the whole registry is protected, and in token mode always
 *   (an anonymous token is enough when only prefixes are protected): docker sends credentials
 *   only where `/v2/` challenged it, and `docker login` checks the password through it.
 * - `/v2/<name>/manifests|blobs|tags/…` needs a token granting `repository:<name>:pull` (or
 *   valid Basic credentials) when `<name>` is protected. Blobs are content-addressed and shared
 *   by names, so a blob request is judged by the name in its path, like the rest.
 * - Credentials that are presented are always checked, on protected names or not: a wrong
 *   password or a bad token is a 401, never silently anonymous.
 * - Answers: 401 `UNAUTHORIZED` with the challenge for missing, wrong or expired credentials
 *   (never saying whether the user or the password was wrong); 403 `DENIED` for a user's token
 *   that does not grant the name.
 * - With an access file (`grants.ts`), a user may pull a protected name only when her grants
 *   cover every entry that protects it: 403 `DENIED` saying which one is missing otherwise (a
 *   token is only issued for the names she may pull, and checked again on use, so that a changed
 *   file counts at once).
 * - The builds API (`/v1`) and pages (`/builds`) need a user, whatever the prefixes: they show
 *   and start builds of every name (a build is started only for a name the user may pull). Basic credentials work in both modes (the CLI, browsers),
 *   and in token mode so does a token of a logged-in user.
 */
import express, { Router, type Request, type RequestHandler } from 'express';
import { RegistryError } from '../errors.js';
import { isValidName } from '../image/grammar.js';
import type { Logger } from '../log.js';
import { basicChallenge, bearerChallenge, type BearerChallenge } from './challenge.js';
import { parseAuthorization } from './credentials.js';
import { EVERY_NAME, isProtected } from './prefixes.js';
import { uncoveredProtection, type AccessGrants } from './grants.js';
import { grantsPull, parseScopes, pullScope, PULL, type ResourceAccess } from './scope.js';
import { LoginThrottle } from './login-throttle.js';
import { issueToken, verifyToken } from './token.js';
import { loginsThrottled, passwordChecks } from '../metrics/metrics.js';

/** The `service` of challenges and the audience of tokens. */
export const TOKEN_SERVICE = 'nixyard';
/** Path of the token endpoint (the realm is the public base URL plus this). */
export const TOKEN_PATH = '/token';

/** Checks passwords (see `PasswordChecker`). */
export interface PasswordCheck {
  check(user: string, password: string): Promise<boolean>;
}

/** How requests are authenticated. */
export interface AuthPolicy {
  mode: 'basic' | 'token';
  passwords: PasswordCheck;
  /** Protected name prefixes; empty protects every name. */
  prefixes: readonly string[];
  /** The access file as it is now; `undefined`: every user may pull every name. */
  grants?: () => AccessGrants | undefined;
  /** Key that signs tokens (token mode). */
  tokenKey: Buffer;
  tokenTtlSeconds: number;
  /** Public base URL for the realm; `undefined` derives it from each request's protocol and Host. */
  realmBase: string | undefined;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The user the guards authenticated; unset for anonymous requests (build limits then count the address). */
      user?: string;
      /** Why the user may not pull a name (the access file), `undefined` when she may; set by the user guard. */
      pullRefusal?: (name: string) => string | undefined;
    }
  }
}

/** The access control the app mounts (see `createApp`). */
export interface RegistryAccess {
  /** Mounted first, at `/`: serves `/token` in token mode. */
  routes: Router;
  /** Mounted first in `/v2`: authenticates and authorizes. */
  guard: RequestHandler;
  /** Mounted first in `/v1` and the builds pages: lets only users through. */
  userGuard: RequestHandler;
}

/** What a `/v2` request is about. */
type Target = { kind: 'base' } | { kind: 'name'; name: string } | { kind: 'other'; path: string };

const NAMED_PATH = /^\/(.+)\/(?:manifests\/[^/]+|blobs\/[^/]+|referrers\/[^/]+|tags\/list)$/;

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch (error) {
    throw new RegistryError('NAME_INVALID', 'the request path is not valid percent-encoding', { cause: error });
  }
}

/** The target of a request path inside `/v2`, decoded the way the routers decode their parameters. */
export function requestTarget(path: string): Target {
  if (path === '/' || path === '') return { kind: 'base' };
  const named = NAMED_PATH.exec(path);
  if (named) return { kind: 'name', name: decode(named[1] ?? '') };
  return { kind: 'other', path: decode(path.slice(1)) };
}

/** `a//b/` → `a/b`: protection is decided on components, whatever the router later accepts. */
const components = (path: string) => path.split('/').filter((part) => part !== '').join('/');

/** What the client proved. */
interface Identity {
  /** Valid credentials or a valid token were presented. */
  presented: boolean;
  /** The user; `undefined` when anonymous. */
  subject: string | undefined;
  /** What the token grants (token mode). */
  access: readonly ResourceAccess[];
}

/** The decision on a request; `reason`: what the access file does not grant. */
export type Decision = { kind: 'allow' } | { kind: 'challenge'; name?: string } | { kind: 'deny'; name: string; reason?: string };

/** Why `user` may not pull `name` under `grants`, or `undefined` when she may (pure). */
export function pullRefusal(user: string, name: string, prefixes: readonly string[], grants: AccessGrants | undefined): string | undefined {
  if (!grants) return undefined;
  const missing = uncoveredProtection(name, prefixes, grants.grantOf(user));
  if (missing === undefined) return undefined;
  return missing === EVERY_NAME
    ? `the access file grants ${user} no prefix or packages that cover ${name}`
    : `${name} holds ${missing}, which the access file does not grant ${user}`;
}

/** Decides whether `identity` may make a request to `target` (pure). */
export function decide(target: Target, identity: Identity, policy: Pick<AuthPolicy, 'mode' | 'prefixes'>, grants?: AccessGrants): Decision {
  const whole = policy.prefixes.length === 0;
  if (target.kind === 'base') {
    const needed = whole || policy.mode === 'token';
    return needed && !identity.presented ? { kind: 'challenge' } : { kind: 'allow' };
  }
  if (target.kind === 'other') {
    return !isProtected(components(target.path), policy.prefixes) || identity.subject !== undefined ? { kind: 'allow' } : { kind: 'challenge' };
  }
  const { name } = target;
  const path = components(name);
  if (!isProtected(path, policy.prefixes)) return { kind: 'allow' };
  if (identity.subject === undefined) return policy.mode === 'token' && grantsPull(identity.access, name) ? { kind: 'allow' } : { kind: 'challenge', name };
  const reason = pullRefusal(identity.subject, path, policy.prefixes, grants);
  if (reason !== undefined) return { kind: 'deny', name, reason };
  return policy.mode === 'basic' || grantsPull(identity.access, name) ? { kind: 'allow' } : { kind: 'deny', name };
}

function accessDetail(name: string | undefined): unknown {
  return name === undefined ? null : [{ Type: 'repository', Name: name, Action: PULL }];
}

/** Builds the access control from its parts (files already read); `now` in milliseconds. */
export function createAccess(options: { auth: AuthPolicy; log: Logger; now?: () => number }): RegistryAccess {
  const { auth, log } = options;
  const now = options.now ?? Date.now;
  const routes = Router();

  const realm = (req: Request) => `${auth.realmBase ?? `${req.protocol}://${req.host ?? 'localhost'}`}${TOKEN_PATH}`;
  const host = (req: Request) => req.host ?? 'this registry';

  /** A 401 with the challenge of the mode. */
  const unauthorized = (req: Request, message: string, extra: { scope?: string; name?: string; error?: BearerChallenge['error']; errorDescription?: string } = {}) => {
    const challenge =
      auth.mode === 'basic'
        ? basicChallenge()
        : bearerChallenge({ realm: realm(req), service: TOKEN_SERVICE, scope: extra.scope, error: extra.error, errorDescription: extra.errorDescription });
    return new RegistryError('UNAUTHORIZED', message, {
      detail: accessDetail(extra.name),
      headers: { 'WWW-Authenticate': challenge },
    });
  };

  const throttle = new LoginThrottle();
  /**
   * Whether `password` is `user`'s: refused with 429 while the user or the client waits after
   * failed logins (no bcrypt check then); the first failure of a burst is logged, not each one.
   */
  const passwordMatches = async (req: Request, user: string, password: string): Promise<boolean> => {
    const client = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const wait = throttle.waitMs(user, client, now());
    if (wait > 0) {
      loginsThrottled.inc();
      const seconds = Math.ceil(wait / 1000);
      throw new RegistryError('TOOMANYREQUESTS', `too many failed logins for this user or from this address: try again in ${seconds} s`, { headers: { 'Retry-After': String(seconds) }, detail: { retryAfterSeconds: seconds } });
    }
    const matches = await auth.passwords.check(user, password);
    passwordChecks.inc({ outcome: matches ? 'ok' : 'wrong' });
    if (matches) throttle.succeeded(user, client);
    else if (throttle.failed(user, client, now())) log.warn('login failed', { user, client, code: 'UNAUTHORIZED', note: 'further failures of this user or client are not logged until a login succeeds' });
    return matches;
  };

  /** Who the request's credentials prove it is; a 401 for wrong ones, never anonymous instead. */
  const identify = async (req: Request, scoped: { scope?: string; name?: string }): Promise<Identity> => {
    const credentials = parseAuthorization(req.headers.authorization);
    if (credentials.kind === 'none') return { presented: false, subject: undefined, access: [] };
    if (auth.mode === 'basic' && credentials.kind === 'basic') {
      if (!(await passwordMatches(req, credentials.user, credentials.password))) throw unauthorized(req, 'invalid username or password');
      return { presented: true, subject: credentials.user, access: [] };
    }
    if (auth.mode === 'token' && credentials.kind === 'bearer') {
      const check = await verifyToken(credentials.token, auth.tokenKey, { audience: TOKEN_SERVICE, now: now() });
      if (check.kind === 'expired') throw unauthorized(req, `the token has expired: get a new one from ${realm(req)}`, { ...scoped, error: 'invalid_token', errorDescription: 'the token has expired' });
      if (check.kind === 'invalid') throw unauthorized(req, `the token is not valid here: ${check.reason}`, { ...scoped, error: 'invalid_token', errorDescription: check.reason });
      return { presented: true, subject: check.claims.sub === '' ? undefined : check.claims.sub, access: check.claims.access };
    }
    const expected = auth.mode === 'token' ? `Bearer tokens from ${realm(req)} (docker login does this)` : 'Basic credentials';
    throw unauthorized(req, `this registry takes ${expected}`, scoped);
  };

  const guard: RequestHandler = async (req, res, next) => {
    const target = requestTarget(req.path);
    const scoped = target.kind === 'name' && isProtected(components(target.name), auth.prefixes) ? { scope: pullScope(target.name), name: target.name } : {};
    const identity = await identify(req, scoped);
    const decision = decide(target, identity, auth, auth.grants?.());
    if (decision.kind === 'challenge') {
      const what = decision.name === undefined ? '' : ` to pull ${decision.name}`;
      throw unauthorized(req, `authentication required${what}: log in with docker login ${host(req)}`, decision.name === undefined ? {} : { scope: pullScope(decision.name), name: decision.name });
    }
    if (decision.kind === 'deny') {
      const message = decision.reason !== undefined ? `${identity.subject ?? ''} may not pull ${decision.name}: ${decision.reason}` : `the token does not grant pull access to ${decision.name}: ask ${realm(req)} for scope ${pullScope(decision.name)}`;
      const headers = auth.mode === 'token' ? { 'WWW-Authenticate': bearerChallenge({ realm: realm(req), service: TOKEN_SERVICE, scope: pullScope(decision.name), error: 'insufficient_scope' }) } : undefined;
      throw new RegistryError('DENIED', message, { detail: accessDetail(decision.name), headers });
    }
    // Build limits count per user once authenticated.
    if (identity.subject !== undefined) res.locals.user = identity.subject;
    next();
  };

  const userRequired = (message: string) => new RegistryError('UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': basicChallenge() } });
  const userGuard: RequestHandler = async (req, res, next) => {
    const credentials = parseAuthorization(req.headers.authorization);
    let user: string | undefined;
    if (credentials.kind === 'basic') {
      if (!(await passwordMatches(req, credentials.user, credentials.password))) throw userRequired('invalid username or password');
      user = credentials.user;
    } else if (credentials.kind === 'bearer' && auth.mode === 'token') {
      const check = await verifyToken(credentials.token, auth.tokenKey, { audience: TOKEN_SERVICE, now: now() });
      if (check.kind === 'expired') throw userRequired(`the token has expired: get a new one from ${realm(req)}`);
      if (check.kind === 'invalid') throw userRequired(`the token is not valid here: ${check.reason}`);
      if (check.claims.sub === '') throw userRequired('the token is anonymous: get one with a user name and password from ' + realm(req));
      user = check.claims.sub;
    } else {
      const token = auth.mode === 'token' ? `, or a Bearer token from ${realm(req)} got with them` : '';
      throw userRequired(`this needs a user of the registry: send Basic credentials${token}`);
    }
    res.locals.user = user;
    const grants = auth.grants?.();
    res.locals.pullRefusal = (name) => pullRefusal(user, name, auth.prefixes, grants);
    next();
  };

  if (auth.mode === 'token') {
    const tokenEndpoint: RequestHandler = async (req, res) => {
      let credentials: { user: string; password: string } | undefined;
      let scopes: string[];
      if (req.method === 'POST') {
        const body = (req.body ?? {}) as Record<string, unknown>;
        if (body['grant_type'] !== 'password') {
          throw new RegistryError('UNSUPPORTED', `grant_type ${JSON.stringify(body['grant_type'] ?? null)} is not supported: use grant_type=password, or GET with Basic credentials`);
        }
        credentials = { user: String(body['username'] ?? ''), password: String(body['password'] ?? '') };
        scopes = typeof body['scope'] === 'string' ? [body['scope']] : [];
      } else {
        const presented = parseAuthorization(req.headers.authorization);
        if (presented.kind === 'bearer' || presented.kind === 'other') throw tokenUnauthorized('the token endpoint takes Basic credentials');
        if (presented.kind === 'basic') credentials = presented;
        const scope = req.query['scope'];
        scopes = typeof scope === 'string' ? [scope] : Array.isArray(scope) ? scope.filter((value): value is string => typeof value === 'string') : [];
      }
      let subject = '';
      if (credentials) {
        if (!(await passwordMatches(req, credentials.user, credentials.password))) throw tokenUnauthorized('invalid username or password');
        subject = credentials.user;
      } else if (auth.prefixes.length === 0) {
        throw tokenUnauthorized(`authentication required: every image of this registry needs credentials, log in with docker login ${host(req)}`);
      }
      const granted = new Map<string, ResourceAccess>();
      const grants = auth.grants?.();
      for (const scope of parseScopes(scopes)) {
        const asked = scope.actions.includes(PULL) || scope.actions.includes('*');
        if (scope.type !== 'repository' || !asked || !isValidName(scope.name)) continue;
        // pullRefusal says nothing against names that are not protected.
        const allowed = subject === '' ? !isProtected(scope.name, auth.prefixes) : pullRefusal(subject, scope.name, auth.prefixes, grants) === undefined;
        if (allowed) granted.set(scope.name, { type: 'repository', name: scope.name, actions: [PULL] });
      }
      const access = [...granted.values()];
      const { token, claims } = await issueToken({ subject, access, audience: TOKEN_SERVICE, ttlSeconds: auth.tokenTtlSeconds, now: new Date(now()), key: auth.tokenKey });
      res
        .status(200)
        .set('Cache-Control', 'no-store')
        .json({
          token,
          access_token: token,
          expires_in: auth.tokenTtlSeconds,
          issued_at: new Date(claims.iat * 1000).toISOString(),
          scope: access.map((entry) => pullScope(entry.name)).join(' '),
        });
    };
    routes.get(TOKEN_PATH, tokenEndpoint);
    routes.post(TOKEN_PATH, express.urlencoded({ extended: false, limit: '16kb' }), tokenEndpoint);
  }

  return {
    routes,
    guard,
    userGuard,
  };
}

function tokenUnauthorized(message: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': basicChallenge() } });
}
