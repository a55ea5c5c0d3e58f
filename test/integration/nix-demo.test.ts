// The Nix side of nixyard, against real Nix: the offline demo package set (nix/demo),
// package lookup and its error markers (nix/prepare-image.nix), the package sources
// (nix/load-pkgs.nix), and that the built programs run in a root made only of their closure.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execa } from 'execa';
import { access, chmod, cp, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireDemoBuildTools } from '../helpers/tools.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const nixDir = path.join(repo, 'nix');
const demoDir = path.join(nixDir, 'demo');
const prepareImage = path.join(nixDir, 'prepare-image.nix');
// Offline: no binary cache to ask (each build would otherwise wait for cache.nixos.org).
const nixEnv = { NIX_CONFIG: 'substituters =\nexperimental-features = nix-command' };

let tmp = '';
let links = 0;

/** A fresh out-link path in the temporary directory (keeps build outputs rooted). */
function outLink(): string {
  links += 1;
  return path.join(tmp, `result-${links}`);
}

async function run(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; extendEnv?: boolean } = {}) {
  return execa(cmd, args, { env: { ...nixEnv, ...opts.env }, extendEnv: opts.extendEnv ?? true, reject: false, input: opts.input });
}

async function nixBuild(args: string[]): Promise<string[]> {
  const r = await run('nix-build', [...args, '--out-link', outLink()]);
  if (r.exitCode !== 0) throw new Error(`nix-build ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

async function buildDemo(attrs: string[], args: Record<string, number> = {}): Promise<Record<string, string>> {
  const argFlags = Object.entries(args).flatMap(([k, v]) => ['--arg', k, String(v)]);
  const paths = await nixBuild([demoDir, ...argFlags, ...attrs.flatMap((a) => ['-A', a])]);
  expect(paths).toHaveLength(attrs.length);
  return Object.fromEntries(attrs.map((a, i) => [a, paths[i] as string]));
}

/** What the server runs: prepare-image.nix with the demo set as a `path` source. */
async function prepare(packages: string[], srcArgs: object = { path: demoDir }, srcType = 'path') {
  return run('nix-build', [
    prepareImage, '--argstr', 'srcType', srcType, '--argstr', 'srcArgs', JSON.stringify(srcArgs),
    '--argstr', 'system', 'x86_64-linux', '--argstr', 'packages', JSON.stringify(packages),
    '--out-link', outLink(),
  ]);
}

async function closure(paths: string[]): Promise<string[]> {
  const r = await run('nix', ['path-info', '-r', ...paths]);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '');
}

beforeAll(async () => {
  await requireDemoBuildTools();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nixyard-nix-demo-'));
});

afterAll(async () => {
  if (tmp === '') return;
  await run('chmod', ['-R', 'u+w', tmp]); // copied store paths are read-only
  await rm(tmp, { recursive: true, force: true });
});

const programs: Record<string, string[]> = {
  busybox: ['busybox', 'sh', 'ls'],
  bashInteractive: ['bash', 'sh'],
  coreutils: ['ls', 'cat', 'echo', 'env', 'mkdir', 'cp', 'mv', 'rm', 'ln'],
  moreutils: ['sponge', 'ts'],
  nano: ['nano'],
  hello: ['hello'],
  wget: ['wget'],
  less: ['less'],
  gzip: ['gzip', 'gunzip', 'zcat'],
  gnutar: ['tar'],
  which: ['which'],
  gnugrep: ['grep'],
  gnused: ['sed'],
  gawk: ['awk'],
  findutils: ['find', 'xargs'],
};

describe('the demo package set', () => {
  it('builds every package, each with the programs it promises', async () => {
    const built = await buildDemo([...Object.keys(programs), 'cacert', 'iana-etc']);
    for (const [attr, bins] of Object.entries(programs)) {
      const entries = await readdir(path.join(built[attr] as string, 'bin'));
      expect(entries, attr).toEqual(expect.arrayContaining(bins));
    }
    const bundle = await readFile(path.join(built.cacert as string, 'etc/ssl/certs/ca-bundle.crt'), 'utf8');
    expect(bundle).toContain('-----BEGIN CERTIFICATE-----');
    expect(await readlink(path.join(built.cacert as string, 'etc/ssl/certs/ca-certificates.crt'))).toBe('ca-bundle.crt');
    expect(await readFile(path.join(built['iana-etc'] as string, 'etc/protocols'), 'utf8')).toMatch(/^tcp\s+6\s/m);
    expect(await readFile(path.join(built['iana-etc'] as string, 'etc/services'), 'utf8')).toMatch(/^https\s+443\/tcp/m);
  });

  it('runs its programs', async () => {
    const b = await buildDemo(['hello', 'bashInteractive', 'coreutils', 'moreutils', 'nano', 'gnugrep']);
    const bin = (attr: string, name: string) => path.join(b[attr] as string, 'bin', name);
    expect((await run(bin('hello', 'hello'), [])).stdout).toBe('Hello, world!');
    expect((await run(bin('bashInteractive', 'bash'), ['-c', 'echo hi; exit 3'])).exitCode).toBe(3);
    expect((await run(bin('bashInteractive', 'sh'), ['-c', 'echo $((6 * 7))'])).stdout).toBe('42');
    expect((await run(bin('coreutils', 'echo'), ['a', 'b'])).stdout).toBe('a b');
    expect((await run(bin('moreutils', 'sponge'), [], { input: 'x\n\ny\n\n' })).stdout).toBe('x\n\ny\n');
    expect((await run(bin('nano', 'nano'), ['--help'])).stderr).toContain('vi');
    expect((await run(bin('gnugrep', 'grep'), ['-c', 'b'], { input: 'a\nb\nbb\n' })).stdout).toBe('2');
  });

  it("hello is a script run by the store's busybox, and depends on it alone", async () => {
    const { hello, busybox } = await buildDemo(['hello', 'busybox']);
    const script = await readFile(path.join(hello as string, 'bin/hello'), 'utf8');
    expect(script).toBe(`#!${busybox}/bin/sh\necho 'Hello, world!'\n`);
    expect((await closure([hello as string])).sort()).toEqual([busybox, hello].sort());
    // the busybox binary is copied once; every applet is a symlink to it
    expect(await readlink(path.join(busybox as string, 'bin/ls'))).toBe('busybox');
  });

  it('builds the same bytes again (nix-build --check rebuilds and compares)', async () => {
    await buildDemo(['busybox', 'coreutils', 'cacert', 'synth-lib-001', 'synth-app-001'], { syntheticCount: 4 });
    const r = await run('nix-build', [demoDir, '--arg', 'syntheticCount', '4', '--check', '--no-out-link',
      '-A', 'busybox', '-A', 'coreutils', '-A', 'cacert', '-A', 'synth-lib-001', '-A', 'synth-app-001']);
    expect(r.exitCode, r.stderr).toBe(0);
  });
});

