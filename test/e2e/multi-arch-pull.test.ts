// Multi-arch end to end: the demo set built for amd64 and arm64 (arm64 from Debian's arm64
// busybox-static, packed on this amd64 machine), served as an OCI index that skopeo and docker
// consume; the arm64 image's layers hold aarch64 ELF binaries, the amd64 one's x86-64.
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerPull, dockerRemoveImages, dockerRun, ensureDocker, runTool, expectSuccess } from '../helpers/docker.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { requireTool } from '../helpers/tools.js';

/** ELF e_machine values. */
const EM_X86_64 = 0x3e;
const EM_AARCH64 = 0xb7;

/** e_machine of every ELF file in a gzip layer tarball. */
async function elfMachines(layer: Buffer): Promise<Map<string, number>> {
  const machines = new Map<string, number>();
  const reader = extract();
  const done = (async () => {
    for await (const entry of reader) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      if (entry.header.type === 'file' && bytes.length > 20 && bytes.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
        machines.set(entry.header.name, bytes.readUInt16LE(18));
      }
    }
  })();
  Readable.from([gunzipSync(layer)]).pipe(reader);
  await done;
  return machines;
}

/** All ELF machines found in the layers of a `skopeo copy … dir:` result. */
async function imageElfMachines(dir: string): Promise<{ architecture: string; machines: Set<number>; elfCount: number }> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  const config = JSON.parse(await readFile(join(dir, manifest.config.digest.slice(7)), 'utf8')) as { architecture: string };
  const machines = new Set<number>();
  let elfCount = 0;
  for (const layer of manifest.layers) {
    for (const machine of (await elfMachines(await readFile(join(dir, layer.digest.slice(7))))).values()) {
      machines.add(machine);
      elfCount += 1;
    }
  }
  return { architecture: config.architecture, machines, elfCount };
}

describe('multi-arch images from the demo set', () => {
  let server: Awaited<ReturnType<typeof startDemoServer>>;
  const pulled: string[] = [];
  beforeAll(async () => {
    await requireTool('skopeo', 'apt-get install -y skopeo');
    await ensureDocker();
    server = await startDemoServer({ NIXYARD_ARCHITECTURES: 'amd64,arm64' });
  });
  afterAll(async () => {
    await dockerRemoveImages(pulled);
    await server?.close();
  });

  it('skopeo inspect --raw shows an OCI index with amd64 and arm64', async () => {
    const raw = await runTool('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${server.host}/shell/hello:latest`]);
    expectSuccess(raw, 'skopeo inspect --raw');
    const index = JSON.parse(raw.stdout) as { mediaType: string; manifests: { platform: { architecture: string } }[] };
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests.map((entry) => entry.platform.architecture)).toEqual(['amd64', 'arm64']);
  });

  it('skopeo copy --override-arch picks each platform: aarch64 ELF binaries in arm64 layers, x86-64 in amd64', async () => {
    for (const [arch, machine] of [['arm64', EM_AARCH64], ['amd64', EM_X86_64]] as const) {
      const dir = await mkdtemp(join(tmpdir(), `nixyard-${arch}-`));
      const copy = await runTool('skopeo', ['copy', '--override-arch', arch, '--src-tls-verify=false', `docker://${server.host}/shell/hello:latest`, `dir:${dir}`]);
      expectSuccess(copy, `skopeo copy --override-arch ${arch}`);
      expect(await readdir(dir)).toContain('manifest.json');
      const found = await imageElfMachines(dir);
      expect(found.architecture).toBe(arch);
      expect(found.elfCount).toBeGreaterThan(0);
      expect([...found.machines]).toEqual([machine]);
    }
  });

  it('docker on this amd64 host pulls the index and runs the amd64 image', async () => {
    const reference = `${server.host}/shell/hello:latest`;
    pulled.push(reference);
    expectSuccess(await dockerPull(reference), 'docker pull');
    const run = await dockerRun(reference, ['hello']);
    expectSuccess(run, 'docker run');
    expect(run.stdout.trim()).toBe('Hello, world!');
  });
});
