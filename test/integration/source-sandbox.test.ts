// The sandbox of builds from source (real bubblewrap, a real shell from the demo set in the Nix
// store): commands see the app directory and the store, nothing else of the host; the store is
// read-only; the network is there only when allowed; output streams as it comes.
import { execa } from 'execa';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, SANDBOX_UID, type SandboxOptions } from '../../src/builder/source/sandbox.js';
import { DEMO_PKGS_PATH } from '../../src/paths.js';
import { OFFLINE_NIX_CONFIG, requireNix } from '../helpers/demo-server.js';
import { requireTool } from '../helpers/tools.js';

describe('the build sandbox (bubblewrap)', () => {
  const sandbox = new Sandbox();
  let busybox: string;
  let app: string;
  let hostSecret: string;
  let server: ReturnType<typeof createServer>;
  let port: number;

  beforeAll(async () => {
    await requireNix();
    await requireTool('bwrap', 'apt-get install -y bubblewrap');
    const root = await mkdtemp(join(tmpdir(), 'nixyard-sandbox-'));
    const built = await execa('nix-build', ['--no-out-link', '-E', `(import ${DEMO_PKGS_PATH} {}).busybox`], { env: { NIX_CONFIG: OFFLINE_NIX_CONFIG } });
    busybox = built.stdout.trim();
    app = await mkdtemp(join(root, 'app-'));
    hostSecret = join(root, 'host-secret.txt');
    await writeFile(hostSecret, 'only the host may read this\n');
    server = createServer((_req, res) => res.end('reached the host\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  const options = (network: boolean): SandboxOptions => ({
    writable: [{ host: app, path: '/app' }],
    readOnly: [],
    links: [],
    cwd: '/app',
    env: { PATH: `${busybox}/bin`, HOME: '/tmp' },
    network,
    shell: `${busybox}/bin/sh`,
  });

  async function run(command: string, network = false) {
    let output = '';
    const controller = new AbortController();
    const result = await sandbox.run(command, options(network), { signal: controller.signal, timeoutMs: 30_000, onOutput: (text) => (output += text) });
    return { result, output };
  }

  it('runs as the unprivileged user in /app, whose writes land in the app directory', async () => {
    const { result, output } = await run('id -u; pwd; echo made > made.txt');
    expect(result).toEqual({ kind: 'ok' });
    expect(output.split('\n').slice(0, 2)).toEqual([String(SANDBOX_UID), '/app']);
    expect(await readFile(join(app, 'made.txt'), 'utf8')).toBe('made\n');
  });

  it('cannot read a host file outside its mounts, nor write to /nix/store', async () => {
    const read = await run(`cat ${hostSecret}`);
    expect(read.result).toEqual({ kind: 'failed', exitCode: 1 });
    expect(read.output).not.toContain('only the host may read this');
    expect((await run('ls /etc/shadow /root /home')).result.kind).toBe('failed');
    const write = await run(`touch ${busybox}/evil; touch /nix/store/evil`);
    expect(write.result).toEqual({ kind: 'failed', exitCode: 1 });
    expect(write.output).toMatch(/Read-only file system/);
  });

  it('has no network unless it is allowed (even the host on 127.0.0.1 is out of reach)', async () => {
    const closed = await run(`wget -q -O - http://127.0.0.1:${port}/`);
    expect(closed.result.kind).toBe('failed');
    const open = await run(`wget -q -O - http://127.0.0.1:${port}/`, true);
    expect(open.result).toEqual({ kind: 'ok' });
    expect(open.output).toBe('reached the host\n');
  });

  it('gives a clear error when bubblewrap is not there', async () => {
    await expect(new Sandbox('/nonexistent/bwrap').check()).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE', message: expect.stringContaining('apt-get install -y bubblewrap') });
  });
});
