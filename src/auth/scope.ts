/**
 * Scopes of the Docker token flow: `repository:shell/hello:pull` asks for pull access to one
 * repository. Clients send one `scope` parameter per resource (docker), or several scopes
 * separated by spaces in one parameter (OAuth2 clients such as containerd).
 */

/** One resource and the actions asked for or granted, as the JWT `access` claim spells it. */
export interface ResourceAccess {
  type: string;
  name: string;
  actions: string[];
}

/** The only action this registry grants: it serves images, pushes are unsupported. */
export const PULL = 'pull';

/**
 * Parses `type[(class)]:name:actions`; the name may hold colons (the actions follow the last
 * one). `undefined` for a malformed scope.
 */
export function parseScope(scope: string): ResourceAccess | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first + 1) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  const name = scope.slice(first + 1, last);
  const actions = scope.slice(last + 1).split(',').map((action) => action.trim()).filter((action) => action !== '');
  if (!/^[a-z0-9]+$/.test(type)) return undefined;
  return { type, name, actions };
}

/** Every scope of the request's `scope` parameters (repeated, or space-separated in one); malformed ones dropped. */
export function parseScopes(values: readonly string[]): ResourceAccess[] {
  return values
    .flatMap((value) => value.split(' '))
    .filter((scope) => scope !== '')
    .map(parseScope)
    .filter((access): access is ResourceAccess => access !== undefined);
}

/** `repository:<name>:pull`, the scope a challenge asks for to pull `name`. */
export function pullScope(name: string): string {
  return `repository:${name}:${PULL}`;
}

/** True when `access` grants pulling repository `name`. */
export function grantsPull(access: readonly ResourceAccess[], name: string): boolean {
  return access.some((entry) => entry.type === 'repository' && entry.name === name && entry.actions.includes(PULL));
}
