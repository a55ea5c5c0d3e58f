/**
 * TEST HELPER: an HTTP proxy on loopback in front of another server (the GCS emulator). It can
 * slow upload bodies down, and it records every request it forwards.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

/** A running proxy. */
export interface Proxy {
  url: string;
  /** Upload body bytes forwarded so far. */
  uploaded(): number;
  /** Method and path of every request forwarded. */
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

/** Starts a proxy to `target`; `uploadBytesPerSecond` throttles `/upload/` request bodies. */
export async function startProxy(target: string, options: { uploadBytesPerSecond?: number } = {}): Promise<Proxy> {
  const upstream = new URL(target);
  const requests: Proxy['requests'] = [];
  let uploaded = 0;
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '' });
    const isUpload = (req.url ?? '').startsWith('/upload/');
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.on('error', () => forward.destroy());
    const rate = options.uploadBytesPerSecond;
    const throttle = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (isUpload) uploaded += chunk.length;
        const delay = isUpload && rate ? (chunk.length / rate) * 1000 : 0;
        setTimeout(() => callback(null, chunk), delay);
      },
    });
    req.pipe(throttle).pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    uploaded: () => uploaded,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
