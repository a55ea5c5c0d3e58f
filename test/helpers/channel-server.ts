/**
 * TEST HELPER: a stand-in for channels.nixos.org and GitHub's nixpkgs archives on 127.0.0.1.
 * `GET /channels/<channel>/git-revision` answers the channel's commit, `GET /archive/<commit>.tar.gz`
 * a gzip tarball of a package-set directory under one top-level directory (as GitHub's
 * archives are, which `builtins.fetchTarball` strips). Every request is recorded.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from './serve.js';

/** A random 40-hex commit id: a fresh one per run, so Nix's tarball cache never holds it. */
export function randomCommit(): string {
  return randomBytes(20).toString('hex');
}

/** A running channel server. */
export interface ChannelServer {
  /** For NIXYARD_CHANNELS_URL. */
  channelsUrl: string;
  /** For NIXYARD_TARBALLS_URL. */
  tarballsUrl: string;
  /** Paths requested so far, in order (`/channels/x/git-revision`, `/archive/<commit>.tar.gz`). */
  requests: string[];
  /** Points `channel` at `commit` (what its git-revision answers). */
  setChannel(channel: string, commit: string): void;
  /** Serves a tarball of `dir` as the nixpkgs of `commit`. */
  addCommit(commit: string, dir: string): Promise<void>;
  close(): Promise<void>;
}

/** Makes the gzip tarball of `dir`, its files under the top-level directory `prefix/`. */
async function tarball(dir: string, prefix: string): Promise<Buffer> {
  const work = await mkdtemp(join(tmpdir(), 'nixyard-tarball-'));
  try {
    await cp(dir, join(work, prefix), { recursive: true });
    await execa('tar', ['czf', join(work, 'out.tar.gz'), '-C', work, prefix]);
    return await readFile(join(work, 'out.tar.gz'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Starts a channel server with no channels and no commits. */
export async function startChannelServer(): Promise<ChannelServer> {
  const channels = new Map<string, string>();
  const tarballs = new Map<string, Buffer>();
  const requests: string[] = [];
  const served = await listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const channel = /^\/channels\/([^/]+)\/git-revision$/.exec(path);
    const archive = /^\/archive\/([0-9a-f]{40})\.tar\.gz$/.exec(path);
    const commit = channel ? channels.get(channel[1] ?? '') : undefined;
    const body = archive ? tarballs.get(archive[1] ?? '') : undefined;
    if (commit !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`${commit}\n`);
    } else if (body !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Length': body.length }).end(body);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  });
  const base = `http://${served.host}`;
  return {
    channelsUrl: `${base}/channels`,
    tarballsUrl: `${base}/archive`,
    requests,
    setChannel: (channel, commit) => void channels.set(channel, commit),
    addCommit: async (commit, dir) => void tarballs.set(commit, await tarball(dir, `nixpkgs-${commit}`)),
    close: () => served.close(),
  };
}
