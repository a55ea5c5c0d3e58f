import { describe, expect, it } from 'vitest';
import { CappedLog, omissionMarker } from './capped-log.js';

describe('CappedLog', () => {
  it('keeps everything under the cap and hands followers what they have not seen', () => {
    const log = new CappedLog(1600);
    log.append('one\n');
    expect(log.since(0)).toBe('one\n');
    log.append('two\n');
    expect(log.since(4)).toBe('two\n');
    expect(log.snapshot()).toEqual({ text: 'one\ntwo\n', total: 8 });
    expect(log.since(8)).toBe('');
  });

  it('keeps the head and the tail of a long log with one marker for the dropped middle', () => {
    const log = new CappedLog(160); // head 10, tail 150
    const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, '0')}\n`);
    for (const line of lines) log.append(line);
    const all = lines.join('');
    expect(log.total).toBe(all.length);
    expect(log.omitted).toBe(all.length - 160);
    expect(log.snapshot().text).toBe(all.slice(0, 10) + omissionMarker(all.length - 160) + all.slice(-150));
  });

  it('gives a follower that fell into the dropped middle the marker and then the tail', () => {
    const log = new CappedLog(160);
    const all = 'x'.repeat(1000);
    log.append(all);
    expect(log.since(5)).toBe('x'.repeat(5) + omissionMarker(1000 - 150 - 10) + 'x'.repeat(150));
    expect(log.since(500)).toBe(omissionMarker(1000 - 150 - 500) + 'x'.repeat(150));
    expect(log.since(900)).toBe('x'.repeat(100));
  });
});
