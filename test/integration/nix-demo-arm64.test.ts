// The aarch64 variant of the demo package set (nix/demo with system = "aarch64-linux"), against
// real Nix on an x86_64 machine: the packages hold Debian's arm64 static busybox (installed by
// scripts/fetch-arm64-busybox.sh) and are built here without running any aarch64 code. Checked
// statically, from the bytes: ELF headers, `#!` lines, symlinks, derivations' systems and builders.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execa } from 'execa';
import { access, lstat, mkdtemp, open, readdir, readFile, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireDemoBuildTools } from '../helpers/tools.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const demoDir = path.join(repo, 'nix', 'demo');
const prepareImage = path.join(repo, 'nix', 'prepare-image.nix');
const nixEnv = { NIX_CONFIG: 'substituters =\nexperimental-features = nix-command' };
/** Where scripts/fetch-arm64-busybox.sh installs it, and where nix/demo looks by default. */
const ARM64_BUSYBOX = '/usr/local/lib/nixyard/busybox-aarch64';
const FETCH_HINT = 'run scripts/fetch-arm64-busybox.sh';

const EM_X86_64 = 0x3e;
const EM_AARCH64 = 0xb7;

let tmp = '';
let links = 0;

async function run(cmd: string, args: string[], opts: { env?: Record<string, string> } = {}) {
  return execa(cmd, args, { env: { ...nixEnv, ...opts.env }, reject: false });
}

/** prepare-image.nix with the demo set as a `path` source, as the server calls it. */
async function prepare(packages: string[], system: string, setArgs: object = {}) {
  links += 1;
  return run('nix-build', [
    prepareImage, '--argstr', 'srcType', 'path', '--argstr', 'srcArgs', JSON.stringify({ path: demoDir, args: setArgs }),
    '--argstr', 'system', system, '--argstr', 'packages', JSON.stringify(packages),
    '--out-link', path.join(tmp, `result-${links}`),
  ]);
}

/** The output paths of `packages` for `system`, in the order asked. */
async function build(packages: string[], system: string, setArgs: object = {}): Promise<Record<string, string>> {
  const r = await prepare(packages, system, setArgs);
  if (r.exitCode !== 0) throw new Error(`building ${packages.join(' ')} for ${system} failed:\n${r.stderr}`);
  const paths = r.stdout.split('\n').filter((l) => l !== '');
  expect(paths).toHaveLength(packages.length);
  return Object.fromEntries(packages.map((p, i) => [p, paths[i] as string]));
}

async function closure(paths: string[]): Promise<string[]> {
  const r = await run('nix', ['path-info', '-r', ...paths]);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '');
}

const storeName = (p: string) => p.replace(/^\/nix\/store\/[0-9a-z]{32}-/, '');

interface Elf { elfClass: number; littleEndian: boolean; machine: number }

/** The ELF identification and e_machine of a file, or null when it is not an ELF file. */
async function elfHeader(file: string): Promise<Elf | null> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(20);
    const { bytesRead } = await fh.read(b, 0, 20, 0);
    if (bytesRead < 20 || b.readUInt32BE(0) !== 0x7f454c46) return null;
    const littleEndian = b[5] === 1;
    return { elfClass: b[4] as number, littleEndian, machine: littleEndian ? b.readUInt16LE(18) : b.readUInt16BE(18) };
  } finally {
    await fh.close();
  }
}

/** Every file under a store path: regular files and symlinks (directories walked). */
async function walk(root: string): Promise<{ file: string; symlink: boolean }[]> {
  const st = await lstat(root);
  if (st.isSymbolicLink()) return [{ file: root, symlink: true }];
  if (st.isFile()) return [{ file: root, symlink: false }];
  const out: { file: string; symlink: boolean }[] = [];
  for (const name of (await readdir(root)).sort()) out.push(...(await walk(path.join(root, name))));
  return out;
}

/**
 * busybox's table of applet names, read from the binary: the NUL-separated, sorted list that
 * begins "[", "[[" and ends with an empty name (what `busybox --list` prints; nix/demo reads a
 * foreign busybox's applets the same way).
 */
function appletTable(binary: Buffer): string[] {
  const start = binary.indexOf(Buffer.from('\0[\0[[\0', 'latin1'));
  if (start < 0) return [];
  const end = binary.indexOf(Buffer.from('\0\0', 'latin1'), start + 1);
  return binary.subarray(start + 1, end).toString('latin1').split('\0');
}

