/**
 * TEST HELPER for the package-source tests: copies of the demo package set whose `hello` says
 * something else, a Nix that counts its builds, and what an image's layers contain.
 */
import { mkdtempSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import request from 'supertest';
import { createNix, type Nix } from '../../src/builder/nix.js';
import { DEMO_PKGS_PATH } from '../../src/paths.js';

/**
 * Writes a copy of `nix/demo` into `dir` whose `hello` prints `greeting` instead of
 * "Hello, world!". The copy builds like the original: the set reads the host's busybox by
 * absolute path and everything else relative to its own directory.
 */
export async function writeDemoSet(dir: string, greeting: string): Promise<void> {
  await cp(DEMO_PKGS_PATH, dir, { recursive: true });
  await setGreeting(dir, greeting);
}

/** Changes what `hello` prints in a demo set copy (any earlier greeting). */
export async function setGreeting(dir: string, greeting: string): Promise<void> {
  const file = join(dir, 'default.nix');
  const text = await readFile(file, 'utf8');
  const hello = /scripts\."bin\/hello" = "echo '[^']*'";/;
  if (!hello.test(text)) throw new Error(`${file}: no hello script to change`);
  await writeFile(file, text.replace(hello, `scripts."bin/hello" = "echo '${greeting}'";`));
}

/** The real Nix, counting `nix-build` runs: a pull that leaves `builds` alone was served from cache. */
export function countingNix(timeoutSeconds = 120): Nix & { builds: number } {
  const nix = createNix({ timeoutSeconds, rootsDir: mkdtempSync(join(tmpdir(), 'nixyard-roots-')) });
  const counted = {
    builds: 0,
    realise: (...args: Parameters<Nix['realise']>) => {
      counted.builds += 1;
      return nix.realise(...args);
    },
    closure: (...args: Parameters<Nix['closure']>) => nix.closure(...args),
    root: (...args: Parameters<Nix['root']>) => nix.root(...args),
    version: () => nix.version(),
    close: () => nix.close?.(),
  };
  return counted;
}

/** A Nix that must never be called: proves a server answered from the cache. */
export const forbiddenNix: Nix = {
  realise: async () => {
    throw new Error('this server must not run Nix');
  },
  closure: async () => {
    throw new Error('this server must not run Nix');
  },
  root: async () => {
    throw new Error('this server must not run Nix');
  },
  version: async () => 'no Nix (a test server that must not build)',
};

/** An image pulled by tag: its digest and the text of all its layers, uncompressed. */
export async function pullImage(registryUrl: string, name: string, tag: string): Promise<{ status: number; digest: string; text: string; body: string }> {
  const res = await request(registryUrl).get(`/v2/${name}/manifests/${tag}`).set('Accept', 'application/vnd.oci.image.manifest.v1+json');
  if (res.status !== 200) return { status: res.status, digest: '', text: '', body: res.text };
  const manifest = JSON.parse(res.text) as { layers: { digest: string }[] };
  const layers: string[] = [];
  for (const layer of manifest.layers) {
    const blob = await request(registryUrl).get(`/v2/${name}/blobs/${layer.digest}`).buffer(true).parse((response, done) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => done(null, Buffer.concat(chunks)));
    });
    layers.push(gunzipSync(blob.body as Buffer).toString('latin1'));
  }
  return { status: 200, digest: String(res.headers['docker-content-digest']), text: layers.join('\n'), body: res.text };
}
