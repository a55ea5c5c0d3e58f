/** The `Authorization` header of a request, parsed. */

/** What a client presented. A Basic header that does not decode is credentials that will not match. */
export type Credentials =
  | { kind: 'none' }
  | { kind: 'basic'; user: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'other'; scheme: string };

/** Parses `Basic <base64 user:password>` and `Bearer <token>` (schemes are case-insensitive). */
export function parseAuthorization(header: string | undefined): Credentials {
  const value = header?.trim() ?? '';
  if (value === '') return { kind: 'none' };
  const space = value.search(/\s/);
  const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
  const rest = space < 0 ? '' : value.slice(space).trim();
  if (scheme === 'bearer') return { kind: 'bearer', token: rest };
  if (scheme === 'basic') {
    const decoded = /^[A-Za-z0-9+/]*={0,2}$/.test(rest) ? Buffer.from(rest, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    return colon < 0 ? { kind: 'basic', user: '', password: '' } : { kind: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return { kind: 'other', scheme };
}
