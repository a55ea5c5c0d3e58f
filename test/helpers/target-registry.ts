/**
 * TEST HELPER: Debian's reference registry (`docker-registry`, distribution 2.8) on 127.0.0.1 as
 * a push target: plain HTTP, or with htpasswd users and TLS from a self-signed certificate (its
 * own CA). Its log says which blobs were uploaded (the final PUT of each upload names the digest)
 * and how many bytes each request body carried.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { selfSignedCertificate } from '../../src/http/tls.js';
import { writeHtpasswd } from './htpasswd.js';
import { freePort, requireTool } from './tools.js';

/** A running target registry. */
export interface TargetRegistry {
  /** `127.0.0.1:PORT`: the registry part of push targets. */
  host: string;
  /** `http://…` or `https://…`. */
  url: string;
  /** Its storage directory. */
  storage: string;
  /** The PEM certificate to trust (TLS only). */
  ca: string | undefined;
  /** The user and password that may push (htpasswd only). */
  user: { name: string; password: string } | undefined;
  /** Digests of the blobs uploaded since `since` log characters (uploads, not cross-repo mounts). */
  uploadedBlobs(since?: number): Promise<string[]>;
  /** Characters of the log so far (a mark for `uploadedBlobs`). */
  logLength(): Promise<number>;
  /** `fetch` options that reach it (TLS: its certificate trusted; htpasswd: its user). */
  get(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** Starts `docker-registry serve` with `options` (`readOnly`: it refuses every write; `sameStorageAs`: it serves that registry's storage). */
export async function startTargetRegistry(options: { tls?: boolean; htpasswd?: boolean; readOnly?: boolean; sameStorageAs?: TargetRegistry } = {}): Promise<TargetRegistry> {
  const program = await requireTool('docker-registry', 'apt-get install -y docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'nixyard-target-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const user = options.htpasswd ? { name: 'pusher', password: `pw-${Math.random().toString(36).slice(2)}` } : undefined;
  const lines = ['version: 0.1', 'log:', '  level: info', '  accesslog:', '    disabled: false', 'storage:', '  filesystem:', `    rootdirectory: ${options.sameStorageAs?.storage ?? join(dir, 'data')}`, '  delete:', '    enabled: true', ...(options.readOnly ? ['  maintenance:', '    readonly:', '      enabled: true'] : []), 'http:', `  addr: ${host}`, '  secret: nixyard-test'];
  let ca: string | undefined;
  if (options.tls) {
    const material = selfSignedCertificate(['127.0.0.1', 'localhost']);
    await writeFile(join(dir, 'cert.pem'), material.cert);
    await writeFile(join(dir, 'key.pem'), material.key, { mode: 0o600 });
    lines.push('  tls:', `    certificate: ${join(dir, 'cert.pem')}`, `    key: ${join(dir, 'key.pem')}`);
    ca = material.cert;
  }
  if (user) {
    const file = await writeHtpasswd({ [user.name]: user.password });
    lines.push('auth:', '  htpasswd:', '    realm: nixyard-tests', `    path: ${file}`);
  }
  await writeFile(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const logFile = join(dir, 'registry.log');
  const child: ResultPromise = execa(program, ['serve', join(dir, 'config.yml')], { reject: false, stdout: { file: logFile }, stderr: { file: logFile }, detached: true });
  const url = `${options.tls ? 'https' : 'http'}://${host}`;
  const dispatcherOptions = ca ? await tlsInit(ca) : {};
  const authorization: Record<string, string> = user ? { Authorization: `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}` } : {};
  const get = (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, { ...init, ...dispatcherOptions, headers: { ...authorization, ...(init.headers as Record<string, string> | undefined) } });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answered = await get('/v2/').then((res) => res.status === 200 || res.status === 401, () => false);
    if (answered) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start on ${url}: ${await readFile(logFile, 'utf8').catch(() => '')}`);
    }
    await sleep(100);
  }
  const log = () => readFile(logFile, 'utf8');
  return {
    host,
    url,
    storage: options.sameStorageAs?.storage ?? join(dir, 'data'),
    ca,
    user,
    logLength: async () => (await log()).length,
    uploadedBlobs: async (since = 0) => {
      const text = (await log()).slice(since);
      const digests = [...text.matchAll(/"PUT \/v2\/[^ ]*\/blobs\/uploads\/[^ ]*[?&]digest=sha256%3A([0-9a-f]{64})[^ ]* HTTP\/[0-9.]+" 201/g)].map((match) => `sha256:${match[1]}`);
      return [...new Set(digests)];
    },
    get,
    close: async () => {
      child.kill('SIGTERM');
      await child;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Fetch options trusting `ca` (undici's Agent, which Node's fetch takes as its dispatcher). */
async function tlsInit(ca: string): Promise<RequestInit> {
  const { Agent } = await import('undici');
  return { dispatcher: new Agent({ connect: { ca } }) } as RequestInit;
}
