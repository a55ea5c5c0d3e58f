/** TEST HELPER: a package source pinned to one fixed revision, with the tags it lists. */
import type { PackageSource, ResolvedSource } from '../../src/pkgsource/types.js';

export class StaticPackageSource implements PackageSource {
  readonly description = 'static test source';
  constructor(
    private revision = 'fixture-rev-1',
    private readonly tagList = ['latest'],
  ) {}

  setRevision(revision: string): void {
    this.revision = revision;
  }

  async resolve(_tag: string): Promise<ResolvedSource> {
    return { revision: this.revision, nix: { srcType: 'path', srcArgs: '{}' } };
  }

  async tags(): Promise<string[]> {
    return this.tagList;
  }
}
