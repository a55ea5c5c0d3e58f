// Pushes of built images to external registries through the real skopeo, to Debian's reference
// registry (docker-registry) on loopback: plain HTTP (listed in NIXYARD_PUSH_INSECURE), and with
// htpasswd users and TLS from a self-signed CA (NIXYARD_PUSH_CA_FILE, NIXYARD_PUSH_AUTH_FILE).
// The target stores the image under the build's digest; what it has is not sent again; wrong
// credentials, a target that is down, one that refuses the manifest and an untrusted certificate
// each fail the build with their code, and leave no tag at the target.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isFinal, type BuildRecord } from '../../src/builds/record.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { startTargetRegistry, type TargetRegistry } from '../helpers/target-registry.js';
import { freePort, requireTool } from '../helpers/tools.js';

type Server = Awaited<ReturnType<typeof startDemoServer>>;

async function submit(server: Server, body: unknown): Promise<{ status: number; body: BuildRecord & { errors?: { code: string; message: string }[] } }> {
  const res = await fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as BuildRecord & { errors?: { code: string; message: string }[] } };
}

async function ended(server: Server, id: string): Promise<BuildRecord> {
  return vi.waitFor(
    async () => {
      const record = (await (await fetch(`${server.url}/v1/builds/${id}`)).json()) as BuildRecord;
      if (!isFinal(record.status)) throw new Error(`build ${id} is ${record.status}`);
      return record;
    },
    { timeout: 120_000, interval: 200 },
  );
}

