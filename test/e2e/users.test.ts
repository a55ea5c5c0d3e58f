// Users in every image, end to end with real docker and podman: names for `id` and `whoami`, a
// home for root and for nonroot (the `nonroot` meta-package runs the image as uid 65532), a
// writable /tmp for mktemp, a read-only store for nonroot, a package's own /etc/passwd winning,
// and digests that stay the same on another registry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, dockerPull, dockerRemoveImages, ensureDocker, expectSuccess, PODMAN_LIMITS, runTool } from '../helpers/docker.js';
import { demoServersOfBlock } from '../helpers/demo-server.js';
import { startGitServer } from '../helpers/git-server.js';
import { writeDemoSet } from '../helpers/package-sets.js';
import { requireTool } from '../helpers/tools.js';

describe('users of images', () => {
  const startDemoServer = demoServersOfBlock();
  let host: string;
  let url: string;
  const pulled: string[] = [];

  beforeAll(async () => {
    await ensureDocker();
    await requireTool('podman', 'apt-get install -y podman');
    const server = await startDemoServer();
    host = server.host;
    url = server.url;
  });
  afterAll(async () => {
    await dockerRemoveImages(pulled);
    await runTool('podman', ['rmi', '-f', ...pulled]);
  });

  /** Runs `sh -c script` in `name` with docker; its output, trimmed. */
  async function inDocker(name: string, script: string, extra: string[] = []): Promise<string> {
    const reference = `${host}/${name}:latest`;
    if (!pulled.includes(reference)) {
      pulled.push(reference);
      expectSuccess(await dockerPull(reference), `docker pull ${reference}`);
    }
    const run = await docker(['run', '--rm', ...extra, reference, 'sh', '-c', script]);
    expectSuccess(run, `docker run ${name} ${script}`);
    return run.stdout.trim();
  }

  it('root by default: id and whoami print names, HOME is /root and writable, mktemp works', async () => {
    expect(await inDocker('shell/hello', 'id')).toBe('uid=0(root) gid=0(root) groups=0(root)');
    expect(await inDocker('shell/hello', 'whoami')).toBe('root');
    // The demo set has no git: what `git config --global` needs is a home its user can write.
    expect(await inDocker('shell/hello', 'echo "$HOME" && printf "[user]\\n\\tname = r\\n" > "$HOME/.gitconfig" && cat "$HOME/.gitconfig"')).toBe('/root\n[user]\n\tname = r');
    expect(await inDocker('shell/hello', 'mktemp')).toMatch(/^\/tmp\/tmp\.\w+$/);
  });

  it('nonroot runs as 65532 with a writable home, cannot write to the store, and gives root back with --user 0', async () => {
    expect(await inDocker('nonroot/shell/hello', 'id')).toBe('uid=65532(nonroot) gid=65532(nonroot) groups=65532(nonroot)');
    expect(await inDocker('nonroot/shell/hello', 'whoami')).toBe('nonroot');
    expect(await inDocker('nonroot/shell/hello', 'echo "$HOME" && touch "$HOME/.gitconfig" && ls -lnd "$HOME" | tr -s " " | cut -d " " -f 3,4')).toBe('/home/nonroot\n65532 65532');
    expect(await inDocker('nonroot/shell/hello', 'mktemp')).toMatch(/^\/tmp\/tmp\.\w+$/);
    expect(await inDocker('nonroot/shell/hello', 'touch /nix/store/x 2>&1 || echo refused')).toMatch(/Permission denied[\s\S]*refused$/);
    expect(await inDocker('nonroot/shell/hello', 'whoami', ['--user', '0'])).toBe('root');
    const config = await docker(['image', 'inspect', '--format', '{{.Config.User}} {{json .Config.Env}}', `${host}/nonroot/shell/hello:latest`]);
    expect(config.stdout.trim()).toBe('65532:65532 ["PATH=/bin:/usr/bin:/sbin:/usr/sbin","SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt","HOME=/home/nonroot"]');
  });

  it('podman: the same names, homes and user', async () => {
    for (const [name, expected] of [
      ['shell/hello', 'root /root'],
      ['nonroot/shell/hello', 'nonroot /home/nonroot'],
    ] as const) {
      const reference = `${host}/${name}:latest`;
      expectSuccess(await runTool('podman', ['pull', '--tls-verify=false', reference]), `podman pull ${reference}`);
      const run = await runTool('podman', ['run', '--rm', ...PODMAN_LIMITS, reference, 'sh', '-c', 'echo "$(whoami) $HOME" && mktemp >/dev/null && touch "$HOME/x"']);
      expectSuccess(run, `podman run ${name}`);
      expect(run.stdout.trim()).toBe(expected);
    }
  });

  it('a package’s own /etc/passwd wins over the generated one', async () => {
    expect(await inDocker('shell/passwd-demo', 'cat /etc/passwd')).toBe('root:x:0:0:root:/root:/bin/sh\ndemo:x:1000:1000:demo:/tmp:/bin/sh');
    expect(await inDocker('shell/passwd-demo', 'whoami', ['--user', '1000'])).toBe('demo');
    // The files it does not have are still generated.
    expect(await inDocker('shell/passwd-demo', 'cat /etc/nsswitch.conf | head -1')).toBe('passwd: files');
  });

  it('images stay reproducible: other registries with empty storage build the same digests, from a path and from a git source', async () => {
    const digestsOf = (bases: string[], name: string) =>
      Promise.all(bases.map(async (base) => (await fetch(`${base}/v2/${name}/manifests/latest`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })).headers.get('docker-content-digest')));
    const other = await startDemoServer();
    const repo = await startGitServer();
    try {
      await writeDemoSet(repo.work, 'Hello, world!');
      await repo.commit('demo');
      await repo.push('main');
      const fromGit = [await startDemoServer({ NIXERY_PKGS_PATH: '', NIXERY_PKGS_REPO: repo.url }), await startDemoServer({ NIXERY_PKGS_PATH: '', NIXERY_PKGS_REPO: repo.url })];
      for (const name of ['shell/hello', 'nonroot/shell/hello']) {
        const [first, second] = await digestsOf([url, other.url], name);
        expect(first, name).toMatch(/^sha256:/);
        expect(second, name).toBe(first);
        const [gitFirst, gitSecond] = await digestsOf(fromGit.map((server) => server.url), name);
        expect(gitFirst, `${name} from git`).toMatch(/^sha256:/);
        expect(gitSecond, `${name} from git`).toBe(gitFirst);
      }
    } finally {
      await repo.close();
    }
  });
});
