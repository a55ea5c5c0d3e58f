/**
 * The server's log, on pino: one event per line, JSON (for log collectors, the default when
 * stderr is not a terminal) or readable `time level message key=value…` lines (a terminal, or
 * NIXYARD_LOG_FORMAT=pretty). Parts of the program log through the small {@link Logger}
 * interface; the HTTP request log (`http/request-log.ts`) uses the pino logger underneath.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Where the server's log lines go. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger with the pino logger it writes through. */
export interface ServerLogger extends Logger {
  readonly pino: PinoLogger;
}

/** Fields that pino writes itself, left out of readable lines. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function formatValue(value: unknown): string {
  return typeof value === 'string' && value !== '' && !/\s/.test(value) ? value : JSON.stringify(value);
}

/** One JSON log line of pino as a readable line. */
export function readableLine(json: string): string {
  const event = JSON.parse(json) as Record<string, unknown>;
  const level = String(event['level']);
  const rest = Object.entries(event)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(' ');
  return `${String(event['time'])} ${level} ${String(event['msg'] ?? '')}${rest ? ` ${rest}` : ''}\n`;
}

/** A pino destination writing readable lines to `stream`. */
function readableDestination(stream: NodeJS.WritableStream): { write(line: string): void } {
  return { write: (line) => void stream.write(readableLine(line)) };
}

function wrap(logger: PinoLogger): ServerLogger {
  return {
    pino: logger,
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}

/**
 * A logger at `level` writing to `stream` (stderr by default): JSON lines, or readable ones
 * with `format: 'pretty'`; without a format, readable on a terminal and JSON otherwise.
 */
export function createLogger(options: { level?: LogLevel; format?: LogFormat } = {}, stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): ServerLogger {
  const format = options.format ?? (stream.isTTY ? 'pretty' : 'json');
  // Level names, not numbers: `"level":"warn"` is what log collectors and people filter on.
  const settings = { level: options.level ?? 'info', base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } };
  if (format === 'pretty') return wrap(pino(settings, readableDestination(stream)));
  // Asynchronous writes to stderr: lines logged while one write is under way go out together
  // (a request line per request costs 8 % of the warm manifest requests/s when each is its own
  // write); pino flushes what is pending when the process exits.
  return wrap(pino(settings, stream === process.stderr ? pino.destination({ dest: 2, sync: false }) : stream));
}

/** A logger that drops everything (for tests that do not look at logs). */
export const silentLogger: ServerLogger = wrap(pino({ level: 'silent' }));
