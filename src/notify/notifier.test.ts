import { describe, expect, it, vi } from 'vitest';
import { enterStatus, fail, newRecord, succeed, type BuildRecord, type BuildStatus, type NotificationDelivery } from '../builds/record.js';
import type { Logger } from '../log.js';
import { Notifier } from './notifier.js';
import { verifySignature } from './signature.js';

const SECRET = 's3cret';
const RECEIVER = 'http://receiver.test/hooks';

/** A build record store in memory with the runner's `amend` contract, and a record of log lines. */
function harness(options: { answer: (call: number, init: RequestInit) => Promise<Response> | Response; attempts?: number; backoffMs?: number; amendFails?: boolean }) {
  const records = new Map<string, BuildRecord>();
  const calls: { url: string; headers: Record<string, string>; body: string }[] = [];
  const warnings: string[] = [];
  /** Every state the record's deliveries went through. */
  const history: NotificationDelivery[][] = [];
  const log: Logger = { debug: () => {}, info: () => {}, warn: (message) => void warnings.push(message), error: () => {} };
  let ids = 0;
  const notifier = new Notifier(
    { url: RECEIVER, secret: SECRET, attempts: options.attempts ?? 6 },
    {
      amend: async (id, change) => {
        if (options.amendFails) throw new Error('storage is down');
        const record = records.get(id);
        if (!record) return undefined;
        const next = change(record);
        records.set(id, next);
        history.push(next.notifications);
        return next;
      },
      log,
      backoffMs: options.backoffMs ?? 1,
      timeoutMs: 50,
      newId: () => `delivery-${++ids}`,
      fetch: async (url, init = {}) => {
        calls.push({ url: String(url), headers: init.headers as Record<string, string>, body: String(init.body) });
        return options.answer(calls.length, init);
      },
    },
  );
  return { notifier, records, calls, warnings, history };
}

const at = (seconds: number) => new Date(Date.UTC(2026, 10, 22, 10, 15, seconds));
const queued = (id = '20261122T101500123Z-1a2b3c4d') => newRecord({ id, image: 'hello', tag: 'latest', packages: ['hello'], arch: 'amd64', revision: 'r', trigger: 'api', instance: 'i' }, at(0));
const status = (record: BuildRecord, next: BuildStatus, seconds: number) => enterStatus(record, next, at(seconds));
const ok = (status = 204, statusText = 'No Content') => new Response(null, { status, statusText });

/** Runs the runner's part: the record enters a status, is stored, then the notifier hears of it. */
function enter(h: ReturnType<typeof harness>, record: BuildRecord): BuildRecord {
  const stored = h.records.get(record.id);
  const next = { ...record, notifications: stored?.notifications ?? [] };
  h.records.set(record.id, next);
  h.notifier.notify(next);
  return next;
}

