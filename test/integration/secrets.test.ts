/**
 * Secrets given as files (`…_FILE`) to a real `nixyard serve`, then every path that could show
 * one exercised: logins right and wrong, tokens, pulls, the builds API and pages, a build with a
 * callback token, notifications, `/metrics`, the probes. No secret appears in any answer (bodies
 * and headers) nor in the server's log.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { startHookReceiver } from '../helpers/hook-receiver.js';
import { writeHtpasswd, writeTokenKey } from '../helpers/htpasswd.js';

const NOTIFY_SECRET = 'notify-secret-7f3a9c';
const METRICS_TOKEN = 'metrics-token-4b8e21';
const PASSWORD = 'alice-password-93d1';
const WRONG_PASSWORD = 'wrong-password-5c2f';
const CALLBACK_TOKEN = 'callback-token-a61e0b';

describe('secrets from files', () => {
  let server: CliServer;
  let receiver: Awaited<ReturnType<typeof startHookReceiver>>;
  let tokenKey: string;
  const answers: string[] = [];

  /** Fetches, keeping the status line, headers and body for the final search. */
  async function call(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(`${server.url}${path}`, init);
    const body = await res.clone().text();
    answers.push(`${path} ${res.status}\n${[...res.headers].map(([name, value]) => `${name}: ${value}`).join('\n')}\n${body}`);
    return res;
  }
  const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nixyard-secrets-'));
    receiver = await startHookReceiver(NOTIFY_SECRET);
    await writeFile(join(dir, 'notify'), `${NOTIFY_SECRET}\n`);
    await writeFile(join(dir, 'metrics'), METRICS_TOKEN);
    const keyFile = await writeTokenKey();
    tokenKey = (await readFile(keyFile, 'utf8')).trim();
    server = await startCliServer({
      NIXYARD_HTPASSWD: await writeHtpasswd({ alice: PASSWORD }),
      NIXYARD_TOKEN_KEY: keyFile,
      NIXYARD_NOTIFY_URL: receiver.url,
      NIXYARD_NOTIFY_SECRET_FILE: join(dir, 'notify'),
      NIXYARD_METRICS_TOKEN_FILE: join(dir, 'metrics'),
      NIXYARD_CALLBACK_ALLOW_PRIVATE: '1',
      NIXYARD_LOG_LEVEL: 'debug',
    });
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  it('uses them, and shows none of them anywhere', async () => {
    expect((await call('/v2/hello/manifests/latest')).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await call('/token?service=nixyard&scope=repository:hello:pull', { headers: basic('alice', WRONG_PASSWORD) })).status).toBe(401);
    const issued = await call('/token?service=nixyard&scope=repository:hello:pull', { headers: basic('alice', PASSWORD) });
    expect(issued.status).toBe(200);
    const { token } = (await issued.json()) as { token: string };
    const pulled = await call('/v2/hello/manifests/latest', { headers: { Authorization: `Bearer ${token}`, Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(pulled.status).toBe(200);

    const created = await call('/v1/builds', { method: 'POST', headers: { ...basic('alice', PASSWORD), 'Content-Type': 'application/json' }, body: JSON.stringify({ image: 'hello/nano', callback: { url: receiver.url, token: CALLBACK_TOKEN } }) });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    await vi.waitFor(async () => expect(((await (await call(`/v1/builds/${id}`, { headers: basic('alice', PASSWORD) })).json()) as { status: string }).status).toBe('succeeded'), { timeout: 60_000, interval: 200 });
    // The notification was signed with the secret from its file.
    await vi.waitFor(() => expect(receiver.state.received.some((entry) => entry.verified)).toBe(true), { timeout: 30_000, interval: 100 });
    for (const path of [`/v1/builds/${id}/logs`, '/v1/builds', '/v1/builds/queue/stats', `/builds/${id}`, '/builds', '/']) await call(path, { headers: basic('alice', PASSWORD) });

    expect((await call('/metrics')).status).toBe(401);
    expect((await call('/metrics', { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
    await call('/readyz');
    await call('/healthz');

    const everything = `${answers.join('\n')}\n${server.output()}`;
    for (const secret of [NOTIFY_SECRET, METRICS_TOKEN, PASSWORD, WRONG_PASSWORD, CALLBACK_TOKEN, tokenKey]) {
      expect(everything.includes(secret), `${secret.slice(0, 12)}… appears in an answer or the log`).toBe(false);
    }
    // What was searched: the server logged the requests, the builds and the failed login.
    expect(server.output()).toContain('"msg":"login failed"');
    expect(server.output()).toContain('"msg":"request"');
  });
});
