// Callbacks of single builds with real Nix on the demo package set, received by a local HTTP
// receiver that checks each signature with the build's own token: RUNNING then how the build
// ended, signed, recorded in the build without the token; a receiver that is down at first
// gets them later; a retried build calls back with the same token. Without
// NIXYARD_CALLBACK_ALLOW_PRIVATE, URLs into the registry's own networks are refused when the
// build is asked for, and a name that resolves to one is refused when the POST connects.
import { hostname } from 'node:os';
import { lookup } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isFinal, type BuildRecord } from '../../src/builds/record.js';
import type { CallbackPayload } from '../../src/notify/callback-message.js';
import { isPrivateAddress } from '../../src/notify/callback-address.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { startHookReceiver } from '../helpers/hook-receiver.js';

type Server = Awaited<ReturnType<typeof startDemoServer>>;
const TOKEN = 'callback-token-0123456789';

async function submit(server: Server, body: unknown): Promise<{ status: number; body: BuildRecord & { errors?: { code: string; message: string }[] } }> {
  const res = await fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as BuildRecord & { errors?: { code: string; message: string }[] } };
}

const record = async (server: Server, id: string) => (await (await fetch(`${server.url}/v1/builds/${id}`)).json()) as BuildRecord;

describe('callbacks of single builds (real Nix, a receiver on loopback)', () => {
  let server: Server;
  let receiver: Awaited<ReturnType<typeof startHookReceiver<CallbackPayload>>>;
  const about = (id: string) => receiver.state.received.filter((entry) => entry.payload.build.id === id);

  beforeAll(async () => {
    receiver = await startHookReceiver<CallbackPayload>(TOKEN);
    server = await startDemoServer({ NIXYARD_CALLBACK_ALLOW_PRIVATE: '1', NIXYARD_PUBLIC_HOST: 'registry.example.com' });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('POSTs RUNNING then SUCCEEDED, signed with the build’s token, and records the deliveries without it', async () => {
    const { status, body } = await submit(server, { image: 'hello', tag: 'latest', callback: { url: receiver.url, token: TOKEN } });
    expect(status).toBe(202);
    expect(body.callback).toEqual({ url: receiver.url, deliveries: [] });
    await vi.waitFor(() => expect(about(body.id).map((entry) => entry.payload.status)).toEqual(['RUNNING', 'SUCCEEDED']), { timeout: 60_000, interval: 100 });
    const [running, succeeded] = about(body.id);
    expect(running?.verified && succeeded?.verified).toBe(true);
    expect(running?.headers['x-nixyard-event']).toBe('build.callback');
    const done = await vi.waitFor(async () => {
      const now = await record(server, body.id);
      expect(now.callback?.deliveries.map((delivery) => [delivery.status, delivery.delivered])).toEqual([['RUNNING', true], ['SUCCEEDED', true]]);
      return now;
    });
    expect(succeeded?.payload).toMatchObject({ status: 'SUCCEEDED', digest: done.manifestDigest, image: `registry.example.com/hello:latest@${done.manifestDigest}`, error: null, build: { id: body.id, url: `/v1/builds/${body.id}` } });
    const everything = JSON.stringify(done) + (await (await fetch(`${server.url}/v1/builds/${body.id}/logs`)).text()) + (await (await fetch(`${server.url}/builds/${body.id}`)).text());
    expect(everything).not.toContain(TOKEN);
  });

  it('calls back FAILED with the error, retries a receiver that is down, and a retried build uses the same token', async () => {
    receiver.state.failNext = 2;
    const { body } = await submit(server, { image: 'failing-demo', callback: { url: receiver.url, token: TOKEN } });
    await vi.waitFor(() => expect(about(body.id).filter((entry) => entry.answered === 204).map((entry) => entry.payload.status)).toEqual(['RUNNING', 'FAILED']), { timeout: 60_000, interval: 100 });
    const failed = about(body.id).find((entry) => entry.payload.status === 'FAILED');
    expect(failed?.payload.error?.code).toBe('NIX_BUILD_FAILED');
    expect(about(body.id).filter((entry) => entry.answered === 503)).toHaveLength(2);
    await vi.waitFor(async () => expect((await record(server, body.id)).callback?.deliveries.find((delivery) => delivery.status === 'RUNNING')).toMatchObject({ attempts: 3, delivered: true }));

    const retried = (await (await fetch(`${server.url}/v1/builds/${body.id}/retry`, { method: 'POST' })).json()) as BuildRecord;
    expect(retried.callback?.url).toBe(receiver.url);
    await vi.waitFor(() => expect(about(retried.id).map((entry) => [entry.payload.status, entry.verified])).toEqual([['RUNNING', true], ['FAILED', true]]), { timeout: 60_000, interval: 100 });
  });

  it('refuses a callback without a token or with another scheme, naming what is right', async () => {
    for (const callback of [{ url: receiver.url }, { url: 'ftp://deploy.example/cb', token: TOKEN }, { url: receiver.url, token: 'short' }]) {
      const { status, body } = await submit(server, { image: 'hello', callback });
      expect(status, JSON.stringify(callback)).toBe(400);
      expect(body.errors?.[0]?.code).toBe('PARAMETER_INVALID');
      expect(body.errors?.[0]?.message).toMatch(/token|http\(s\)/);
    }
  });
});

describe('callbacks into the registry’s own network (NIXYARD_CALLBACK_ALLOW_PRIVATE unset)', () => {
  let server: Server;
  let receiver: Awaited<ReturnType<typeof startHookReceiver<CallbackPayload>>>;

  beforeAll(async () => {
    receiver = await startHookReceiver<CallbackPayload>(TOKEN);
    server = await startDemoServer({});
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('refuses loopback and private URLs when the build is asked for', async () => {
    for (const url of [receiver.url, `http://localhost:${receiver.port}/hooks`, 'http://169.254.169.254/latest/meta-data', 'http://10.1.2.3/cb']) {
      const { status, body } = await submit(server, { image: 'hello', callback: { url, token: TOKEN } });
      expect(status, url).toBe(400);
      expect(body.errors?.[0]?.message).toMatch(/points into the registry's own network .*NIXYARD_CALLBACK_ALLOW_PRIVATE=1/);
    }
    expect(receiver.state.received).toEqual([]);
  });

  it('refuses, when it connects, a host name that resolves into it, without retrying; the build is not held up', async () => {
    const name = hostname();
    const { address } = await lookup(name);
    expect(isPrivateAddress(address), `${name} resolves to ${address}: this test needs the machine's name to resolve to a private address (as /etc/hosts has it)`).toBe(true);
    const { status, body } = await submit(server, { image: 'hello', callback: { url: `http://${name}:${receiver.port}/hooks`, token: TOKEN } });
    expect(status).toBe(202);
    const done = await vi.waitFor(
      async () => {
        const now = await record(server, body.id);
        if (!isFinal(now.status) || now.callback?.deliveries.some((delivery) => delivery.attempts === 0)) throw new Error(`build is ${now.status}`);
        return now;
      },
      { timeout: 60_000, interval: 100 },
    );
    expect(done.status).toBe('succeeded');
    for (const delivery of done.callback?.deliveries ?? []) {
      expect(delivery).toMatchObject({ attempts: 1, delivered: false });
      expect(delivery.lastResult).toMatch(new RegExp(`${name} resolves to ${address.replace(/\./g, '\\.')}, an address of the registry's own network.*\\(not retried\\)`));
    }
    expect(receiver.state.received).toEqual([]);
  });
});
