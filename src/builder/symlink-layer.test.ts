import { describe, expect, it } from 'vitest';
import { USER_FILES } from '../image/users.js';
import { symlinkLayerEntries, type ListDirectory } from './symlink-layer.js';

const usersFile = (name: string) => ({ type: 'contents', name: `etc/${name}`, mode: 0o644, contents: Buffer.from(USER_FILES[name] ?? '') });
const homes = [
  { type: 'directory', name: 'home', mode: 0o755 },
  { type: 'directory', name: 'home/nonroot', mode: 0o755, uid: 65532, gid: 65532 },
];

/** A fake store: path → directory listing. */
function fakeStore(tree: Record<string, Record<string, 'directory' | 'other'>>): ListDirectory {
  return async (path) => {
    const listing = tree[path];
    return listing ? Object.entries(listing).map(([name, kind]) => ({ name, kind })) : undefined;
  };
}

describe('symlinkLayerEntries', () => {
  it('merges shared directories and links the rest (the doc example)', async () => {
    const list = fakeStore({
      '/nix/store/a-hello': { bin: 'directory', 'nix-support': 'directory' },
      '/nix/store/a-hello/bin': { hello: 'other' },
      '/nix/store/b-coreutils': { bin: 'directory' },
      '/nix/store/b-coreutils/bin': { ls: 'other', env: 'other' },
      '/nix/store/c-cacert': { etc: 'directory' },
      '/nix/store/c-cacert/etc': { ssl: 'directory' },
      '/nix/store/d-iana-etc': { etc: 'directory' },
      '/nix/store/d-iana-etc/etc': { services: 'other' },
    });
    const entries = await symlinkLayerEntries(['/nix/store/a-hello', '/nix/store/b-coreutils', '/nix/store/c-cacert', '/nix/store/d-iana-etc'], list);
    expect(entries).toEqual([
      { type: 'directory', name: 'bin', mode: 0o755 },
      { type: 'symlink', name: 'bin/env', target: '/nix/store/b-coreutils/bin/env' },
      { type: 'symlink', name: 'bin/hello', target: '/nix/store/a-hello/bin/hello' },
      { type: 'symlink', name: 'bin/ls', target: '/nix/store/b-coreutils/bin/ls' },
      { type: 'directory', name: 'etc', mode: 0o755 },
      usersFile('group'),
      usersFile('nsswitch.conf'),
      usersFile('passwd'),
      { type: 'symlink', name: 'etc/services', target: '/nix/store/d-iana-etc/etc/services' },
      { type: 'symlink', name: 'etc/ssl', target: '/nix/store/c-cacert/etc/ssl' },
      ...homes,
      { type: 'directory', name: 'root', mode: 0o700 },
      { type: 'directory', name: 'tmp', mode: 0o1777 },
      { type: 'directory', name: 'usr', mode: 0o755 },
      { type: 'directory', name: 'usr/bin', mode: 0o755 },
      { type: 'symlink', name: 'usr/bin/env', target: '/bin/env' },
    ]);
  });

  it('links a directory only one package has as a whole', async () => {
    const list = fakeStore({ '/nix/store/a-x': { share: 'directory' }, '/nix/store/a-x/share': { doc: 'directory' } });
    const entries = await symlinkLayerEntries(['/nix/store/a-x'], list);
    expect(entries.filter((e) => e.name.startsWith('share'))).toEqual([{ type: 'symlink', name: 'share', target: '/nix/store/a-x/share' }]);
  });

  it('gives a clash of files to the first package, whatever the listing order', async () => {
    const list = fakeStore({
      '/nix/store/a-bash': { bin: 'directory' },
      '/nix/store/a-bash/bin': { sh: 'other' },
      '/nix/store/b-busybox': { bin: 'directory' },
      '/nix/store/b-busybox/bin': { sh: 'other', vi: 'other' },
    });
    const entries = await symlinkLayerEntries(['/nix/store/a-bash', '/nix/store/b-busybox'], list);
    expect(entries.find((e) => e.name === 'bin/sh')).toEqual({ type: 'symlink', name: 'bin/sh', target: '/nix/store/a-bash/bin/sh' });
    expect(entries.find((e) => e.name === 'bin/vi')).toEqual({ type: 'symlink', name: 'bin/vi', target: '/nix/store/b-busybox/bin/vi' });
  });

  it('skips nix-support and leaves /usr alone when a package provides it', async () => {
    const list = fakeStore({ '/nix/store/a-x': { 'nix-support': 'directory', usr: 'directory' } });
    const names = (await symlinkLayerEntries(['/nix/store/a-x'], list)).map((e) => e.name);
    expect(names).toEqual(['etc', 'etc/group', 'etc/nsswitch.conf', 'etc/passwd', 'home', 'home/nonroot', 'root', 'tmp', 'usr']);
  });

  it('keeps /etc a directory for one package, and a package’s /etc/passwd wins over the generated one', async () => {
    const list = fakeStore({ '/nix/store/a-users': { etc: 'directory' }, '/nix/store/a-users/etc': { passwd: 'other' } });
    const entries = await symlinkLayerEntries(['/nix/store/a-users'], list);
    expect(entries.filter((e) => e.name.startsWith('etc'))).toEqual([
      { type: 'directory', name: 'etc', mode: 0o755 },
      usersFile('group'),
      usersFile('nsswitch.conf'),
      { type: 'symlink', name: 'etc/passwd', target: '/nix/store/a-users/etc/passwd' },
    ]);
  });
});
