/** A small structured logger: one line per event, `level message key=value…`. */

/** Where the server's log lines go. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function format(level: string, message: string, fields: Record<string, unknown> = {}): string {
  const rest = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${new Date().toISOString()} ${level} ${message}${rest ? ` ${rest}` : ''}\n`;
}

/** A logger writing to `stream` (stderr by default). */
export function createLogger(stream: NodeJS.WritableStream = process.stderr): Logger {
  return {
    info: (message, fields) => stream.write(format('info', message, fields)),
    warn: (message, fields) => stream.write(format('warn', message, fields)),
    error: (message, fields) => stream.write(format('error', message, fields)),
  };
}

/** A logger that drops everything (for tests that do not look at logs). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