beforeAll(async () => {
  if (process.arch !== 'x64') throw new Error(`these tests build the aarch64 demo set on an x86_64 machine; this one is ${process.arch}`);
  await requireDemoBuildTools();
  const arm = await access(ARM64_BUSYBOX).then(() => elfHeader(ARM64_BUSYBOX), () => null);
  if (arm?.machine !== EM_AARCH64) {
    throw new Error(`${ARM64_BUSYBOX} is missing or not an aarch64 ELF (the aarch64 demo set holds it): ${FETCH_HINT}`);
  }
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nixyard-nix-demo-arm64-'));
});

afterAll(async () => {
  if (tmp !== '') await rm(tmp, { recursive: true, force: true });
});

const IMAGE = ['hello', 'bashInteractive', 'coreutils', 'cacert'];

describe('the demo package set for aarch64-linux, built on x86_64', () => {
  it('builds hello, bashInteractive, coreutils and cacert through prepare-image.nix', async () => {
    const arm = await build(IMAGE, 'aarch64-linux');
    expect(Object.values(arm).map(storeName)).toEqual(['hello', 'bash-interactive', 'coreutils', 'cacert']);
    const paths = await closure(Object.values(arm));
    expect(paths.map(storeName).sort()).toEqual(['bash-interactive', 'busybox', 'cacert', 'coreutils', 'hello']);
  });

  it("holds Debian's arm64 busybox (an aarch64 ELF) where the x86_64 set holds the host's (x86-64)", async () => {
    const arm = await build(['busybox'], 'aarch64-linux');
    const x86 = await build(['busybox'], 'x86_64-linux');
    const armBin = path.join(arm.busybox as string, 'bin/busybox');
    const x86Bin = path.join(x86.busybox as string, 'bin/busybox');
    expect(await elfHeader(armBin)).toEqual({ elfClass: 2, littleEndian: true, machine: EM_AARCH64 });
    expect(await elfHeader(x86Bin)).toEqual({ elfClass: 2, littleEndian: true, machine: EM_X86_64 });
    // (Buffer.equals: vitest's deep equality is slow on megabytes)
    expect((await readFile(armBin)).equals(await readFile(ARM64_BUSYBOX)), 'the arm64 binary, copied').toBe(true);
    expect((await readFile(x86Bin)).equals(await readFile('/bin/busybox')), "the host's binary, copied").toBe(true);
  });

  it('links every applet of the arm64 busybox, read from its table of applet names', async () => {
    // The table reader gives exactly what the host's busybox lists about itself…
    const list = await run('/bin/busybox', ['--list']);
    expect(appletTable(await readFile('/bin/busybox'))).toEqual(list.stdout.split('\n'));
    // …and the arm64 package has a symlink to busybox for each applet of its binary.
    const { busybox } = await build(['busybox'], 'aarch64-linux');
    const bin = path.join(busybox as string, 'bin');
    const applets = appletTable(await readFile(path.join(bin, 'busybox')));
    expect(applets).toEqual(expect.arrayContaining(['sh', 'ash', 'ls', 'cat', 'vi', 'wget']));
    expect((await readdir(bin)).sort()).toEqual([...new Set([...applets, 'busybox'])].sort());
    expect(await readlink(path.join(bin, 'sh'))).toBe('busybox');
  });

  it('has other store paths than the x86_64 set, except for packages without programs', async () => {
    const arm = await build([...IMAGE, 'busybox', 'iana-etc'], 'aarch64-linux');
    const x86 = await build([...IMAGE, 'busybox', 'iana-etc'], 'x86_64-linux');
    for (const p of ['hello', 'bashInteractive', 'coreutils', 'busybox']) expect(arm[p], p).not.toBe(x86[p]);
    // plain data, built by the host's busybox either way: one store path shared by both images
    for (const p of ['cacert', 'iana-etc']) expect(arm[p], p).toBe(x86[p]);
  });

  it("runs hello with the aarch64 busybox: its `#!` line and its only reference", async () => {
    const { hello, busybox } = await build(['hello', 'busybox'], 'aarch64-linux');
    const script = await readFile(path.join(hello as string, 'bin/hello'), 'utf8');
    expect(script).toBe(`#!${busybox}/bin/sh\necho 'Hello, world!'\n`);
    expect((await closure([hello as string])).sort()).toEqual([busybox, hello].sort());
  });

  it('has no x86-64 code in its closure: every ELF, `#!` line and absolute symlink is aarch64 busybox', async () => {
    const arm = await build([...IMAGE, 'moreutils', 'nano', 'gnugrep', 'synth-app-001'], 'aarch64-linux', { syntheticCount: 10 });
    const { busybox } = await build(['busybox'], 'aarch64-linux');
    const paths = await closure(Object.values(arm));
    expect(paths.filter((p) => storeName(p) === 'busybox')).toEqual([busybox]);
    let elves = 0;
    let scripts = 0;
    for (const root of paths) {
      for (const { file, symlink } of await walk(root)) {
        if (symlink) {
          const target = await readlink(file);
          if (path.isAbsolute(target)) expect(target, file).toMatch(new RegExp(`^${busybox}/`));
          continue;
        }
        const elf = await elfHeader(file);
        if (elf !== null) {
          elves += 1;
          expect(elf.machine, file).toBe(EM_AARCH64);
          continue;
        }
        const text = await readFile(file, 'latin1');
        if (text.startsWith('#!')) {
          scripts += 1;
          expect(text.split('\n')[0], file).toBe(`#!${busybox}/bin/sh`);
        }
        // nothing names a store path outside the closure (e.g. the host's busybox)
        for (const ref of text.match(/\/nix\/store\/[0-9a-z]{32}-[^/\s"'$)]+/g) ?? []) expect(paths, file).toContain(ref);
      }
    }
    expect(elves).toBe(1);
    expect(scripts).toBeGreaterThanOrEqual(4); // hello, bash, sponge, nano, synth-app-001
  });

  it("is built on this machine: every derivation's system is x86_64-linux, and no builder is aarch64", async () => {
    const inst = await run('nix-instantiate', [
      prepareImage, '--argstr', 'srcType', 'path', '--argstr', 'srcArgs', JSON.stringify({ path: demoDir, args: { syntheticCount: 6 } }),
      '--argstr', 'system', 'aarch64-linux', '--argstr', 'packages', JSON.stringify([...IMAGE, 'synth-app-002']),
    ]);
    expect(inst.exitCode, inst.stderr).toBe(0);
    const roots = inst.stdout.split('\n').filter((l) => l !== '');
    const realised = await run('nix-store', ['--realise', ...roots]); // so that the builders can be read
    expect(realised.exitCode, realised.stderr).toBe(0);
    const shown = await run('nix', ['show-derivation', '-r', ...roots]);
    expect(shown.exitCode, shown.stderr).toBe(0);
    const drvs = Object.values(JSON.parse(shown.stdout) as Record<string, { system: string; builder: string; outputs: { out: { path: string } } }>);
    expect(drvs.length).toBeGreaterThan(6);
    const busyboxes = drvs.filter((d) => storeName(d.outputs.out.path) === 'busybox').map((d) => d.outputs.out.path);
    expect(busyboxes).toHaveLength(2); // the host's (runs the builds) and the arm64 one (in the images)
    for (const d of drvs) {
      expect(d.system).toBe('x86_64-linux');
      expect(d.builder === '/bin/busybox' || (await elfHeader(d.builder))?.machine === EM_X86_64, d.builder).toBe(true);
    }
  });

  it('builds the same bytes again (nix-build --check rebuilds and compares)', async () => {
    await build(['busybox', 'hello', 'coreutils', 'synth-app-001'], 'aarch64-linux', { syntheticCount: 4 });
    const r = await run('nix-build', [demoDir, '--argstr', 'system', 'aarch64-linux', '--arg', 'syntheticCount', '4',
      '--check', '--no-out-link', '-A', 'busybox', '-A', 'hello', '-A', 'coreutils', '-A', 'synth-app-001']);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('has the same synthetic data files as the x86_64 set; only the scripts differ', async () => {
    const arm = await build(['synth-app-001', 'busybox'], 'aarch64-linux', { syntheticCount: 4 });
    const x86 = await build(['synth-app-001', 'busybox'], 'x86_64-linux', { syntheticCount: 4 });
    const data = 'share/synth-app-001/data';
    const armData = await readFile(path.join(arm['synth-app-001'] as string, data));
    expect(armData.length).toBeGreaterThan(0);
    expect(armData.equals(await readFile(path.join(x86['synth-app-001'] as string, data)))).toBe(true);
    const script = await readFile(path.join(arm['synth-app-001'] as string, 'bin/synth-app-001'), 'utf8');
    expect(script.split('\n')[0]).toBe(`#!${arm.busybox}/bin/sh`);
    expect(script).not.toContain(x86.busybox as string);
  });

  it('says how to get the arm64 busybox when it is missing, and refuses one of another architecture', async () => {
    const missing = await prepare(['hello'], 'aarch64-linux', { busyboxAarch64Path: path.join(tmp, 'no-such-busybox') });
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain(`${path.join(tmp, 'no-such-busybox')}, which is missing: ${FETCH_HINT}`);
    const wrong = await prepare(['hello'], 'aarch64-linux', { busyboxAarch64Path: '/bin/busybox' });
    expect(wrong.exitCode).toBe(100);
    expect(wrong.stderr).toContain('/bin/busybox is not an aarch64 ELF binary');
  });

  it('refuses systems it has no busybox for', async () => {
    const r = await prepare(['hello'], 'riscv64-linux');
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('the demo package set has no busybox for riscv64-linux');
  });
});
