/** A pass-through stream that counts the bytes of an upload. */
import { Transform } from 'node:stream';

/** A counting pass-through and a reader of its count. */
export function byteCounter(): { stream: Transform; bytes: () => number } {
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, bytes: () => bytes };
}
