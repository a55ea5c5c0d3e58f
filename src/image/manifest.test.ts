import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';
import { imageConfig, imageDocuments, manifestsFromStoredOci, sha256Digest } from './manifest.js';
import { MediaType } from './media-types.js';

const layers = [
  { digest: `sha256:${'1'.repeat(64)}`, size: 100, diff_id: `sha256:${'a'.repeat(64)}` },
  { digest: `sha256:${'2'.repeat(64)}`, size: 200, diff_id: `sha256:${'b'.repeat(64)}` },
];

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[{"y":2,"z":1}]},"b":1}');
  });
});

describe('imageConfig', () => {
  it('has the architecture, PATH, SSL_CERT_FILE, root’s HOME and diff_ids in layer order', () => {
    expect(imageConfig({ arch: 'arm64', layers, hasShell: false })).toEqual({
      architecture: 'arm64',
      os: 'linux',
      config: { Env: ['PATH=/bin:/usr/bin:/sbin:/usr/sbin', 'SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt', 'HOME=/root'] },
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diff_id) },
    });
  });
  it('runs bash by default when the image has a shell', () => {
    expect(imageConfig({ arch: 'amd64', layers, hasShell: true }).config).toMatchObject({ Cmd: ['bash'] });
  });
  it('runs as nonroot (numeric ids) with its home when asked', () => {
    const config = imageConfig({ arch: 'amd64', layers, hasShell: true, user: 'nonroot' }).config as { User: string; Env: string[] };
    expect(config.User).toBe('65532:65532');
    expect(config.Env).toContain('HOME=/home/nonroot');
  });
});

describe('imageDocuments', () => {
  const documents = imageDocuments({ arch: 'amd64', layers, hasShell: true });

  it('has golden bytes and digests', () => {
    expect(documents.config.body.toString()).toBe(
      '{"architecture":"amd64","config":{"Cmd":["bash"],"Env":["PATH=/bin:/usr/bin:/sbin:/usr/sbin","SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt","HOME=/root"]},' +
        `"os":"linux","rootfs":{"diff_ids":["sha256:${'a'.repeat(64)}","sha256:${'b'.repeat(64)}"],"type":"layers"}}`,
    );
    expect(documents.config.digest).toBe('sha256:07f4325375810594a2d8b7968582e5db924f1b830e148f190029b8fd574865cb');
    expect(documents.manifests.oci.digest).toBe('sha256:c2428ce960dd4710acf9985bf5c22cb29562b81eac00570ee84a60699d4cfcea');
    expect(documents.manifests.docker.digest).toBe('sha256:9b22e7ee8d815ef233c32c02c75f11b686d72b9448f4c8987d5fa10201160063');
  });

  it('digests are the sha256 of the exact bytes and mediaType matches the body', () => {
    for (const doc of [documents.manifests.oci, documents.manifests.docker]) {
      expect(doc.digest).toBe(sha256Digest(doc.body));
      expect(JSON.parse(doc.body.toString()).mediaType).toBe(doc.mediaType);
    }
    expect(documents.manifests.oci.mediaType).toBe(MediaType.ociManifest);
    expect(documents.manifests.docker.mediaType).toBe(MediaType.dockerManifest);
  });

  it('points both flavours at the same config and layers with their own media types', () => {
    const oci = JSON.parse(documents.manifests.oci.body.toString());
    const docker = JSON.parse(documents.manifests.docker.body.toString());
    expect(oci.config).toEqual({ mediaType: MediaType.ociConfig, digest: documents.config.digest, size: documents.config.body.length });
    expect(docker.config.mediaType).toBe(MediaType.dockerConfig);
    expect(oci.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([MediaType.ociLayerGzip, MediaType.ociLayerGzip]);
    expect(docker.layers.map((l: { digest: string }) => l.digest)).toEqual(layers.map((l) => l.digest));
  });

  it('re-derives both flavours byte for byte from the stored OCI manifest', () => {
    const derived = manifestsFromStoredOci(documents.manifests.oci.body);
    expect(derived.oci.body.equals(documents.manifests.oci.body)).toBe(true);
    expect(derived.docker.body.equals(documents.manifests.docker.body)).toBe(true);
    expect(derived.docker.digest).toBe(documents.manifests.docker.digest);
  });
});
