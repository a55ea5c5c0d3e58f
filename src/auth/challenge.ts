/**
 * `WWW-Authenticate` challenges (RFC 7235 auth-params with quoted values; RFC 6750 `error`
 * codes for bearer tokens), e.g.
 * `Bearer realm="http://127.0.0.1:8080/token",service="nixyard",scope="repository:shell/hello:pull"`.
 */

/** What a bearer challenge says; `error` is set when a token was sent and refused. */
export interface BearerChallenge {
  realm: string;
  service: string;
  scope?: string;
  error?: 'invalid_token' | 'insufficient_scope';
  errorDescription?: string;
}

/** The realm of Basic challenges. */
export const BASIC_REALM = 'nixyard';

function quote(value: string): string {
  // Quoted-string: backslash-escape `"` and `\`; control characters cannot go in a header.
  const printable = [...value].map((char) => (char < ' ' || char === '\u007f' ? ' ' : char)).join('');
  return `"${printable.replace(/(["\\])/g, '\\$1')}"`;
}

/** Formats a `Bearer` challenge, parameters in the order clients print them. */
export function bearerChallenge(challenge: BearerChallenge): string {
  const params: [string, string | undefined][] = [
    ['realm', challenge.realm],
    ['service', challenge.service],
    ['scope', challenge.scope],
    ['error', challenge.error],
    ['error_description', challenge.errorDescription],
  ];
  return `Bearer ${params
    .filter((param): param is [string, string] => param[1] !== undefined)
    .map(([key, value]) => `${key}=${quote(value)}`)
    .join(',')}`;
}

/** Formats a `Basic` challenge. */
export function basicChallenge(realm = BASIC_REALM): string {
  return `Basic realm=${quote(realm)},charset="UTF-8"`;
}
