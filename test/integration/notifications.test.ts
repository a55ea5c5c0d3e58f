// Notifications of build status changes with real Nix on the demo package set, received by a
// local HTTP receiver that checks each signature as the README tells receivers to: building and
// the end of a build are POSTed, signed, in order and recorded in the build; a receiver with
// another secret refuses them and they are not retried; a receiver that is down at first gets
// them later, while the build itself did not wait.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BuildRecord } from '../../src/builds/record.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { startHookReceiver, verify, type Received } from '../helpers/hook-receiver.js';
import { freePort } from '../helpers/tools.js';

type DemoServer = Awaited<ReturnType<typeof startDemoServer>>;

const SECRET = 'notify-test-secret';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** What a notification carries. */
type Notification = { event: string; build: BuildRecord };

/** A notification receiver on 127.0.0.1: 204 for a valid signature with `secret`, else 401. */
async function startReceiver(secret: string, port = 0) {
  const receiver = await startHookReceiver<Notification>(secret, port);
  /** What arrived about build `id`, in order. */
  return { ...receiver, about: (id: string) => receiver.state.received.filter((entry) => entry.payload.build.id === id) };
}

async function submit(server: DemoServer, image: string): Promise<BuildRecord> {
  const res = await fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image }) });
  expect(res.status).toBe(202);
  return (await res.json()) as BuildRecord;
}

async function record(server: DemoServer, id: string): Promise<BuildRecord> {
  const res = await fetch(`${server.url}/v1/builds/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as BuildRecord;
}

/** The record once the build has ended and every notification of it is delivered or given up. */
async function settled(server: DemoServer, id: string, statuses: string[]): Promise<BuildRecord> {
  return vi.waitFor(
    async () => {
      const current = await record(server, id);
      expect(current.finishedAt).not.toBeNull();
      expect(current.notifications.map((entry) => entry.status)).toEqual(statuses);
      for (const entry of current.notifications) expect(entry.delivered || /not retried|gave up/.test(entry.lastResult ?? '')).toBe(true);
      return current;
    },
    { timeout: 100_000, interval: 200 },
  );
}

describe('notifications to a receiver that checks the signature (real Nix)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let server: DemoServer;
  beforeAll(async () => {
    receiver = await startReceiver(SECRET);
    server = await startDemoServer({ NIXYARD_NOTIFY_URL: receiver.url, NIXYARD_NOTIFY_SECRET: SECRET });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('posts build.building then build.succeeded, signed, and the record shows them delivered', async () => {
    // ticker-demo is built again in every test process (NIXYARD_DEMO_RUN), so Nix really builds.
    const created = await submit(server, 'ticker-demo');
    const final = await settled(server, created.id, ['building', 'succeeded']);
    expect(final.status).toBe('succeeded');
    for (const entry of final.notifications) {
      expect(entry).toMatchObject({ attempts: 1, delivered: true, lastResult: 'HTTP 204 No Content' });
      expect(Date.parse(entry.lastAttemptAt ?? '')).toBeGreaterThanOrEqual(Date.parse(final.createdAt));
    }

    const got = receiver.about(created.id);
    expect(got.map((entry) => entry.payload.event)).toEqual(['build.building', 'build.succeeded']);
    for (const entry of got) {
      expect(entry.verified).toBe(true);
      expect(entry.headers['content-type']).toBe('application/json');
      expect(entry.headers['x-nixyard-event']).toBe(entry.payload.event);
      expect(entry.headers['x-nixyard-delivery']).toMatch(UUID);
      expect(entry.payload.build.status).toBe(entry.payload.event.replace('build.', ''));
    }
    expect(new Set(got.map((entry) => entry.headers['x-nixyard-delivery'])).size).toBe(2);
    // The record as it was at each status: building had not ended; succeeded carries the manifest.
    expect(got[0]?.payload.build).toMatchObject({ id: created.id, image: 'ticker-demo', finishedAt: null, manifestDigest: null });
    expect(got[1]?.payload.build).toMatchObject({ id: created.id, finishedAt: final.finishedAt, manifestDigest: final.manifestDigest, layers: final.layers });
  });

  it('signs the exact body: another secret or a changed body fails the check', async () => {
    const [first] = receiver.state.received;
    expect(first?.verified).toBe(true);
    const { body, headers } = first as Received<Notification>;
    const signature = headers['x-nixyard-signature-256'] as string;
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verify(SECRET, body, signature)).toBe(true);
    expect(verify('another-secret', body, signature)).toBe(false);
    const tampered = Buffer.from(body.toString('utf8').replace('"status":"building"', '"status":"succeeded"'));
    expect(tampered.equals(body)).toBe(false);
    expect(verify(SECRET, tampered, signature)).toBe(false);
    expect(verify(SECRET, Buffer.concat([body, Buffer.from('\n')]), signature)).toBe(false);
  });

  it('posts build.failed with the error of a failed build', async () => {
    const created = await submit(server, 'failing-demo');
    const final = await settled(server, created.id, ['building', 'failed']);
    expect(final).toMatchObject({ status: 'failed', error: { code: 'NIX_BUILD_FAILED' } });
    expect(final.notifications.every((entry) => entry.delivered && entry.attempts === 1)).toBe(true);
    const got = receiver.about(created.id);
    expect(got.map((entry) => [entry.payload.event, entry.verified])).toEqual([
      ['build.building', true],
      ['build.failed', true],
    ]);
    expect(got[1]?.payload.build.error).toEqual(final.error);
  });

  it('posts build.cancelled when a build is cancelled', async () => {
    const created = await submit(server, 'slow-demo');
    await vi.waitFor(async () => expect((await record(server, created.id)).status).toBe('building'), { timeout: 60_000, interval: 200 });
    const cancelled = await fetch(`${server.url}/v1/builds/${created.id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    const final = await settled(server, created.id, ['building', 'cancelled']);
    expect(final.notifications.every((entry) => entry.delivered)).toBe(true);
    expect(receiver.about(created.id).map((entry) => entry.payload.event)).toEqual(['build.building', 'build.cancelled']);
  });

  it('does not retry when the receiver refuses the signature (it checks another secret)', async () => {
    receiver.state.secret = 'not-the-shared-secret';
    try {
      const created = await submit(server, 'failing-demo');
      const final = await settled(server, created.id, ['building', 'failed']);
      for (const entry of final.notifications) expect(entry).toMatchObject({ attempts: 1, delivered: false, lastResult: 'HTTP 401 Unauthorized (not retried)' });
      const got = receiver.about(created.id);
      expect(got.map((entry) => [entry.payload.event, entry.verified])).toEqual([
        ['build.building', false],
        ['build.failed', false],
      ]);
      // Signed with the shared secret all the same.
      for (const entry of got) expect(verify(SECRET, entry.body, entry.headers['x-nixyard-signature-256'] as string)).toBe(true);
    } finally {
      receiver.state.secret = SECRET;
    }
  });
});

