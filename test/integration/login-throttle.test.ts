/**
 * A flood of wrong passwords: after a few failures the user and the client wait (429 with
 * Retry-After) and their passwords are not checked meanwhile, so 100 wrong passwords in a row
 * cost a handful of bcrypt checks, and one log line.
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { capturedLog } from '../helpers/captured-log.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { writeHtpasswd } from '../helpers/htpasswd.js';
import { forbiddenNix } from '../helpers/package-sets.js';

/** The value of a counter series in the Prometheus text of `/metrics` (0 when absent). */
async function counter(url: string, series: string): Promise<number> {
  const text = (await request(url).get('/metrics')).text;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('failed logins', () => {
  it('100 wrong passwords in a row get a few bcrypt checks, then 429 with Retry-After, and one log line', async () => {
    const { log, withMessage } = capturedLog();
    const htpasswd = await writeHtpasswd({ alice: 'right', bob: 'also-right' });
    const server = await startDemoServer({ NIXYARD_HTPASSWD: htpasswd, NIXYARD_TRUST_PROXY: 'loopback' }, { nix: forbiddenNix, log });
    try {
      const checksBefore = await counter(server.url, 'nixyard_password_checks_total{outcome="wrong"}');
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 100; i++) {
        const res = await request(server.url).get('/token?service=nixyard&scope=repository:hello:pull').auth('alice', `guess-${i}`).set('X-Forwarded-For', '203.0.113.7');
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers['retry-after'] as string;
      }
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(statuses.slice(5).every((status) => status === 429)).toBe(true);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect((await counter(server.url, 'nixyard_password_checks_total{outcome="wrong"}')) - checksBefore).toBe(5);
      expect(withMessage('login failed')).toEqual([expect.objectContaining({ level: 'warn', user: 'alice', client: '203.0.113.7' })]);

      // The right password waits too (no check while throttled), with the OCI error naming why.
      const waiting = await request(server.url).get('/token?service=nixyard').auth('alice', 'right').set('X-Forwarded-For', '203.0.113.7');
      expect(waiting.status).toBe(429);
      expect(waiting.body.errors[0]).toMatchObject({ code: 'TOOMANYREQUESTS', message: expect.stringMatching(/too many failed logins .* try again in \d+ s/) });
      // Another user from another address is not held up by them.
      const other = await request(server.url).get('/token?service=nixyard').auth('bob', 'also-right').set('X-Forwarded-For', '198.51.100.2');
      expect(other.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
