import { describe, expect, it } from 'vitest';
import { parseImageName } from './image-name.js';

describe('parseImageName', () => {
  it('sorts and de-duplicates packages and adds cacert and iana-etc', () => {
    expect(parseImageName('htop/git/htop', 'latest')).toEqual({
      name: 'htop/git/htop',
      packages: ['cacert', 'git', 'htop', 'iana-etc'],
      arch: undefined,
      hasShell: false,
      user: 'root',
      tag: 'latest',
    });
  });

  it('is order-insensitive', () => {
    const { name: _first, ...gitHtop } = parseImageName('git/htop', 't');
    const { name: _second, ...htopGit } = parseImageName('htop/git', 't');
    expect(gitHtop).toEqual(htopGit);
  });

  it('expands shell and keeps the tag (the doc example)', () => {
    expect(parseImageName('shell/htop/git', 'latest')).toEqual({
      name: 'shell/htop/git',
      packages: ['bashInteractive', 'cacert', 'coreutils', 'git', 'htop', 'iana-etc', 'moreutils', 'nano'],
      arch: undefined,
      hasShell: true,
      user: 'root',
      tag: 'latest',
    });
  });

  it('selects arm64 without losing the shell, wherever the meta-packages stand', () => {
    const request = parseImageName('hello/arm64/shell', 'v1');
    expect(request.arch).toBe('arm64');
    expect(request.hasShell).toBe(true);
    expect(request.packages).toContain('bashInteractive');
    expect(request.packages).not.toContain('arm64');
    expect(request.tag).toBe('v1');
  });

  it('nonroot, anywhere in the name, makes the image run as nonroot and is no package', () => {
    for (const name of ['nonroot/shell/git', 'git/nonroot/shell', 'shell/git/arm64/nonroot']) {
      const request = parseImageName(name, 'latest');
      expect(request.user, name).toBe('nonroot');
      expect(request.packages, name).not.toContain('nonroot');
    }
    expect(parseImageName('shell/git', 'latest').user).toBe('root');
  });

  it('counts an explicit bashinteractive as a shell', () => {
    expect(parseImageName('bashinteractive', 'latest').hasShell).toBe(true);
  });

  it('keeps dotted attribute paths intact', () => {
    expect(parseImageName('xorg.xev', 'latest').packages).toEqual(['cacert', 'iana-etc', 'xorg.xev']);
  });
});
