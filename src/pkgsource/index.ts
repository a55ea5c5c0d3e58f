/** The package source the configuration names. */
import type { PackageSourceConfig } from '../config.js';
import { ChannelSource } from './channel-source.js';
import { GitSource } from './git-source.js';
import { PathSource } from './path-source.js';
import type { PackageSource } from './types.js';

/** Creates the configured package source. */
export function createPackageSource(config: PackageSourceConfig): PackageSource {
  switch (config.type) {
    case 'channel':
      return new ChannelSource(config.channel, { channels: config.channelsUrl, tarballs: config.tarballsUrl }, config.ttlSeconds * 1000);
    case 'git':
      return new GitSource(config.repository, config.ttlSeconds * 1000);
    case 'path':
      return new PathSource(config.path, config.ttlSeconds * 1000, config.args);
  }
}