describe('prepare-image.nix', () => {
  it('gives the store paths of the packages, as the server calls it', async () => {
    const r = await prepare(['hello', 'cacert']);
    expect(r.exitCode, r.stderr).toBe(0);
    const paths = r.stdout.split('\n');
    expect(paths).toHaveLength(2);
    expect(paths[0]).toMatch(/^\/nix\/store\/[0-9a-z]{32}-hello$/);
    expect(paths[1]).toMatch(/^\/nix\/store\/[0-9a-z]{32}-cacert$/);
    const info = await run('nix', ['path-info', '--json', '-r', ...paths]);
    expect(info.exitCode, info.stderr).toBe(0);
    const graph = JSON.parse(info.stdout) as { path: string; narSize: number; references: string[] }[];
    expect(graph.map((p) => p.path.replace(/^.*?-/, '')).sort()).toEqual(['busybox', 'cacert', 'hello']);
    for (const p of graph) expect(p.narSize).toBeGreaterThan(0);
    const hello = graph.find((p) => p.path === paths[0]);
    expect(hello?.references.map((p) => p.replace(/^.*?-/, ''))).toEqual(['busybox']);
  });

  it('throws one line naming the missing packages, sorted', async () => {
    const r = await prepare(['zzz-nope', 'hello', 'aaa-nope', 'tools.nope']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/^error: nixyard-missing-packages: \["aaa-nope","tools\.nope","zzz-nope"\]$/m);
    expect(r.stderr).not.toContain('nixyard-not-a-package');
  });

  it('names attributes that are not derivations with their own marker', async () => {
    const r = await prepare(['hello', 'tools', 'syntheticapps']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/^error: nixyard-not-a-package: \["syntheticapps","tools"\]$/m);
  });

  it('names packages that evaluation refuses, and why', async () => {
    const r = await prepare(['unfree-demo', 'hello', 'broken-demo']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/^error: nixyard-refused-packages: \{"broken-demo":"broken","unfree-demo":"unfree"\}$/m);
  });

  it('finds dotted paths, other cases and names that begin with a digit', async () => {
    const r = await prepare(['tools.hello2', 'bashinteractive', '1hello', 'TOOLS.HELLO2', 'bash']);
    expect(r.exitCode, r.stderr).toBe(0);
    const paths = r.stdout.split('\n');
    // duplicates (tools.hello2 twice, bash = bashInteractive) are built and listed once
    expect(paths.map((p) => p.replace(/^.*?-/, ''))).toEqual(['hello2', 'bash-interactive', '1hello']);
    expect((await run(path.join(paths[2] as string, 'bin/1hello'), [])).stdout).toBe('Hello from _1hello!');
    expect((await run(path.join(paths[0] as string, 'bin/hello2'), [])).stdout).toBe('Hello from tools.hello2!');
  });

  it("leaves other evaluation errors to Nix, with Nix's message", async () => {
    const r = await prepare(['hello', 'removed-demo']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error: removed-demo has been removed from the demo set: use hello instead');
    // No error of prepare-image's own (the trace of the names it found is not one).
    expect(r.stderr).not.toMatch(/nixyard-(missing-packages|not-a-package|refused-packages)/);
  });

  it('leaves build failures to nix-build, with the build log', async () => {
    const r = await prepare(['failing-demo']);
    expect(r.exitCode).toBe(100);
    expect(r.stderr).toContain('failing-demo: error: this package is meant to fail to build');
  });

  it('passes "args" of a path source to the set, and rejects arguments it does not take', async () => {
    const ok = await prepare(['synth-app-002'], { path: demoDir, args: { syntheticCount: 6 } });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const bad = await prepare(['hello'], { path: demoDir, args: { syntheticCont: 6 } });
    expect(bad.stderr).toMatch(/^error: nixyard-bad-source: the package set does not take the argument\(s\) syntheticCont$/m);
  });

  it('loads the same set from git and from a tarball URL', async () => {
    const src = path.join(tmp, 'src', 'demo');
    await mkdir(path.dirname(src), { recursive: true });
    await cp(demoDir, src, { recursive: true });
    const git = async (...args: string[]) => {
      const r = await run('git', ['-C', src, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args]);
      if (r.failed) throw new Error(`git ${args.join(' ')} failed (apt-get install -y git):\n${r.stderr}`);
      return r.stdout;
    };
    await git('init', '-q');
    await git('add', '.');
    await git('commit', '-qm', 'demo');
    const rev = await git('rev-parse', 'HEAD');
    const tarball = path.join(tmp, 'src', 'demo.tar.gz');
    const tar = await run('tar', ['--exclude', '.git', '-C', path.dirname(src), '-czf', tarball, 'demo']);
    expect(tar.exitCode, tar.stderr).toBe(0);

    const fromPath = await prepare(['hello']);
    const fromGit = await prepare(['hello'], { url: `file://${src}`, rev }, 'git');
    const fromTarball = await prepare(['hello'], { url: `file://${tarball}` }, 'nixpkgs');
    expect(fromGit.exitCode, fromGit.stderr).toBe(0);
    expect(fromTarball.exitCode, fromTarball.stderr).toBe(0);
    expect(fromGit.stdout).toBe(fromPath.stdout);
    expect(fromTarball.stdout).toBe(fromPath.stdout);
  });
});

describe('synthetic packages', () => {
  const evalSynthetic = async () => {
    const r = await run('nix-instantiate', ['--eval', '--strict', '--json', '-E',
      `let s = import ${demoDir} { syntheticCount = 20; }; in
       { apps = s.syntheticApps; paths = map (n: s.\${n}.outPath) (s.syntheticApps ++ s.syntheticLibs); }`]);
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { apps: string[]; paths: string[] };
  };

  it('are a function of their count: two evaluations give the same store paths', async () => {
    const [a, b] = await Promise.all([evalSynthetic(), evalSynthetic()]);
    expect(a.apps).toHaveLength(10);
    expect(a.apps[0]).toBe('synth-app-001');
    expect(a.paths).toHaveLength(20);
    expect(b).toEqual(a);
  });

  it('have deep closures, and every app checks its libraries', async () => {
    const { apps } = await evalSynthetic();
    const built = await buildDemo(apps, { syntheticCount: 20 });
    let deepest = 0;
    for (const app of apps) {
      const p = built[app] as string;
      const r = await run(path.join(p, 'bin', app), []);
      expect(r.stdout, r.stderr).toBe(`${app} ok`);
      deepest = Math.max(deepest, (await closure([p])).length);
    }
    expect(deepest).toBeGreaterThan(5);
  });
});

describe('programs in a root made of their closure only (chroot)', () => {
  it('run hello, bash and a synthetic app', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root (it uses chroot)');
    const b = await buildDemo(['hello', 'bashInteractive', 'coreutils', 'synth-app-001'], { syntheticCount: 20 });
    const root = path.join(tmp, 'root');
    await mkdir(path.join(root, 'nix/store'), { recursive: true });
    await mkdir(path.join(root, 'bin'));
    for (const p of await closure(Object.values(b))) {
      await cp(p, path.join(root, p), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    }
    // the symlink root: /bin/<program> → the program in its store path
    for (const p of Object.values(b)) {
      for (const name of await readdir(path.join(p, 'bin'))) {
        await symlink(path.join(p, 'bin', name), path.join(root, 'bin', name)).catch(() => undefined);
      }
    }
    const chroot = (await access('/usr/sbin/chroot').then(() => true, () => false)) ? '/usr/sbin/chroot' : 'chroot';
    const inRoot = (...args: string[]) => run(chroot, [root, ...args], { env: { PATH: '/bin' }, extendEnv: false });

    expect((await inRoot('/bin/hello')).stdout).toBe('Hello, world!');
    expect((await inRoot('/bin/bash', '-c', 'echo hi')).stdout).toBe('hi');
    expect((await inRoot('/bin/bash', '-c', 'ls /bin | wc -l; cat /nix/store/*-hello/bin/hello | wc -l')).stdout)
      .toMatch(/^\d+\n2$/);
    const app = await inRoot('/bin/synth-app-001');
    expect(app.stdout, app.stderr).toBe('synth-app-001 ok');

    // …and the app notices a library missing from the root.
    const lib = (await readdir(path.join(root, 'nix/store'))).find((n) => /-synth-lib-\d+$/.test(n));
    expect(lib).toBeDefined();
    const libDir = path.join(root, 'nix/store', lib as string, 'lib');
    await chmod(libDir, 0o755);
    for (const f of await readdir(libDir)) await unlink(path.join(libDir, f));
    const broken = await inRoot('/bin/synth-app-001');
    expect(broken.exitCode).not.toBe(0);
    expect(broken.stderr).toContain('is missing or damaged');
  });
});