describe('Notifier', () => {
  it('posts building and succeeded in order, signed, and records each delivery', async () => {
    const h = harness({ answer: () => ok() });
    const record = queued();
    enter(h, record);
    enter(h, status(record, 'evaluating', 1));
    const building = enter(h, status(status(record, 'evaluating', 1), 'building', 2));
    enter(h, succeed(building, { layers: [], manifestDigest: `sha256:${'b'.repeat(64)}` }, at(9)));
    await vi.waitFor(() => expect(h.records.get(record.id)?.notifications.map((entry) => entry.delivered)).toEqual([true, true]), { timeout: 5000, interval: 5 });
    await h.notifier.close();

    expect(h.calls.map((call) => call.headers['X-Nixyard-Event'])).toEqual(['build.building', 'build.succeeded']);
    for (const call of h.calls) {
      expect(call.url).toBe(RECEIVER);
      expect(verifySignature(SECRET, call.body, call.headers['X-Nixyard-Signature-256'])).toBe(true);
      expect(JSON.parse(call.body).build.status).toBe(call.headers['X-Nixyard-Event']?.replace('build.', ''));
    }
    expect(h.calls.map((call) => call.headers['X-Nixyard-Delivery'])).toEqual(['delivery-1', 'delivery-2']);
    expect(h.records.get(record.id)?.notifications).toEqual([
      { status: 'building', attempts: 1, delivered: true, lastAttemptAt: expect.any(String), lastResult: 'HTTP 204 No Content' },
      { status: 'succeeded', attempts: 1, delivered: true, lastAttemptAt: expect.any(String), lastResult: 'HTTP 204 No Content' },
    ]);
  });

  it('returns at once and shows the delivery pending in the record while the receiver has not answered', async () => {
    let answer: (response: Response) => void = () => {};
    const h = harness({ answer: () => new Promise<Response>((resolve) => (answer = resolve)) });
    const record = enter(h, fail(queued(), { code: 'NIX_BUILD_FAILED', message: 'x' }, at(3)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.records.get(record.id)?.notifications).toEqual([{ status: 'failed', attempts: 0, delivered: false, lastAttemptAt: null, lastResult: null }]);
    answer(ok(200, 'OK'));
    await h.notifier.close();
    expect(h.records.get(record.id)?.notifications[0]).toMatchObject({ attempts: 1, delivered: true, lastResult: 'HTTP 200 OK' });
  });

  it('retries 5xx, 429, timeouts and refused connections with the same delivery id and body, until delivered', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:80'), { code: 'ECONNREFUSED' });
    const h = harness({
      answer: (call, init) => {
        if (call === 1) throw new TypeError('fetch failed', { cause: refused });
        if (call === 2) return ok(503, 'Service Unavailable');
        if (call === 3) return ok(429, 'Too Many Requests');
        if (call === 4) return new Promise<Response>((_, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
        return ok();
      },
    });
    const record = enter(h, status(queued(), 'building', 1));
    await vi.waitFor(() => expect(h.records.get(record.id)?.notifications[0]?.delivered).toBe(true), { timeout: 5000, interval: 5 });
    await h.notifier.close();
    expect(h.calls).toHaveLength(5);
    expect(new Set(h.calls.map((call) => call.headers['X-Nixyard-Delivery']))).toEqual(new Set(['delivery-1']));
    expect(new Set(h.calls.map((call) => call.body)).size).toBe(1);
    expect(new Set(h.calls.map((call) => call.headers['X-Nixyard-Signature-256'])).size).toBe(1);
    expect(h.records.get(record.id)?.notifications).toEqual([{ status: 'building', attempts: 5, delivered: true, lastAttemptAt: expect.any(String), lastResult: 'HTTP 204 No Content' }]);
  });

  it('records what each attempt got and when the next one comes', async () => {
    const h = harness({ answer: (call) => (call < 3 ? ok(502, 'Bad Gateway') : ok()) });
    const record = enter(h, status(queued(), 'building', 1));
    await vi.waitFor(() => expect(h.records.get(record.id)?.notifications[0]?.delivered).toBe(true), { timeout: 5000, interval: 5 });
    await h.notifier.close();
    expect(h.history.map((notifications) => notifications.map(({ attempts, delivered, lastResult }) => ({ attempts, delivered, lastResult })))).toEqual([
      [{ attempts: 0, delivered: false, lastResult: null }],
      [{ attempts: 1, delivered: false, lastResult: 'HTTP 502 Bad Gateway (next attempt in 1ms)' }],
      [{ attempts: 2, delivered: false, lastResult: 'HTTP 502 Bad Gateway (next attempt in 2ms)' }],
      [{ attempts: 3, delivered: true, lastResult: 'HTTP 204 No Content' }],
    ]);
  });

  it('does not retry a refusal (4xx) and gives up after NIXYARD_NOTIFY_ATTEMPTS', async () => {
    const refusing = harness({ answer: () => ok(401, 'Unauthorized') });
    const one = enter(refusing, status(queued(), 'building', 1));
    await vi.waitFor(() => expect(refusing.records.get(one.id)?.notifications[0]?.attempts).toBe(1), { timeout: 5000, interval: 5 });
    await refusing.notifier.close();
    expect(refusing.calls).toHaveLength(1);
    expect(refusing.records.get(one.id)?.notifications[0]).toMatchObject({ attempts: 1, delivered: false, lastResult: 'HTTP 401 Unauthorized (not retried)' });
    expect(refusing.warnings).toEqual(['build notification not delivered']);

    const down = harness({ answer: () => ok(500, 'Internal Server Error'), attempts: 3 });
    const two = enter(down, status(queued(), 'building', 1));
    await vi.waitFor(() => expect(down.records.get(two.id)?.notifications[0]?.lastResult).toContain('gave up'), { timeout: 5000, interval: 5 });
    await down.notifier.close();
    expect(down.calls).toHaveLength(3);
    expect(down.records.get(two.id)?.notifications[0]).toMatchObject({ attempts: 3, delivered: false, lastResult: 'HTTP 500 Internal Server Error (gave up after 3 attempts)' });
  });

  it('sends the statuses that matter only', async () => {
    const h = harness({ answer: () => ok() });
    let record = queued();
    enter(h, record);
    for (const next of ['evaluating', 'building', 'packing', 'uploading'] as const) record = enter(h, status(record, next, 1));
    const cancelled = queued('20261122T101500123Z-00000001');
    enter(h, fail(cancelled, { code: 'BUILD_CANCELLED', message: 'x' }, at(2), 'cancelled'));
    await vi.waitFor(() => expect(h.calls).toHaveLength(2), { timeout: 5000, interval: 5 });
    await h.notifier.close();
    expect(h.calls.map((call) => call.headers['X-Nixyard-Event']).sort()).toEqual(['build.building', 'build.cancelled']);
  });

  it('keeps one build waiting on its receiver from holding up another build', async () => {
    const h = harness({ answer: (_, init) => (String(init.body).includes('"failed"') ? ok() : ok(503, 'Service Unavailable')) });
    h.notifier.notify(status(queued(), 'building', 1));
    const other = enter(h, fail(queued('20261122T101500123Z-00000002'), { code: 'NIX_BUILD_FAILED', message: 'x' }, at(2)));
    await vi.waitFor(() => expect(h.records.get(other.id)?.notifications[0]?.delivered).toBe(true), { timeout: 5000, interval: 5 });
    await h.notifier.close();
  });

  it('close() stops the waits between attempts, says so in the record, and ignores later statuses', async () => {
    const h = harness({ answer: () => ok(503, 'Service Unavailable'), backoffMs: 60 * 60 * 1000 });
    const building = enter(h, status(queued(), 'building', 1));
    const failed = fail(building, { code: 'NIX_BUILD_FAILED', message: 'x' }, at(2));
    enter(h, failed);
    await vi.waitFor(() => expect(h.records.get(building.id)?.notifications[0]?.attempts).toBe(1), { timeout: 5000, interval: 5 });
    await h.notifier.close();
    expect(h.records.get(building.id)?.notifications).toEqual([
      { status: 'building', attempts: 1, delivered: false, lastAttemptAt: expect.any(String), lastResult: 'HTTP 503 Service Unavailable (no more attempts: nixyard stopped)' },
      { status: 'failed', attempts: 0, delivered: false, lastAttemptAt: null, lastResult: 'not sent: nixyard stopped first' },
    ]);
    h.notifier.notify(status(queued('20261122T101500123Z-00000003'), 'building', 1));
    await h.notifier.close();
    expect(h.calls).toHaveLength(1);
  });

  it('logs a record it cannot change and goes on delivering', async () => {
    const h = harness({ answer: () => ok(), amendFails: true });
    h.notifier.notify(status(queued(), 'building', 1));
    await vi.waitFor(() => expect(h.calls).toHaveLength(1), { timeout: 5000, interval: 5 });
    await h.notifier.close();
    expect(h.warnings).toEqual(['could not record a notification delivery', 'could not record a notification delivery']);
  });
});
