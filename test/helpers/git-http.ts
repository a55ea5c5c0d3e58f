/**
 * TEST HELPER: bare git repositories served over smart HTTP on 127.0.0.1 (git's own
 * `git http-backend` behind a small Node server), behind Basic authentication, so that a test
 * can build from `http://user:token@127.0.0.1:PORT/app.git` and check the credentials are used
 * and shown nowhere.
 */
import { execa } from 'execa';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

/** A running server of the repositories under `root`. */
export interface GitHttpServer {
  /** `http://127.0.0.1:PORT` (add `/<repo>.git`, and credentials in front of the host). */
  base: string;
  /** Requests that came without the right credentials. */
  refused: number;
  close(): Promise<void>;
}

/** Serves the bare repositories in `root`; every request must carry Basic `user:password`. */
export async function startGitHttpServer(root: string, user: string, password: string): Promise<GitHttpServer> {
  const backend = join((await execa('git', ['--exec-path'])).stdout.trim(), 'git-http-backend');
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const state = { refused: 0 };
  const server: Server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      state.refused += 1;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const child = execa(backend, [], {
      env: {
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: user,
      },
      input: req,
      encoding: 'buffer',
      reject: false,
    });
    child.then(
      (result) => {
        // CGI: headers, a blank line, then the body.
        const output = Buffer.from(result.stdout as Uint8Array);
        const split = output.indexOf('\r\n\r\n');
        const head = output.subarray(0, split).toString('latin1');
        const headers: Record<string, string> = {};
        let status = 200;
        for (const line of head.split('\r\n')) {
          const [name, ...rest] = line.split(':');
          const value = rest.join(':').trim();
          if (name?.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
          else if (name) headers[name] = value;
        }
        res.writeHead(status, headers).end(output.subarray(split + 4));
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    base: `http://127.0.0.1:${port}`,
    get refused() {
      return state.refused;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
