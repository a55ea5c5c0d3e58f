/**
 * `nixyard sbom HOST/NAME[:TAG|@DIGEST]`: prints the SBOM of an image (SPDX by default, or
 * CycloneDX) as any OCI client finds it: the manifest (the platform's, for an index), its
 * referrers of that artifact type, the artifact's one layer. Speaks the registry API (`/v2`),
 * so it works against any nixyard; with access control it logs in as Docker does (a token from
 * the realm of the 401's challenge, with NIXYARD_USERNAME and NIXYARD_PASSWORD), or sends them
 * as Basic credentials.
 */
import { parseArgs } from 'node:util';
import { SHA256_DIGEST } from '../image/grammar.js';
import { parsePushTarget } from '../push/reference.js';
import { EXIT, write } from './cli-io.js';

const FORMATS = { spdx: 'application/spdx+json', cyclonedx: 'application/vnd.cyclonedx+json' } as const;
const ACCEPT = ['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json'].join(', ');

const USAGE = `usage: nixyard sbom HOST/NAME[:TAG|@DIGEST] [options]

Prints the SBOM nixyard attached to an image (found through the OCI referrers API).

options:
  --format F       spdx (SPDX 2.3 JSON, the default) or cyclonedx (CycloneDX 1.6 JSON)
  --platform ARCH  amd64 or arm64: which image of a multi-arch index (default amd64)
  --plain-http     talk HTTP instead of HTTPS (a registry on localhost)
  -h, --help       this help

credentials, when the registry asks for them: NIXYARD_USERNAME and NIXYARD_PASSWORD

exit codes: 0 printed, 2 usage error, 3 the registry answered with an error or the image has no
such SBOM, 4 the registry could not be reached
`;

/** An image reference: `host[:port]/name[:tag|@digest]`. */
export interface ImageReference {
  host: string;
  name: string;
  /** A tag or a digest. */
  reference: string;
}

/**
 * Parses `host[:port]/name[:tag|@digest]` (pure), with the grammar of push targets (a registry
 * host with a dot or a port, or localhost; lowercase components; a tag); `undefined` when it is not one.
 */
export function parseImageReference(text: string): ImageReference | undefined {
  const [target = '', digest, ...more] = text.split('@');
  if (more.length > 0 || (digest !== undefined && !SHA256_DIGEST.test(digest))) return undefined;
  try {
    const { registry, repository, tag } = parsePushTarget(target);
    return { host: registry, name: repository, reference: digest ?? tag ?? 'latest' };
  } catch {
    return undefined;
  }
}

/** The registry answered with an error. */
class RegistryAnswer extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A /v2 client of one registry that answers 401 challenges with the user's credentials. */
class RegistryReader {
  private authorization: string | undefined;

  constructor(
    private readonly base: string,
    private readonly credentials: { user: string; password: string } | undefined,
  ) {}

  async get(path: string, accept?: string): Promise<Response> {
    const send = () => fetch(`${this.base}${path}`, { headers: { ...(accept ? { Accept: accept } : {}), ...(this.authorization ? { Authorization: this.authorization } : {}) }, signal: AbortSignal.timeout(30_000) });
    let res = await send();
    if (res.status === 401 && this.credentials && (await this.login(res.headers.get('www-authenticate') ?? ''))) res = await send();
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { errors?: { code?: string; message?: string }[] };
      const error = body.errors?.[0];
      throw new RegistryAnswer(error?.code ?? String(res.status), error?.message ?? `${res.status} ${res.statusText} from ${path}`);
    }
    return res;
  }

  /** Answers a challenge: Basic credentials, or a token from the Bearer realm; false when it cannot. */
  private async login(challenge: string): Promise<boolean> {
    const { user, password } = this.credentials as { user: string; password: string };
    const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    if (/^Basic/i.test(challenge)) {
      this.authorization = basic;
      return true;
    }
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]]));
    if (!params['realm']) return false;
    const url = new URL(params['realm']);
    if (params['service']) url.searchParams.set('service', params['service']);
    if (params['scope']) url.searchParams.set('scope', params['scope']);
    const res = await fetch(url, { headers: { Authorization: basic }, signal: AbortSignal.timeout(30_000) });
    if (!res.ok) return false;
    this.authorization = `Bearer ${((await res.json()) as { token: string }).token}`;
    return true;
  }
}

