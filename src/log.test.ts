import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, readableLine } from './log.js';

function collect(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { stream, text: () => text };
}

describe('the log', () => {
  it('writes JSON lines with level names, the message and the fields, at or above its level', () => {
    const out = collect();
    const log = createLogger({ level: 'info', format: 'json' }, out.stream);
    log.debug('not shown');
    log.warn('storage slow', { ms: 120, backend: 'gcs' });
    const lines = out.text().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toEqual({ level: 'warn', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), ms: 120, backend: 'gcs', msg: 'storage slow' });
  });

  it('writes readable lines: time, level, message, key=value (values with spaces quoted)', () => {
    const out = collect();
    createLogger({ format: 'pretty' }, out.stream).info('nixyard listening', { port: 8080, source: 'channel nixos-unstable' });
    expect(out.text()).toMatch(/^\d{4}-\d\d-\d\dT\S+ info nixyard listening port=8080 source="channel nixos-unstable"\n$/);
    expect(readableLine('{"level":"error","time":"2026-12-05T00:00:00.000Z","code":"UNAVAILABLE","msg":"request failed"}')).toBe('2026-12-05T00:00:00.000Z error request failed code=UNAVAILABLE\n');
  });
});
