/** TEST HELPER: a server logger (JSON lines, every level) whose events the test reads. */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';

export function capturedLog() {
  const events: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.startsWith('{')) events.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return {
    log: createLogger({ format: 'json', level: 'debug' }, stream),
    events,
    /** The events with message `msg`. */
    withMessage: (msg: string) => events.filter((event) => event['msg'] === msg),
    requests: () => events.filter((event) => event['msg'] === 'request'),
  };
}
