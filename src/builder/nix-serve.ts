/**
 * Questions about store paths answered by one long-lived `nix-store --serve`, the process Nix's
 * own ssh:// stores talk to over stdin and stdout, instead of a `nix path-info` per build: each
 * Nix command starts in ~20 ms (mostly loading Nix's libraries), its answer takes well under one.
 *
 * The serve protocol (Nix's serve-protocol.hh, stable since Nix 2.0): numbers are 64-bit little
 * endian, a string is its length then its bytes padded with zeros to 8, a list is its count then
 * its items. The client says MAGIC_1, the server MAGIC_2 and its version, the client its version;
 * then each command is its number and arguments, answered in order. The process is started on
 * first use, asked one command at a time, and started again after it fails or is stopped.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { StorePathInfo } from '../layers/types.js';
import { Semaphore } from '../concurrency.js';

const SERVE_MAGIC_1 = 0x390c9deb;
const SERVE_MAGIC_2 = 0x5452eecb;
/** 2.4: path infos carry the NAR hash (every Nix since 2.0 speaks it). */
const CLIENT_VERSION = 0x204;
const COMMAND = { queryPathInfos: 2, queryClosure: 7 } as const;

/** A request's bytes: numbers, strings and lists of strings in the protocol's encoding. */
export function encode(...items: (number | string | readonly string[])[]): Buffer {
  const parts: Buffer[] = [];
  const number = (value: number) => {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(BigInt(value));
    parts.push(bytes);
  };
  const string = (value: string) => {
    const bytes = Buffer.from(value, 'utf8');
    number(bytes.length);
    parts.push(bytes, Buffer.alloc((8 - (bytes.length % 8)) % 8));
  };
  for (const item of items) {
    if (typeof item === 'number') number(item);
    else if (typeof item === 'string') string(item);
    else {
      number(item.length);
      item.forEach(string);
    }
  }
  return Buffer.concat(parts);
}

/** Reads the protocol's items from bytes as they arrive; a read waits until its bytes are there. */
export class WireReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { bytes: number; resolve: () => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  /** Bytes from the other side. */
  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.waiting && this.buffer.length >= this.waiting.bytes) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve();
    }
  }

  /** No more bytes will come: reads that cannot complete reject with `error`. */
  fail(error: Error): void {
    this.failure = error;
    this.waiting?.reject(error);
    this.waiting = undefined;
  }

  async number(): Promise<number> {
    const value = (await this.take(8)).readBigUInt64LE();
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`nix-store --serve sent a number too large to be a size or count: ${value}`);
    return Number(value);
  }

  async string(): Promise<string> {
    const length = await this.number();
    return (await this.take(length + ((8 - (length % 8)) % 8))).toString('utf8', 0, length);
  }

  async strings(): Promise<string[]> {
    const count = await this.number();
    const items: string[] = [];
    for (let i = 0; i < count; i++) items.push(await this.string());
    return items;
  }

  private async take(bytes: number): Promise<Buffer> {
    if (this.buffer.length < bytes) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => {
        this.waiting = { bytes, resolve, reject };
      });
    }
    const taken = this.buffer.subarray(0, bytes);
    this.buffer = this.buffer.subarray(bytes);
    return taken;
  }
}

/** Reads a `queryPathInfos` answer: path infos until an empty path. */
export async function readPathInfos(reader: WireReader): Promise<StorePathInfo[]> {
  const infos: StorePathInfo[] = [];
  for (let path = await reader.string(); path !== ''; path = await reader.string()) {
    await reader.string(); // deriver
    const references = await reader.strings();
    await reader.number(); // download size
    const narSize = await reader.number();
    const narHash = await reader.string();
    await reader.string(); // content address
    await reader.strings(); // signatures
    infos.push({ path, narSize, references, ...(narHash ? { narHash } : {}) });
  }
  return infos;
}

/** One connection: the process and what reads its answers. */
interface Connection {
  child: ChildProcessWithoutNullStreams;
  reader: WireReader;
  /** The end of Nix's stderr, for the message when it fails. */
  stderr: () => string;
}

/** A `nix-store --serve` started on first use. */
export class NixServe {
  private connection: Connection | undefined;
  /** One command at a time: answers come in order on one stream. */
  private readonly turn = new Semaphore(1);

  constructor(private readonly options: { timeoutMs: number; command?: string }) {}

  /** The closure of `paths` (which must be valid) with sizes, references and NAR hashes. */
  closure(paths: readonly string[], signal?: AbortSignal): Promise<StorePathInfo[]> {
    return this.ask(signal, async ({ child, reader }) => {
      child.stdin.write(encode(COMMAND.queryClosure, 0, paths));
      const closure = await reader.strings();
      child.stdin.write(encode(COMMAND.queryPathInfos, closure));
      return readPathInfos(reader);
    });
  }

  /** Ends the process (it exits when its input ends). */
  close(): void {
    this.connection?.child.stdin.end();
    this.connection = undefined;
  }

  private async ask<T>(signal: AbortSignal | undefined, question: (connection: Connection) => Promise<T>): Promise<T> {
    const release = await this.turn.acquire(signal);
    if (signal?.aborted) {
      release();
      throw signal.reason;
    }
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const cutShort = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`nix-store --serve did not answer within ${this.options.timeoutMs / 1000} s`)), this.options.timeoutMs);
      onAbort = () => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([(async () => question(this.connection ?? (await this.connect())))(), cutShort]);
    } catch (error) {
      // A question cut short or failed leaves its answer half read: the process is not reused.
      this.kill();
      throw error;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      release();
    }
  }

  private async connect(): Promise<Connection> {
    const command = this.options.command ?? 'nix-store';
    const child = spawn(command, ['--serve'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const reader = new WireReader();
    let stderr = '';
    const connection: Connection = { child, reader, stderr: () => stderr.trim().split('\n').slice(-3).join(' ') };
    this.connection = connection;
    child.stdout.on('data', (chunk: Buffer) => reader.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    child.stdin.on('error', () => undefined); // the exit says why
    child.on('error', (error) => reader.fail(new Error(`${command} --serve could not start: ${error.message}; install Nix (apt-get install -y nix-bin)`)));
    child.on('exit', (code, signal) => {
      if (this.connection === connection) this.connection = undefined;
      reader.fail(new Error(`${command} --serve ended (${signal ?? `exit ${code}`})${connection.stderr() ? `: ${connection.stderr()}` : ''}`));
    });
    // The registry does not wait for it to exit.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    child.stdin.write(encode(SERVE_MAGIC_1));
    if ((await reader.number()) !== SERVE_MAGIC_2) throw new Error(`${command} --serve does not speak Nix's serve protocol`);
    await reader.number(); // the server's version: every one since Nix 2.0 answers what is asked here
    child.stdin.write(encode(CLIENT_VERSION));
    return connection;
  }

  /** Ends the current process at once, if there is one. */
  private kill(): void {
    this.connection?.child.kill('SIGKILL');
    this.connection = undefined;
  }
}
