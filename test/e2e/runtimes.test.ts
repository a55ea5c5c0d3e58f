// The demo set's language runtimes (nix/demo/runtimes.nix: Node.js and CPython wrapped from the
// host's Debian binaries with their shared libraries): an image holding only a runtime runs it
// under docker with no network and nothing of the host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, dockerPull, dockerRemoveImages, ensureDocker, expectSuccess } from '../helpers/docker.js';
import { startDemoServer } from '../helpers/demo-server.js';

describe('language runtimes of the demo set, run by docker with --network none', () => {
  let server: Awaited<ReturnType<typeof startDemoServer>>;
  const pulled: string[] = [];

  beforeAll(async () => {
    await ensureDocker();
    server = await startDemoServer();
  });

  afterAll(async () => {
    await dockerRemoveImages(pulled);
    await server?.close();
  });

  const run = async (name: string, command: string[]) => {
    const reference = `${server.host}/${name}:latest`;
    pulled.push(reference);
    expectSuccess(await dockerPull(reference), `docker pull ${name}`);
    const result = await docker(['run', '--rm', '--network', 'none', reference, ...command]);
    expectSuccess(result, `docker run ${name} ${command.join(' ')}`);
    return result.stdout.trim();
  };

  it('nodejs_20 runs node and npm', async () => {
    expect(await run('nodejs_20', ['node', '-e', 'console.log(process.version.split(".")[0], 6 * 7, require("zlib").gzipSync("x").length > 0)'])).toBe('v20 42 true');
    expect(await run('nodejs_20', ['npm', '--version'])).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('python3 runs with its standard library, its C modules and venv', async () => {
    const script = 'import json, sqlite3, ssl, zlib, venv, sys; print(sys.version_info[0], json.dumps([6 * 7]), sqlite3.sqlite_version_info[0])';
    expect(await run('python3', ['python3', '-c', script])).toBe('3 [42] 3');
    expect(await run('python3', ['python', '-m', 'venv', '--copies', '/tmp/venv'])).toBe('');
  });
});
