/** A pass-through stream that hashes and counts what flows through it. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Pass-through transform exposing the sha256 digest and byte count once the stream ended. */
export class HashStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private result: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.result = `sha256:${this.hash.digest('hex')}`;
    callback();
  }

  /** `sha256:hex` of everything that passed; only valid after the stream ended. */
  get digest(): string {
    if (this.result === undefined) throw new Error('HashStream digest read before the stream ended');
    return this.result;
  }

  /** Bytes that passed through. */
  get size(): number {
    return this.bytes;
  }
}
