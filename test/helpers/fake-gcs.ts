/**
 * TEST HELPER: a real GCS emulator (fsouza/fake-gcs-server) on a loopback port, with buckets
 * made on demand, and a throwaway service-account key so that V4 URLs are really signed.
 */
import { execa, type ResultPromise } from 'execa';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdtemp, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool, freePort } from './tools.js';

const INSTALL_HINT = 'go install github.com/fsouza/fake-gcs-server@v1.56.1 (or run scripts/install-deps.sh)';

/** A running emulator. */
export interface FakeGcs {
  /** API endpoint and public host: `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Creates a bucket with a unique name and returns the name. */
  createBucket(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts fake-gcs-server with in-memory storage; fails with an install hint when it is missing. */
export async function startFakeGcs(): Promise<FakeGcs> {
  const goBin = join(homedir(), 'go', 'bin', 'fake-gcs-server');
  const binary = (await findTool('fake-gcs-server')) ?? (await access(goBin, constants.X_OK).then(() => goBin, () => undefined));
  if (!binary) throw new Error(`fake-gcs-server not found: install it with ${INSTALL_HINT}`);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ResultPromise = execa(binary, ['-scheme', 'http', '-host', '127.0.0.1', '-port', String(port), '-public-host', `127.0.0.1:${port}`, '-backend', 'memory', '-log-level', 'error'], {
    reject: false,
    all: true,
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${endpoint}/storage/v1/b`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`fake-gcs-server did not start on ${endpoint}: ${String((await child).all ?? '')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint,
    async createBucket() {
      const name = `nixyard-test-${randomUUID().slice(0, 8)}`;
      const response = await fetch(`${endpoint}/storage/v1/b?project=test`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
      if (!response.ok) throw new Error(`could not create bucket ${name}: ${response.status} ${await response.text()}`);
      return name;
    },
    async stop() {
      child.kill('SIGTERM');
      await child;
    },
  };
}

/** Writes a service-account key file with a fresh RSA key (never sent anywhere; it only signs URLs). */
export async function writeServiceAccountKey(): Promise<string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(await mkdtemp(join(tmpdir(), 'nixyard-sa-')), 'key.json');
  await writeFile(
    file,
    JSON.stringify({
      type: 'service_account',
      project_id: 'nixyard-test',
      private_key_id: 'test-key',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: 'nixyard-test@nixyard-test.iam.gserviceaccount.com',
      client_id: '1',
      token_uri: 'http://127.0.0.1:9/token',
    }),
  );
  return file;
}
