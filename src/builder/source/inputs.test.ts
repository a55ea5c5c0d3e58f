import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../secret.js';
import { planArgs } from './nixpacks.js';
import { checkAppDir, parseRepositoryUrl } from './repository.js';
import { bwrapArgs, SANDBOX_UID } from './sandbox.js';

describe('repository URLs', () => {
  it('takes https, ssh, git and scp-style URLs; hides credentials in every printed form', () => {
    for (const url of ['https://git.example.com/acme/shop.git', 'ssh://git@git.example.com/acme/shop.git', 'git://127.0.0.1:9418/shop.git', 'git@git.example.com:acme/shop.git']) {
      const repo = parseRepositoryUrl(url, false);
      expect(repo.reveal()).toBe(url);
      expect(String(repo)).toBe(url);
    }
    const secret = parseRepositoryUrl('https://alice:s3cr3t-token@git.example.com/acme/shop.git', false);
    expect(secret.reveal()).toBe('https://alice:s3cr3t-token@git.example.com/acme/shop.git');
    expect(secret.redacted).toBe('https://***@git.example.com/acme/shop.git');
    for (const printed of [`${secret}`, JSON.stringify({ secret }), inspect(secret), inspect({ secret })]) expect(printed).not.toContain('s3cr3t');
    expect(secret.scrub("fatal: could not read from 'https://alice:s3cr3t-token@git.example.com/acme/shop.git'")).toBe("fatal: could not read from 'https://***@git.example.com/acme/shop.git'");
    expect(new Secret('https://token123@host/x', 'https://***@host/x').scrub('auth failed for token123', ['token123'])).toBe('auth failed for ***');
  });

  it('refuses local paths unless allowed, and what is not a repository URL', () => {
    expect(() => parseRepositoryUrl('/srv/repos/shop', false)).toThrow(/the registry's own disk.*NIXYARD_SOURCE_ALLOW_LOCAL=1/);
    expect(() => parseRepositoryUrl('file:///srv/repos/shop', false)).toThrow(/NIXYARD_SOURCE_ALLOW_LOCAL/);
    expect(parseRepositoryUrl('file:///srv/repos/shop', true).reveal()).toBe('file:///srv/repos/shop');
    expect(() => parseRepositoryUrl('ftp://host/x', false)).toThrow(/not a repository URL/);
    expect(() => parseRepositoryUrl('shop', false)).toThrow(/not a repository URL/);
  });

  it('checks the app directory: relative, no way out of the repository', () => {
    expect(checkAppDir(undefined)).toBe('');
    expect(checkAppDir('/services/web/')).toBe('services/web');
    expect(checkAppDir('./web')).toBe('web');
    for (const bad of ['../etc', 'a/../../b', 'a b', 'x;rm']) expect(() => checkAppDir(bad)).toThrow(/is not a directory inside the repository/);
  });
});

describe('sandbox and planner arguments', () => {
  it('unshares everything, network only when allowed, the store read-only, a cleared environment', () => {
    const options = {
      writable: [{ host: '/w/app', path: '/app' }],
      readOnly: [{ host: '/w/etc/passwd', path: '/etc/passwd' }],
      links: [{ host: '/nix/store/x-bash/bin/sh', path: '/bin/sh' }],
      cwd: '/app',
      env: { PATH: '/nix/store/x-node/bin', HOME: '/root' },
      network: false,
      shell: '/nix/store/x-bash/bin/sh',
    };
    const args = bwrapArgs(options, 'npm ci');
    expect(args.slice(0, 3)).toEqual(['--die-with-parent', '--new-session', '--unshare-all']);
    expect(args).not.toContain('--share-net');
    expect(args.join(' ')).toContain(`--uid ${SANDBOX_UID} --gid ${SANDBOX_UID} --ro-bind /nix/store /nix/store`);
    expect(args.join(' ')).toContain('--bind /w/app /app --ro-bind /w/etc/passwd /etc/passwd --symlink /nix/store/x-bash/bin/sh /bin/sh --chdir /app --clearenv');
    expect(args.slice(-4)).toEqual(['--', '/nix/store/x-bash/bin/sh', '-c', 'npm ci']);
    expect(bwrapArgs({ ...options, network: true }, 'true')).toContain('--share-net');
  });

  it('passes overrides as nixpacks flags and extra packages as NIXPACKS_PKGS (which keeps the overlays)', () => {
    expect(planArgs('/w/app', { startCmd: 'node x.js', pkgs: ['ffmpeg', 'hello'], env: { K: 'V' } })).toEqual(['plan', '--format', 'json', '--start-cmd', 'node x.js', '--env', 'K=V', '--env', 'NIXPACKS_PKGS=ffmpeg hello', '/w/app']);
    expect(planArgs('/w/app', {})).toEqual(['plan', '--format', 'json', '/w/app']);
  });
});