describe('notifications to a receiver that is down at first (real Nix)', () => {
  let port: number;
  let server: DemoServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  beforeAll(async () => {
    port = await freePort();
    server = await startDemoServer({ NIXYARD_NOTIFY_URL: `http://127.0.0.1:${port}/hooks`, NIXYARD_NOTIFY_SECRET: SECRET });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('retries until the receiver is up; the build ended without waiting for it', async () => {
    // failing-demo: Nix tries to build it every time, so the build passes through building.
    const created = await submit(server, 'failing-demo');
    // The build ends while nothing listens: the first attempt was refused, the build went on.
    const refused = await vi.waitFor(
      async () => {
        const current = await record(server, created.id);
        expect(current.status).toBe('failed');
        expect(current.notifications[0]).toMatchObject({ status: 'building', delivered: false, lastResult: expect.stringContaining('ECONNREFUSED') });
        expect(current.notifications[0]?.attempts).toBeGreaterThanOrEqual(1);
        return current;
      },
      { timeout: 60_000, interval: 100 },
    );
    // One build's notifications go out in order: failed waits for building.
    expect(refused.notifications[1]).toMatchObject({ status: 'failed', attempts: 0, delivered: false });
    expect(refused.notifications[0]?.lastResult).toMatch(/\(next attempt in /);

    receiver = await startReceiver(SECRET, port);
    const final = await settled(server, created.id, ['building', 'failed']);
    expect(final.notifications[0]).toMatchObject({ status: 'building', delivered: true, lastResult: 'HTTP 204 No Content' });
    expect(final.notifications[0]?.attempts).toBeGreaterThan(1);
    expect(final.notifications[1]).toMatchObject({ status: 'failed', delivered: true, attempts: 1 });

    const got = receiver.about(created.id);
    expect(got.map((entry) => [entry.payload.event, entry.verified])).toEqual([
      ['build.building', true],
      ['build.failed', true],
    ]);
    // The build had ended before the first delivery arrived, and that delivery still carries
    // the record as it was when the build entered building.
    expect(Date.parse(final.finishedAt ?? '')).toBeLessThan(got[0]?.at ?? 0);
    expect(got[0]?.payload.build).toMatchObject({ status: 'building', finishedAt: null });
  });
});
