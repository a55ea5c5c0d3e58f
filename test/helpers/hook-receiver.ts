/**
 * TEST HELPER: a receiver of nixyard's signed POSTs (notifications, callbacks) on 127.0.0.1. It
 * checks each signature as the README tells receivers to (HMAC-SHA256 of the raw body, compared
 * in constant time) and answers 204 when it is valid, else 401; `state.failNext` makes it answer
 * 503 that many times first, as a receiver that is not up yet.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The README's recipe for receivers: HMAC-SHA256 of the raw body, compared in constant time. */
export function verify(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`);
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** One request the receiver got. */
export interface Received<P> {
  headers: IncomingHttpHeaders;
  body: Buffer;
  payload: P;
  verified: boolean;
  /** The status it answered. */
  answered: number;
  /** When it arrived (ms since the epoch). */
  at: number;
}

/** Starts a receiver of POSTs to `/hooks` signed with `secret`, on `port` (0: any). */
export async function startHookReceiver<P>(secret: string, port = 0) {
  const state = { secret, failNext: 0, received: [] as Received<P>[] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const verified = req.method === 'POST' && req.url === '/hooks' && verify(state.secret, body, req.headers['x-nixyard-signature-256'] as string | undefined);
      const answered = state.failNext > 0 ? 503 : verified ? 204 : 401;
      if (state.failNext > 0) state.failNext -= 1;
      state.received.push({ headers: req.headers, body, payload: JSON.parse(body.toString('utf8')) as P, verified, answered, at: Date.now() });
      res.writeHead(answered).end();
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  return {
    state,
    port: bound,
    url: `http://127.0.0.1:${bound}/hooks`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
