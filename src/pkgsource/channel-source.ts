/**
 * `NIXERY_CHANNEL`: a nixpkgs channel name or commit. A name is resolved to the channel's
 * current commit (`<channels URL>/<channel>/git-revision`) and resolved again once `ttlMs` has
 * passed since it was read, so images are cached by commit: a pull is not a rebuild (Nixery
 * rebuilds every pull of a channel), and a moved channel is followed within the TTL. A commit is
 * used as it is, without any request. Nix fetches `<tarballs URL>/<commit>.tar.gz`; the URL
 * names the commit, so Nix's own tarball cache (`tarball-ttl`) can never hand out another
 * commit's files.
 */
import { RegistryError } from '../errors.js';
import { Expiring, type Clock } from './expiring.js';
import { COMMIT } from './git-refs.js';
import type { PackageSource, ResolvedSource } from './types.js';

/** Longest the channel server may take to answer. */
export const CHANNEL_REQUEST_TIMEOUT_MS = 15_000;

/** Where channels and nixpkgs tarballs are fetched from. */
export interface ChannelUrls {
  /** Base of `<channel>/git-revision` (https://channels.nixos.org). */
  channels: string;
  /** Base of `<commit>.tar.gz` (https://github.com/NixOS/nixpkgs/archive). */
  tarballs: string;
}

/** True when `channel` is a nixpkgs commit rather than a channel name. */
export function isCommit(channel: string): boolean {
  return COMMIT.test(channel);
}

/** The URL of the file holding a channel's current nixpkgs commit. */
export function channelRevisionUrl(urls: ChannelUrls, channel: string): string {
  return `${urls.channels.replace(/\/+$/, '')}/${channel}/git-revision`;
}

/** The URL of the nixpkgs tarball of `commit` (with one top-level directory, as GitHub's archives). */
export function nixpkgsTarballUrl(urls: ChannelUrls, commit: string): string {
  return `${urls.tarballs.replace(/\/+$/, '')}/${commit}.tar.gz`;
}

/** The commit in a `git-revision` file's body, or `undefined` when it holds none. */
export function parseGitRevision(body: string): string | undefined {
  const commit = body.trim();
  return COMMIT.test(commit) ? commit : undefined;
}

/** A package source following a nixpkgs channel (or pinned to one commit). */
export class ChannelSource implements PackageSource {
  readonly description: string;
  private readonly commit: Expiring<string>;

  constructor(
    private readonly channel: string,
    private readonly urls: ChannelUrls,
    ttlMs: number,
    now?: Clock,
  ) {
    this.description = isCommit(channel) ? `nixpkgs commit ${channel}` : `nixpkgs channel ${channel}`;
    this.commit = new Expiring(() => this.readCommit(), ttlMs, now);
  }

  private async readCommit(): Promise<string> {
    const url = channelRevisionUrl(this.urls, this.channel);
    const unavailable = (reason: string, cause?: unknown) =>
      new RegistryError('UNAVAILABLE', `could not resolve the nixpkgs channel ${this.channel} to a commit: ${reason}`, { detail: { channel: this.channel, url }, cause });
    let response: Response;
    let body: string;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(CHANNEL_REQUEST_TIMEOUT_MS) });
      body = await response.text();
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw unavailable(`${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, error);
    }
    if (!response.ok) throw unavailable(`${url} answered ${response.status}${response.status === 404 ? ' (is the channel name right?)' : ''}`);
    const commit = parseGitRevision(body);
    if (commit === undefined) throw unavailable(`${url} did not answer with a commit but ${JSON.stringify(body.trim().slice(0, 80))}`);
    return commit;
  }

  async resolve(_tag: string): Promise<ResolvedSource> {
    return this.atCommit(isCommit(this.channel) ? this.channel : await this.commit.get());
  }

  atCommit(commit: string): ResolvedSource {
    return { revision: `nixpkgs:${commit}`, nix: { srcType: 'nixpkgs', srcArgs: JSON.stringify({ url: nixpkgsTarballUrl(this.urls, commit) }) } };
  }

  async tags(): Promise<string[]> {
    return ['latest'];
  }
}
