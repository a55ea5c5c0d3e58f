import { describe, expect, it } from 'vitest';
import { abandonedRootDirs, rootDirPrefix, type RootsOwner } from './nix-build-starter.js';

const self: RootsOwner = { host: 'node-a.example', pid: 4242, startedAt: 1_000_000 };
const running = new Set([77, 4242]);
const isRunning = (pid: number) => running.has(pid);
const dir = (owner: Pick<RootsOwner, 'host' | 'pid'>, suffix = 'Ab3xYz', mtimeMs = 2_000_000) => ({ name: `${rootDirPrefix(owner)}${suffix}`, mtimeMs });

describe('abandonedRootDirs', () => {
  it('names the directories of processes of this host that run no more', () => {
    const gone = dir({ host: self.host, pid: 99 });
    expect(abandonedRootDirs([gone, dir({ host: self.host, pid: 77 })], self, isRunning)).toEqual([gone.name]);
  });

  it('takes a directory of its own pid for a previous run only when it is older than this process', () => {
    const before = dir(self, 'old123', self.startedAt - 1);
    const mine = dir(self, 'new123', self.startedAt + 5);
    expect(abandonedRootDirs([before, mine], self, isRunning)).toEqual([before.name]);
  });

  it('leaves other hosts, hosts with dashes in their name told apart, and names of another form', () => {
    const entries = [
      dir({ host: 'node-b', pid: 99 }),
      dir({ host: `x-${self.host}`, pid: 99 }),
      { name: 'nix-Ab3xYz', mtimeMs: 0 }, // made before directories were named after their owner
      { name: `${rootDirPrefix({ host: self.host, pid: 99 })}short`, mtimeMs: 0 },
      { name: 'build-99', mtimeMs: 0 },
    ];
    expect(abandonedRootDirs(entries, self, isRunning)).toEqual([]);
    const dashed = { ...self, host: 'a-b-c' };
    expect(abandonedRootDirs([dir({ host: 'a-b-c', pid: 99 }), dir({ host: 'b-c', pid: 99 })], dashed, isRunning)).toEqual([`${rootDirPrefix({ host: 'a-b-c', pid: 99 })}Ab3xYz`]);
  });
});