/** The SBOM document of `image` of type `artifactType`, as bytes. */
async function fetchSbom(reader: RegistryReader, image: ImageReference, artifactType: string, platform: string): Promise<Buffer> {
  const top = await reader.get(`/v2/${image.name}/manifests/${image.reference}`, ACCEPT);
  let subject = top.headers.get('docker-content-digest') ?? '';
  const document = (await top.json()) as { mediaType?: string; manifests?: { digest: string; platform?: { architecture: string } }[] };
  if (document.manifests) {
    const chosen = document.manifests.find((entry) => entry.platform?.architecture === platform);
    if (!chosen) throw new RegistryAnswer('MANIFEST_UNKNOWN', `${image.name}:${image.reference} has no ${platform} image: it has ${document.manifests.map((entry) => entry.platform?.architecture ?? '?').join(', ')}`);
    subject = chosen.digest;
  }
  const index = (await (await reader.get(`/v2/${image.name}/referrers/${subject}?artifactType=${encodeURIComponent(artifactType)}`)).json()) as { manifests: { digest: string; artifactType?: string }[] };
  const referrer = index.manifests.find((entry) => entry.artifactType === artifactType);
  if (!referrer) throw new RegistryAnswer('SBOM_UNKNOWN', `${image.name}@${subject} has no ${artifactType} SBOM (images built before nixyard attached SBOMs, or with NIXYARD_SBOMS=0, have none: build it again)`);
  const artifact = (await (await reader.get(`/v2/${image.name}/manifests/${referrer.digest}`, 'application/vnd.oci.image.manifest.v1+json')).json()) as { layers: { digest: string }[] };
  const layer = artifact.layers[0];
  if (!layer) throw new RegistryAnswer('MANIFEST_INVALID', `the artifact ${referrer.digest} has no content`);
  return Buffer.from(await (await reader.get(`/v2/${image.name}/blobs/${layer.digest}`)).arrayBuffer());
}

/** Runs `nixyard sbom`; resolves to its exit code. */
export async function runSbomCommand(args: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { format: { type: 'string' }, platform: { type: 'string' }, 'plain-http': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    await write(stderr, `nixyard sbom: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    await write(stdout, USAGE);
    return EXIT.ok;
  }
  const format = values.format ?? 'spdx';
  const image = positionals.length === 1 ? parseImageReference(positionals[0] ?? '') : undefined;
  const platform = values.platform ?? 'amd64';
  const problem = !image
    ? `expected one image reference HOST/NAME[:TAG|@DIGEST] (e.g. localhost:8080/shell/hello), got ${positionals.map((arg) => JSON.stringify(arg)).join(' ') || 'none'}`
    : !(format in FORMATS)
      ? `--format ${JSON.stringify(format)} is not known: expected spdx or cyclonedx`
      : !['amd64', 'arm64'].includes(platform)
        ? `--platform ${JSON.stringify(platform)} is not known: expected amd64 or arm64`
        : undefined;
  if (problem !== undefined || !image) {
    await write(stderr, `nixyard sbom: ${problem}\n${USAGE}`);
    return EXIT.usage;
  }
  const base = `${values['plain-http'] ? 'http' : 'https'}://${image.host}`;
  const user = env['NIXYARD_USERNAME'];
  const reader = new RegistryReader(base, user ? { user, password: env['NIXYARD_PASSWORD'] ?? '' } : undefined);
  try {
    const sbom = await fetchSbom(reader, image, FORMATS[format as keyof typeof FORMATS], platform);
    await write(stdout, sbom.toString('utf8').endsWith('\n') ? sbom.toString('utf8') : `${sbom.toString('utf8')}\n`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof RegistryAnswer) {
      const hint = error.code === 'UNAUTHORIZED' ? `\nnixyard: ${image.host} needs credentials: set NIXYARD_USERNAME and NIXYARD_PASSWORD` : '';
      await write(stderr, `nixyard: ${error.code}: ${error.message}${hint}\n`);
      return EXIT.registryError;
    }
    await write(stderr, `nixyard: ${base} could not be reached: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}${values['plain-http'] ? '' : ' (a registry on plain HTTP needs --plain-http)'}\n`);
    return EXIT.unreachable;
  }
}
