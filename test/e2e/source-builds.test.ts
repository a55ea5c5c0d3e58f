// Images from application source end to end: sample apps in git repositories served on
// 127.0.0.1, built through the API by a demo server (real git, real nixpacks 1.41, real Nix,
// real bubblewrap), pulled and run by real docker, answering HTTP on a loopback port.
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BuildRecord } from '../../src/builds/record.js';
import { docker, dockerPull, dockerRemoveImages, ensureDocker, expectSuccess } from '../helpers/docker.js';
import { DEMO_PKGS_PATH } from '../../src/paths.js';
import { randomCommit, startChannelServer } from '../helpers/channel-server.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { startGitHttpServer } from '../helpers/git-http.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { writeNodeApp, writeOverridesApp, writePythonApp } from '../helpers/sample-apps.js';
import { freePort, requireTool } from '../helpers/tools.js';

type Server = Awaited<ReturnType<typeof startDemoServer>>;
interface Manifest {
  config: { digest: string };
  layers: { digest: string }[];
}

describe('images built from application source, pulled and run by docker', () => {
  let server: Server;
  const repos: GitServer[] = [];
  const pulled: string[] = [];
  const logLines: string[] = [];

  beforeAll(async () => {
    await ensureDocker();
    await requireTool('nixpacks', 'cargo install nixpacks --version 1.41.0 --locked');
    await requireTool('bwrap', 'apt-get install -y bubblewrap');
    const log = { debug: () => 0, info: (message: string, fields?: object) => logLines.push(`${message} ${JSON.stringify(fields ?? {})}`), warn: (message: string, fields?: object) => logLines.push(`${message} ${JSON.stringify(fields ?? {})}`), error: (message: string, fields?: object) => logLines.push(`${message} ${JSON.stringify(fields ?? {})}`) };
    server = await startDemoServer({ NIXYARD_SOURCE_TIMEOUT: '300' }, { log });
  });

  afterAll(async () => {
    await dockerRemoveImages(pulled);
    await server?.close();
    for (const repo of repos) await repo.close();
  });

  /** A git repository served on 127.0.0.1 with `write` applied to its work tree, pushed as main. */
  async function repository(write: (work: string) => Promise<void>): Promise<GitServer> {
    const repo = await startGitServer();
    repos.push(repo);
    await write(repo.work);
    await repo.commit('app');
    await repo.push('main');
    return repo;
  }

  /** Starts a build through the API and waits for its end; the final record and its log. */
  async function build(body: Record<string, unknown>): Promise<{ record: BuildRecord; log: string }> {
    const res = await fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = (await res.json()) as BuildRecord;
    expect(res.status, JSON.stringify(created)).toBe(202);
    const log = await (await fetch(`${server.url}/v1/builds/${created.id}/logs?follow=1`)).text();
    const record = (await (await fetch(`${server.url}/v1/builds/${created.id}`)).json()) as BuildRecord;
    return { record, log };
  }

  async function manifest(name: string, tag: string): Promise<Manifest> {
    const res = await fetch(`${server.url}/v2/${name}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(res.status).toBe(200);
    return (await res.json()) as Manifest;
  }

  /** Pulls `name:tag`, runs it with a loopback port on its 3000 and returns what it answers. */
  async function runAndAsk(name: string, tag: string, extra: string[] = []): Promise<string> {
    const reference = `${server.host}/${name}:${tag}`;
    pulled.push(reference);
    expectSuccess(await dockerPull(reference), `docker pull ${reference}`);
    const port = await freePort();
    const started = await docker(['run', '-d', '--rm', '-p', `127.0.0.1:${port}:3000`, ...extra, reference]);
    expectSuccess(started, `docker run ${reference}`);
    const container = started.stdout.trim();
    try {
      return await vi.waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).text(), { timeout: 30_000, interval: 200 });
    } finally {
      await docker(['rm', '-f', container]);
    }
  }

  it('a node app (lockfile, file: dependency, build step) is built without a daemon, runs, and shares its runtime layers with nodejs_20', async () => {
    const repo = await repository((work) => writeNodeApp(work, 'hello'));
    const { record, log } = await build({ image: 'apps/demo/web', tag: 'v1', source: { repo: repo.url, ref: 'main' } });
    expect(record, log).toMatchObject({ status: 'succeeded', source: { repo: repo.url, ref: 'main', dir: '' }, plan: { planner: 'nixpacks 1.41.0', provider: 'node', start: 'npm run start' } });
    expect(record.source?.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(record.packages).toEqual(['bashInteractive', 'cacert', 'iana-etc', 'nodejs_20']);
    expect(record.phases.map((phase) => phase.status).filter((status) => status !== 'building')).toEqual(['queued', 'fetching', 'planning', 'evaluating', 'installing', 'compiling', 'packing', 'uploading', 'succeeded']);
    expect(log).toContain('$ npm ci');
    expect(log).toContain('built dist/server.js');
    expect(await runAndAsk('apps/demo/web', 'v1')).toBe('hello from node 20\n');

    const app = await manifest('apps/demo/web', 'v1');
    const runtime = await manifest('nodejs_20', 'latest');
    // The runtime's store paths (nodejs, cacert, iana-etc) are the same layers; the symlink layer differs.
    const shared = runtime.layers.filter((layer) => app.layers.some((other) => other.digest === layer.digest));
    expect(shared).toHaveLength(runtime.layers.length - 1);
    const tags = await (await fetch(`${server.url}/v2/apps/demo/web/tags/list`)).json();
    expect(tags).toEqual({ name: 'apps/demo/web', tags: ['v1'] });
    const inspect = await docker(['image', 'inspect', '--format', '{{json .Config}}', `${server.host}/apps/demo/web:v1`]);
    const config = JSON.parse(inspect.stdout) as { WorkingDir: string; Cmd: string[]; Labels: Record<string, string> };
    expect(config.WorkingDir).toBe('/app');
    expect(config.Cmd.slice(1)).toEqual(['-c', 'npm run start']);
    expect(config.Labels['org.opencontainers.image.revision']).toBe(record.source?.commit);
    // It runs as nonroot (it answered above as that user), which owns the app directory.
    const user = await docker(['run', '--rm', '--entrypoint', '', `${server.host}/apps/demo/web:v1`, 'sh', '-c', 'echo "$(id -u):$(id -g) $(whoami) $HOME $(stat -c %u /app /app/node_modules | sort -u)"']);
    expectSuccess(user, 'docker run id');
    expect(user.stdout.trim()).toBe('65532:65532 nonroot /home/nonroot 65532');

    // Its SBOMs list the app and its lockfile's packages beside the Nix closure; its provenance says what was built from what.
    const artifacts = record.artifacts ?? [];
    expect(artifacts.map((artifact) => artifact.artifactType)).toEqual(['application/spdx+json', 'application/vnd.cyclonedx+json', 'application/vnd.in-toto+json']);
    const content = async <T,>(type: string) => (await (await fetch(`${server.url}/v2/apps/demo/web/blobs/${artifacts.find((artifact) => artifact.artifactType === type)?.content}`)).json()) as T;
    const spdx = await content<{ packages: { name: string; versionInfo?: string; externalRefs?: { referenceLocator: string }[] }[] }>('application/spdx+json');
    expect(spdx.packages.find((pkg) => pkg.name === 'apps/demo/web')?.versionInfo).toBe(record.source?.commit);
    expect(spdx.packages.find((pkg) => pkg.name === 'greet')?.externalRefs?.[0]?.referenceLocator).toBe('pkg:npm/greet@1.0.0');
    expect(spdx.packages.some((pkg) => pkg.externalRefs?.[0]?.referenceLocator.startsWith('pkg:nix/nodejs'))).toBe(true);
    const provenance = await content<{ subject: { digest: { sha256: string } }[]; predicate: { buildDefinition: { externalParameters: { repository: string; ref: string }; internalParameters: { planDigest: string; packageSetRevision: string }; resolvedDependencies: { digest: { gitCommit: string } }[] }; runDetails: { metadata: { invocationId: string; startedOn: string; finishedOn: string } } } }>('application/vnd.in-toto+json');
    expect(provenance.subject.map((subject) => `sha256:${subject.digest.sha256}`)).toContain(record.manifestDigest);
    expect(provenance.predicate.buildDefinition.externalParameters).toMatchObject({ repository: repo.url, ref: 'main' });
    expect(provenance.predicate.buildDefinition.resolvedDependencies[0]?.digest.gitCommit).toBe(record.source?.commit);
    expect(provenance.predicate.buildDefinition.internalParameters).toMatchObject({ planDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), packageSetRevision: record.revision });
    expect(provenance.predicate.runDetails.metadata.invocationId).toBe(record.id);
    expect(Date.parse(provenance.predicate.runDetails.metadata.finishedOn)).toBeGreaterThanOrEqual(Date.parse(provenance.predicate.runDetails.metadata.startedOn));
    const oras = await requireTool('oras', 'go install oras.land/oras/cmd/oras@v1.3.6');
    const discovered = JSON.parse((await execa(oras, ['discover', '--plain-http', '--format', 'json', `${server.host}/apps/demo/web:v1`])).stdout) as { digest: string; referrers: { artifactType: string }[] };
    expect(discovered.digest).toBe(record.manifestDigest);
    expect(discovered.referrers.map((referrer) => referrer.artifactType).sort()).toEqual(['application/spdx+json', 'application/vnd.cyclonedx+json', 'application/vnd.in-toto+json']);
    const pulledTo = await mkdtemp(join(tmpdir(), 'nixyard-app-provenance-'));
    const provenanceArtifact = artifacts.find((artifact) => artifact.artifactType === 'application/vnd.in-toto+json');
    await execa(oras, ['pull', '--plain-http', '-o', pulledTo, `${server.host}/apps/demo/web@${provenanceArtifact?.manifest}`]);
    expect(JSON.parse(await readFile(join(pulledTo, 'provenance.intoto.json'), 'utf8'))).toEqual(provenance);
    const spdxFile = join(await mkdtemp(join(tmpdir(), 'nixyard-app-sbom-')), 'app.spdx.json');
    await writeFile(spdxFile, JSON.stringify(spdx));
    const validated = await execa('pyspdxtools', ['-i', spdxFile], { reject: false, all: true });
    expect(validated.exitCode, validated.all).toBe(0);

    // A code-only commit: every layer but the app layer is the same, and so a pull of it is small.
    await writeFile(join(repo.work, 'server.js'), (await readFile(join(repo.work, 'server.js'), 'utf8')).replace('"hello"', '"hello again"'));
    await repo.commit('code only');
    await repo.push('main');
    const second = await build({ image: 'apps/demo/web', tag: 'v2', source: { repo: repo.url, ref: 'main' } });
    expect(second.record.status, second.log).toBe('succeeded');
    const next = await manifest('apps/demo/web', 'v2');
    expect(next.layers.slice(0, -1)).toEqual(app.layers.slice(0, -1));
    expect(next.layers.at(-1)?.digest).not.toBe(app.layers.at(-1)?.digest);
    expect(next.config.digest).not.toBe(app.config.digest);
    expect(await runAndAsk('apps/demo/web', 'v2')).toBe('hello again from node 20\n');
  });

  it('a python app with a nixpacks.toml, an app in a monorepo directory, and one with overrides', async () => {
    const python = await repository((work) => writePythonApp(work));
    const py = await build({ image: 'apps/demo/py', tag: 'latest', source: { repo: python.url } });
    expect(py.record, py.log).toMatchObject({ status: 'succeeded', plan: { provider: 'python' } });
    expect(await runAndAsk('apps/demo/py', 'latest')).toBe('python 3.11 says hi\n');

    const mono = await repository(async (work) => {
      await writeNodeApp(join(work, 'services/web'), 'monorepo');
      await mkdir(join(work, 'services/other'), { recursive: true });
      await writeFile(join(work, 'services/other/README'), 'not an app\n');
    });
    const inDir = await build({ image: 'apps/demo/mono', tag: 'web', source: { repo: mono.url, ref: 'main', dir: 'services/web' } });
    expect(inDir.record, inDir.log).toMatchObject({ status: 'succeeded', source: { dir: 'services/web' } });
    expect(await runAndAsk('apps/demo/mono', 'web')).toBe('monorepo from node 20\n');

    const overrides = await repository((work) => writeOverridesApp(work));
    const over = await build({ image: 'apps/demo/over', tag: 'x', source: { repo: overrides.url }, startCmd: 'node main.js', env: { GREETING: 'hi there', PORT: '3000' }, pkgs: ['hello'], user: 'root' });
    expect(over.record, over.log).toMatchObject({ status: 'succeeded', plan: { start: 'node main.js' } });
    expect(over.record.packages).toContain('hello');
    expect(await runAndAsk('apps/demo/over', 'x')).toBe('hi there / Hello, world!\n');
    const ports = await docker(['image', 'inspect', '--format', '{{json .Config.ExposedPorts}}|{{.Config.User}}', `${server.host}/apps/demo/over:x`]);
    // user: root gives root back (no User in the config).
    expect(ports.stdout.trim()).toBe('{"3000/tcp":{}}|');
  });

  it('credentials in the repository URL are used, and appear in no record, log, page, SBOM, provenance or server log line', async () => {
    const secret = 'TOKEN-s3cr3t-4f9a';
    const root = await mkdtemp(join(tmpdir(), 'nixyard-git-http-'));
    const bare = join(root, 'app.git');
    const work = join(root, 'work');
    await execa('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    await execa('git', ['init', '--quiet', '--initial-branch=main', work]);
    await writeNodeApp(work, 'private');
    await execa('git', ['-C', work, 'add', '--all']);
    await execa('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '-m', 'app']);
    await execa('git', ['-C', work, 'push', '--quiet', bare, 'main']);
    const http = await startGitHttpServer(root, 'deploy', secret);
    try {
      const url = `${http.base.replace('http://', 'http://deploy:' + secret + '@')}/app.git`;
      const ok = await build({ image: 'apps/demo/private', tag: 'v1', source: { repo: url } });
      expect(ok.record, ok.log).toMatchObject({ status: 'succeeded', source: { repo: `${http.base.replace('http://', 'http://***@')}/app.git` } });
      const wrong = await build({ image: 'apps/demo/private', tag: 'v2', source: { repo: url.replace(secret, `${secret}-wrong`) } });
      expect(wrong.record).toMatchObject({ status: 'failed', error: { code: 'REPOSITORY_UNAVAILABLE' } });
      expect(http.refused).toBeGreaterThan(0);
      const seen = [
        JSON.stringify(ok.record),
        ok.log,
        JSON.stringify(wrong.record),
        wrong.log,
        await (await fetch(`${server.url}/v1/builds?limit=100`)).text(),
        await (await fetch(`${server.url}/builds`)).text(),
        await (await fetch(`${server.url}/builds/${ok.record.id}`)).text(),
        await (await fetch(`${server.url}/builds/${wrong.record.id}`)).text(),
        logLines.join('\n'),
        // Its SBOMs and provenance name the repository too.
        ...(await Promise.all((ok.record.artifacts ?? []).map(async (artifact) => (await fetch(`${server.url}/v2/apps/demo/private/blobs/${artifact.content}`)).text()))),
      ];
      expect(ok.record.artifacts).toHaveLength(3);
      for (const text of seen) expect(text).not.toContain(secret);
    } finally {
      await http.close();
    }
  });

  it('bad inputs each fail their record with a clear error and leave nothing in the work directory', async () => {
    const repo = await repository((work) => writeNodeApp(work, 'x'));
    const empty = await repository((work) => writeFile(join(work, 'README'), 'no app here\n'));
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['unreachable', { source: { repo: 'git://127.0.0.1:9/nothing.git' } }, 'REPOSITORY_UNAVAILABLE', /could not read the repository git:\/\/127\.0\.0\.1:9\/nothing\.git/],
      ['unknown ref', { source: { repo: repo.url, ref: 'no-such-branch' } }, 'REF_UNKNOWN', /"no-such-branch" is not one of its branches or tags/],
      ['missing dir', { source: { repo: repo.url, dir: 'services/none' } }, 'SOURCE_DIR_UNKNOWN', /has no directory "services\/none"/],
      ['no provider', { source: { repo: empty.url } }, 'PLAN_UNAVAILABLE', /found no provider/],
      ['unknown package', { source: { repo: repo.url }, pkgs: ['no-such-package'] }, 'PACKAGE_UNKNOWN', /no-such-package/],
      ['failing command', { source: { repo: repo.url }, buildCmd: 'echo about to fail; exit 3' }, 'BUILD_COMMAND_FAILED', /the build command "echo about to fail; exit 3" exited with 3.*about to fail/],
      ['timeout', { source: { repo: repo.url }, buildCmd: 'sleep 120', buildTimeout: 10 }, 'BUILD_TIMEOUT', /did not finish within 10s/],
    ];
    const failed: Record<string, BuildRecord> = {};
    for (const [what, body, code, message] of cases) {
      const { record, log } = await build({ image: 'apps/demo/bad', tag: what.replace(/ /g, '-'), ...body });
      expect(record, `${what}: ${log}`).toMatchObject({ status: 'failed', error: { code } });
      expect(record.error?.message, what).toMatch(message);
      failed[what] = record;
    }
    // A retry builds the same source with the same overrides again.
    const retry = (await (await fetch(`${server.url}/v1/builds/${failed['failing command']?.id}/retry`, { method: 'POST' })).json()) as BuildRecord;
    expect(retry).toMatchObject({ retryOf: failed['failing command']?.id, image: 'apps/demo/bad', source: { repo: repo.url, overrides: { buildCmd: 'echo about to fail; exit 3' } } });
    const retried = await (await fetch(`${server.url}/v1/builds/${retry.id}/logs?follow=1`)).text();
    expect(retried).toContain('about to fail');
    expect(await readdir(join(server.dataDir, 'source'))).toEqual([]);
    const tags = await (await fetch(`${server.url}/v2/apps/demo/bad/tags/list`)).json();
    expect(tags).toEqual({ name: 'apps/demo/bad', tags: [] });
    const refused = await fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'demo/web', source: { repo: repo.url } }) });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain('named under apps/');
    const local = await fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'apps/x', source: { repo: '/etc' } }) });
    expect(local.status).toBe(400);
  });

  it('a cancel during the install phase stops the sandbox and its processes', async () => {
    const repo = await repository((work) => writeNodeApp(work, 'x'));
    const marker = `nixyard-cancel-${Date.now()}`;
    const res = await fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'apps/demo/cancel', source: { repo: repo.url }, installCmd: `sleep 300 # ${marker}` }) });
    const created = (await res.json()) as BuildRecord;
    await vi.waitFor(async () => expect((await execa('pgrep', ['-f', marker], { reject: false })).exitCode).toBe(0), { timeout: 60_000, interval: 200 });
    const cancelled = (await (await fetch(`${server.url}/v1/builds/${created.id}/cancel`, { method: 'POST' })).json()) as BuildRecord;
    expect(cancelled).toMatchObject({ status: 'cancelled', error: { code: 'BUILD_CANCELLED' } });
    await vi.waitFor(async () => expect((await execa('pgrep', ['-f', marker], { reject: false })).exitCode).toBe(1), { timeout: 10_000, interval: 200 });
    expect(cancelled.phases.map((phase) => phase.status)).toContain('installing');
  });
  it('with a nixpkgs channel and NIXYARD_SOURCE_NIXPKGS_ARCHIVE=1, the packages come from the nixpkgs commit the plan pins', async () => {
    const repo = await repository((work) => writeNodeApp(work, 'pinned'));
    const pinned = (JSON.parse((await execa('nixpacks', ['plan', '--format', 'json', repo.work])).stdout) as { phases: { setup: { nixpkgsArchive: string } } }).phases.setup.nixpkgsArchive;
    const channels = await startChannelServer();
    const current = randomCommit();
    await channels.addCommit(current, DEMO_PKGS_PATH);
    await channels.addCommit(pinned, DEMO_PKGS_PATH);
    channels.setChannel('demo-channel', current);
    const pinning = await startDemoServer({ NIXERY_PKGS_PATH: '', NIXERY_CHANNEL: 'demo-channel', NIXYARD_CHANNELS_URL: channels.channelsUrl, NIXYARD_TARBALLS_URL: channels.tarballsUrl, NIXYARD_SOURCE_NIXPKGS_ARCHIVE: '1' });
    try {
      const res = await fetch(`${pinning.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'apps/demo/pinned', source: { repo: repo.url } }) });
      const created = (await res.json()) as BuildRecord;
      expect(created.revision).toBe(`nixpkgs:${current}`);
      const log = await (await fetch(`${pinning.url}/v1/builds/${created.id}/logs?follow=1`)).text();
      const record = (await (await fetch(`${pinning.url}/v1/builds/${created.id}`)).json()) as BuildRecord;
      expect(record, log).toMatchObject({ status: 'succeeded', revision: `nixpkgs:${pinned}` });
      expect(log).toContain(`packages from the nixpkgs commit the plan pins: ${pinned}`);
      expect(channels.requests).toContain(`/archive/${pinned}.tar.gz`);
    } finally {
      await pinning.close();
      await channels.close();
    }
  });
});
