/** TEST HELPER: serves a request handler (an express app) on a free port of 127.0.0.1. */
import { createServer, type RequestListener } from 'node:http';

/** A running server and how to reach and stop it. */
export interface Served {
  port: number;
  /** `127.0.0.1:PORT`, the registry host in image references. */
  host: string;
  /** Stops accepting connections, drops open ones and resolves when the server is closed. */
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 with an ephemeral port. */
export async function listen(app: RequestListener): Promise<Served> {
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`unexpected server address ${String(address)}`);
  const { port } = address;
  return {
    port,
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