/** The digest the target serves for `repository:tag` (`undefined`: no such manifest). */
async function targetDigest(target: TargetRegistry, repository: string, tag: string): Promise<string | undefined> {
  const res = await target.get(`/v2/${repository}/manifests/${tag}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  await res.arrayBuffer();
  return res.status === 200 ? (res.headers.get('docker-content-digest') ?? undefined) : undefined;
}

async function authFile(entries: Record<string, { name: string; password: string }>): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'nixyard-auth-')), 'auth.json');
  const auths = Object.fromEntries(Object.entries(entries).map(([host, user]) => [host, { auth: Buffer.from(`${user.name}:${user.password}`).toString('base64') }]));
  await writeFile(file, JSON.stringify({ auths }), { mode: 0o600 });
  return file;
}

describe('pushes to external registries (real skopeo, real docker-registry)', () => {
  let plain: TargetRegistry;
  let secured: TargetRegistry;
  let readOnly: TargetRegistry;
  let server: Server;
  let untrusting: Server;
  let downPort: number;

  beforeAll(async () => {
    await requireTool('skopeo', 'apt-get install -y skopeo');
    [plain, secured] = await Promise.all([startTargetRegistry(), startTargetRegistry({ tls: true, htpasswd: true })]);
    // The same storage as `plain`, read-only: blobs pushed there are found, the manifest refused.
    readOnly = await startTargetRegistry({ readOnly: true, sameStorageAs: plain });
    downPort = await freePort();
    const caDir = await mkdtemp(join(tmpdir(), 'nixyard-ca-'));
    await writeFile(join(caDir, 'ca.pem'), secured.ca ?? '');
    const auth = await authFile({ [secured.host]: secured.user as { name: string; password: string } });
    server = await startDemoServer({ NIXYARD_PUSH_INSECURE: `${plain.host},${readOnly.host},127.0.0.1:${downPort}`, NIXYARD_PUSH_CA_FILE: join(caDir, 'ca.pem'), NIXYARD_PUSH_AUTH_FILE: auth });
    untrusting = await startDemoServer({ NIXYARD_PUSH_AUTH_FILE: auth });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([server?.close(), untrusting?.close()]);
    await Promise.all([plain?.close(), secured?.close(), readOnly?.close()]);
  });

  it('pushes the image under its own digest, then sends nothing the target already has', async () => {
    const first = await submit(server, { image: 'shell/hello', push: [`${plain.host}/acme/hello`, `${plain.host}/acme/pinned:v1`] });
    expect(first.status).toBe(202);
    expect(first.body.pushes?.map((push) => push.status)).toEqual(['pending', 'pending']);
    const done = await ended(server, first.body.id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.phases.map((phase) => phase.status)).toContain('pushing');
    const [hello, pinned] = done.pushes ?? [];
    expect(hello).toMatchObject({ to: `${plain.host}/acme/hello`, status: 'pushed', references: [`${plain.host}/acme/hello:latest`], digest: done.manifestDigest, error: null });
    expect(await targetDigest(plain, 'acme/hello', 'latest')).toBe(done.manifestDigest);
    expect(await targetDigest(plain, 'acme/pinned', 'v1')).toBe(done.manifestDigest);
    const imageBytes = done.layers.reduce((sum, layer) => sum + layer.size, 0);
    // Every layer went to the first repository; the second got them by cross-repository mount.
    expect(hello?.layersUploaded).toBe(done.layers.length);
    expect(hello?.bytesUploaded).toBeGreaterThan(imageBytes);
    expect(pinned).toMatchObject({ status: 'pushed', layersUploaded: 0 });
    expect(pinned?.bytesUploaded ?? Infinity).toBeLessThan(imageBytes / 10);

    const mark = await plain.logLength();
    const again = await submit(server, { image: 'shell/hello', push: [`${plain.host}/acme/hello:again`] });
    const repushed = await ended(server, again.body.id);
    expect(repushed.status).toBe('succeeded');
    expect(repushed.pushes?.[0]).toMatchObject({ status: 'pushed', digest: done.manifestDigest, layersUploaded: 0 });
    expect(repushed.pushes?.[0]?.bytesUploaded ?? Infinity).toBeLessThan(imageBytes / 10);
    expect(await plain.uploadedBlobs(mark)).toEqual([]);
  }, 180_000);

  it('pushes over TLS from a self-signed CA with htpasswd credentials; the credentials appear nowhere', async () => {
    const { body } = await submit(server, { image: 'hello', push: [`${secured.host}/team/hello:v2`] });
    const done = await ended(server, body.id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.pushes?.[0]).toMatchObject({ status: 'pushed', digest: done.manifestDigest, references: [`${secured.host}/team/hello:v2`] });
    expect(await targetDigest(secured, 'team/hello', 'v2')).toBe(done.manifestDigest);
    const log = await (await fetch(`${server.url}/v1/builds/${body.id}/logs`)).text();
    expect(log).toContain(`pushed ${secured.host}/team/hello:v2`);
    const password = secured.user?.password ?? '';
    expect(JSON.stringify(done) + log).not.toContain(password);
    expect(JSON.stringify(done) + log).not.toContain(Buffer.from(`${secured.user?.name}:${password}`).toString('base64'));
  }, 120_000);

  it('fails the build with the target and the registry’s words when the push cannot be made, leaving no tag there', async () => {
    const cases = [
      { image: undefined, to: `${secured.host}/team/nocreds:v1`, on: untrusting, code: 'PUSH_REFUSED', says: /TLS certificate of 127\.0\.0\.1:\d+ is not trusted; give its CA in NIXYARD_PUSH_CA_FILE/ },
      { image: undefined, to: `127.0.0.1:${downPort}/acme/hello:v1`, on: server, code: 'PUSH_UNREACHABLE', says: /could not be reached \(.*connection refused.*\); retry later/ },
      { image: 'shell/hello', to: `${readOnly.host}/acme/hello:v1`, on: server, code: 'PUSH_REFUSED', says: new RegExp(`refused by ${readOnly.host.replace(/\./g, '\\.')}: writing manifest: .*405`) },
    ];
    for (const { image, to, on, code, says } of cases) {
      const { body } = await submit(on, { image: image ?? 'hello', push: [to] });
      const done = await ended(on, body.id);
      expect(done, to).toMatchObject({ status: 'failed', error: { code }, pushes: [{ to, status: 'failed', digest: null }] });
      expect(done.error?.message, to).toMatch(says);
      expect(done.error?.message).toContain(`push to ${to}`);
    }
    expect(await targetDigest(secured, 'team/nocreds', 'v1')).toBeUndefined();
    expect(await targetDigest(readOnly, 'acme/hello', 'v1')).toBeUndefined();
  }, 180_000);

  it('refuses wrong credentials with PUSH_UNAUTHORIZED and an invalid target at once with PARAMETER_INVALID', async () => {
    const wrong = await authFile({ [secured.host]: { name: 'pusher', password: 'not-the-password' } });
    const other = await startDemoServer({ NIXYARD_PUSH_AUTH_FILE: wrong, NIXYARD_PUSH_CA_FILE: join(await caFile(secured), 'ca.pem') });
    try {
      const { body } = await submit(other, { image: 'hello', push: [`${secured.host}/team/hello:wrong`] });
      const done = await ended(other, body.id);
      expect(done).toMatchObject({ status: 'failed', error: { code: 'PUSH_UNAUTHORIZED' } });
      expect(done.error?.message).toMatch(/did not accept the credentials NIXYARD_PUSH_AUTH_FILE has for it .*unauthorized/);
      expect(done.error?.message).not.toContain('not-the-password');
      expect(await targetDigest(secured, 'team/hello', 'wrong')).toBeUndefined();

      for (const to of ['acme/hello', 'https://ghcr.io/acme/web', 'ghcr.io/Acme/web', 'ghcr.io/acme/web@sha256:00']) {
        const refused = await submit(other, { image: 'hello', push: [to] });
        expect(refused.status, to).toBe(400);
        expect(refused.body.errors?.[0]?.code).toBe('PARAMETER_INVALID');
        expect(refused.body.errors?.[0]?.message).toContain(`push target ${JSON.stringify(to)}`);
      }
    } finally {
      await other.close();
    }
  }, 120_000);
});

async function caFile(target: TargetRegistry): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nixyard-ca-'));
  await writeFile(join(dir, 'ca.pem'), target.ca ?? '');
  return dir;
}
