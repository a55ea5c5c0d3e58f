/**
 * The one place that turns thrown errors into responses: `{"errors":[{code,message,detail}]}`
 * with `Content-Type: application/json`. Unknown errors become `UNKNOWN`/500 with a message
 * and are logged; their internals are never sent to the client.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { describeError, ERROR_CODES, RegistryError, toRegistryError } from '../errors.js';
import type { Logger } from '../log.js';

/** Writes `error` as an OCI error response. */
export function sendError(res: Parameters<RequestHandler>[1], error: RegistryError): void {
  const body = JSON.stringify({ errors: [{ code: error.code, message: error.message, detail: error.detail ?? null }] });
  res.status(error.status).set(error.headers).type('application/json').send(body);
}

/** Express error middleware (last in the chain). */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const registryError = toRegistryError(error);
    res.locals.errorCode = registryError.code;
    if (registryError.status >= 500) {
      log.error('request failed', { method: req.method, path: req.originalUrl, code: registryError.code, requestId: res.locals.requestId, ...describeError(error) });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(res, registryError);
  };
}

/** Every code this registry can answer with, for documentation and tests. */
export const KNOWN_CODES = Object.keys(ERROR_CODES);
