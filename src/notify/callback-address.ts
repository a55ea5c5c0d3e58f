/**
 * Which callback URLs nixyard may call: http(s) only, no credentials in the URL, and, unless
 * `NIXYARD_CALLBACK_ALLOW_PRIVATE=1`, no address of the registry's own networks (so an API
 * caller cannot make the registry POST into them: SSRF). The check is made twice: on the URL
 * when the build is asked for (a literal address, `localhost`), and on every address a host
 * name resolves to when a POST connects ({@link guardedFetch}), so a name that points at a
 * private address later (DNS rebinding) is refused too.
 *
 * Refused ranges: loopback 127/8 and ::1, "this network" 0/8 and ::, private 10/8, 172.16/12,
 * 192.168/16, shared 100.64/10, link-local 169.254/16 (cloud metadata) and fe80::/10, unique
 * local fc00::/7, multicast and reserved 224/3 and ff00::/8, and IPv4-mapped IPv6 of them.
 */
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { Agent } from 'undici';
import { ADDRESS_REFUSED } from './policy.js';

const PRIVATE = new BlockList();
for (const [network, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 3]] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) PRIVATE.addSubnet(network, prefix, 'ipv6');


/** Whether `address` (an IPv4 or IPv6 address) is one of the registry's own networks. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  return mapped !== undefined ? PRIVATE.check(mapped, 'ipv4') : PRIVATE.check(address, 'ipv6');
}

const ALLOW_HINT = 'set NIXYARD_CALLBACK_ALLOW_PRIVATE=1 on the registry to allow its own networks';

/** What is wrong with a callback URL (`undefined`: nothing), checked without resolving names. */
export function callbackUrlProblem(raw: string, allowPrivate: boolean): string | undefined {
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return `callback URL ${JSON.stringify(raw)} is not an http(s) URL, e.g. https://deploy.example/hooks/build`;
  if (url.username !== '' || url.password !== '') return 'the callback URL has a user name or password in it: the receiver checks the signature made with the callback token instead';
  if (allowPrivate) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost') || isPrivateAddress(host)) return `callback URL ${raw} points into the registry's own network (${host}): ${ALLOW_HINT}`;
  return undefined;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `dns.lookup` that fails with {@link ADDRESS_REFUSED} when the name resolves to a private address. */
export function guardedLookup(hostname: string, options: object, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const refused = addresses.find((entry) => isPrivateAddress(entry.address));
    if (refused) {
      const denied: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${refused.address}, an address of the registry's own network: ${ALLOW_HINT}`);
      denied.code = ADDRESS_REFUSED;
      return callback(denied, []);
    }
    const all = (options as { all?: boolean }).all === true;
    if (all) return callback(null, addresses);
    const first = addresses[0] as LookupAddress;
    return callback(null, first.address, first.family);
  });
}

/** A fetch for callbacks: with `allowPrivate` false, connections to private addresses are refused. */
export function guardedFetch(allowPrivate: boolean): typeof fetch {
  if (allowPrivate) return fetch;
  // undici (for its Agent's lookup hook) is loaded with the first callback, not at start-up.
  let agent: Promise<Agent> | undefined;
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // A literal address is not looked up: check it here.
    if (isIP(host) !== 0 && isPrivateAddress(host)) {
      const denied: NodeJS.ErrnoException = new Error(`${host} is an address of the registry's own network: ${ALLOW_HINT}`);
      denied.code = ADDRESS_REFUSED;
      throw new TypeError('fetch failed', { cause: denied });
    }
    agent ??= import('undici').then(({ Agent: GuardedAgent }) => new GuardedAgent({ connect: { lookup: guardedLookup } }));
    return fetch(input, { ...init, dispatcher: await agent } as RequestInit);
  };
}
