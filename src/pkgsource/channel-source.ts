/**
 * `NIXERY_CHANNEL`: a nixpkgs channel name or commit. A name is resolved to the channel's
 * current commit (`<channels URL>/<channel>/git-revision`) and re-resolved after `ttlMs`, so
 * images are cached by commit, never served stale beyond the TTL, and not rebuilt on every
 * pull. The tarball of a commit comes from `<tarball URL>/<commit>.tar.gz`.
 */
import { LRUCache } from 'lru-cache';
import { RegistryError } from '../errors.js';
import type { PackageSource, ResolvedSource } from './types.js';

const COMMIT = /^[0-9a-f]{40}$/;

/** Where channels and nixpkgs tarballs are fetched from. */
export interface ChannelUrls {
  /** Base of `<channel>/git-revision` (https://channels.nixos.org). */
  channels: string;
  /** Base of `<commit>.tar.gz` (https://github.com/NixOS/nixpkgs/archive). */
  tarballs: string;
}

/** A package source following a nixpkgs channel (or pinned to one commit). */
export class ChannelSource implements PackageSource {
  readonly description: string;
  private readonly commits: LRUCache<string, string>;

  constructor(
    private readonly channel: string,
    private readonly urls: ChannelUrls,
    ttlMs: number,
  ) {
    this.description = COMMIT.test(channel) ? `nixpkgs commit ${channel}` : `nixpkgs channel ${channel}`;
    this.commits = new LRUCache<string, string>({ max: 1, ttl: Math.max(1, ttlMs), fetchMethod: () => this.fetchCommit() });
  }

  private async fetchCommit(): Promise<string> {
    const url = `${this.urls.channels.replace(/\/+$/, '')}/${this.channel}/git-revision`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      throw new RegistryError('UNAVAILABLE', `could not resolve channel ${this.channel} at ${url}: ${(error as Error).message}`, { cause: error });
    }
    const body = (await response.text()).trim();
    if (!response.ok || !COMMIT.test(body)) {
      throw new RegistryError('UNAVAILABLE', `could not resolve channel ${this.channel}: ${url} answered ${response.status} with ${JSON.stringify(body.slice(0, 80))}, not a commit`);
    }
    return body;
  }

  async resolve(_tag: string): Promise<ResolvedSource> {
    const commit = COMMIT.test(this.channel) ? this.channel : await this.commits.fetch('commit');
    if (commit === undefined) throw new RegistryError('UNAVAILABLE', `could not resolve channel ${this.channel}`);
    const url = `${this.urls.tarballs.replace(/\/+$/, '')}/${commit}.tar.gz`;
    return { revision: `nixpkgs:${commit}`, nix: { srcType: 'nixpkgs', srcArgs: JSON.stringify({ url }) } };
  }

  async tags(): Promise<string[]> {
    return ['latest'];
  }
}
