/**
 * What the commands that drive a running registry share: writing to streams, JSON output, and
 * turning the API client's failures into a message and an exit code.
 */
import { BuildsApiError, RegistryUnreachableError, type BuildsClient } from './builds-client.js';

/** Exit codes of `nixyard builds` and `nixyard apps` (also in their usage texts). */
export const EXIT = {
  /** Done; for a followed build: it succeeded. */
  ok: 0,
  /** The followed build failed or was cancelled. */
  buildFailed: 1,
  /** Unknown command or option, a missing or extra argument, a bad value. */
  usage: 2,
  /** The registry answered with an error (printed as `nixyard: CODE: message`). */
  registryError: 3,
  /** The registry could not be reached, or the connection broke. */
  unreachable: 4,
} as const;

/** The options every command that drives a registry takes (as `parseArgs` declares them). */
export const COMMON_OPTIONS = {
  registry: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Writes `text` to `stream`, resolving once it is written. */
export function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (text === '') return Promise.resolve();
  return new Promise((done, fail) => stream.write(text, (error) => (error ? fail(error) : done())));
}

export const isTTY = (stream: NodeJS.WritableStream): boolean => (stream as { isTTY?: boolean }).isTTY === true;
export const asJson = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/**
 * The exit code of a failure of the client, said on `stderr`: an error answer (code and message,
 * and how to give credentials on a 401), or a registry that cannot be reached. Anything else is
 * thrown again.
 */
export async function reportFailure(error: unknown, client: BuildsClient, stderr: NodeJS.WritableStream): Promise<number> {
  if (error instanceof BuildsApiError) {
    let text = `nixyard: ${error.code}: ${error.message || error.code}\n`;
    if (error.status === 401) text += `nixyard: the registry at ${client.registry} needs credentials: set NIXYARD_TOKEN, or NIXYARD_USERNAME and NIXYARD_PASSWORD\n`;
    await write(stderr, text);
    return EXIT.registryError;
  }
  if (error instanceof RegistryUnreachableError) {
    await write(stderr, `nixyard: ${error.message}\nnixyard: is it running? name the registry with --registry URL (or NIXYARD_REGISTRY)\n`);
    return EXIT.unreachable;
  }
  throw error;
}
