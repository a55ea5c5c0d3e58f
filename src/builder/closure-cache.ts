/**
 * What Nix said about packages at a revision, kept so that a new combination of known packages
 * needs no evaluation: for each package name, the store path it gave and that path's closure
 * (paths, sizes, references), under `closures/<scope>/<name>` in storage (shared by replicas),
 * with the most recent in memory (bounded in bytes). A scope is one package set at one revision
 * for one system; a changed revision is another scope, so its packages are evaluated again.
 *
 * Store paths never change at a revision, so a package's entry never goes stale; but another
 * replica's store may not have built them: the builder roots the paths first and evaluates as
 * usual when they are not all in this machine's store.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { closureKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import type { StorePathInfo } from '../layers/types.js';
import type { NixSourceArgs } from '../pkgsource/types.js';
import type { Derivation, KnownOutput } from './nix.js';

/** One package at one revision: its output path, that path's closure, its licenses, and the derivation that gives the path. */
export interface PackageClosure {
  root: string;
  closure: StorePathInfo[];
  licenses?: string[];
  derivation?: Derivation;
}

/**
 * The packages of a build, all known: their roots (in the order asked, each once), their closure,
 * and each name's output and licenses.
 */
export interface KnownClosure {
  roots: string[];
  graph: StorePathInfo[];
  packages: Record<string, string>;
  licenses: Record<string, string[]>;
}

/** An entry that says which derivation gives its root. */
type Realisable = PackageClosure & { derivation: Derivation };

/** Known packages, with what realises their roots without evaluating the set. */
export interface KnownPackages extends KnownClosure {
  /** Each root (in the order of `roots`) with its derivation and output. */
  outputs: KnownOutput[];
}

/** What Nix said of packages when it evaluated them (as `nix.ts` reads it from its traces). */
export interface Evaluated {
  packages: Readonly<Record<string, string>>;
  licenses: Readonly<Record<string, string[]>>;
  derivations?: Readonly<Record<string, Derivation>> | undefined;
}

/** Bytes of entries kept in memory. */
const MEMORY_BYTES = 8 * 1024 * 1024;

/** The scope of a package set at a revision for a system. */
export function closureScope(revision: string, source: NixSourceArgs, system: string): string {
  return createHash('sha256').update(JSON.stringify({ revision, srcType: source.srcType, srcArgs: source.srcArgs, system })).digest('hex');
}

/** The closure of `root` within `graph` (pure). */
export function closureWithin(root: string, graph: readonly StorePathInfo[]): StorePathInfo[] {
  const byPath = new Map(graph.map((info) => [info.path, info]));
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const path = stack.pop() as string;
    if (seen.has(path)) continue;
    const info = byPath.get(path);
    if (!info) throw new Error(`${path} is not in the closure Nix reported`);
    seen.add(path);
    stack.push(...info.references);
  }
  return graph.filter((info) => seen.has(info.path));
}

/** The roots and closure of packages from their entries by name (pure): roots in the order asked, each once. */
export function combine(entries: readonly (readonly [string, Realisable])[]): KnownPackages {
  const roots = [...new Set(entries.map(([, entry]) => entry.root))];
  const outputs = roots.map((root) => ({ path: root, ...(entries.find(([, entry]) => entry.root === root)?.[1] as Realisable).derivation }));
  const graph = new Map<string, StorePathInfo>();
  for (const [, entry] of entries) for (const info of entry.closure) graph.set(info.path, info);
  return {
    roots,
    outputs,
    graph: [...graph.values()],
    packages: Object.fromEntries(entries.map(([name, entry]) => [name, entry.root])),
    licenses: Object.fromEntries(entries.map(([name, entry]) => [name, entry.licenses ?? []])),
  };
}

/**
 * Whether an entry has what a build needs: the NAR hashes and licenses for SBOMs, the derivation
 * to realise the root with (entries of earlier versions lack them: those packages are evaluated once more).
 */
const complete = (entry: PackageClosure | undefined): entry is Realisable => entry !== undefined && entry.licenses !== undefined && entry.derivation !== undefined && entry.closure.every((info) => info.narHash !== undefined);

/** Per-package closures in storage, with a memory in front. */
export class ClosureCache {
  private readonly memory = new LRUCache<string, PackageClosure>({ maxSize: MEMORY_BYTES, sizeCalculation: (entry) => 200 + entry.closure.length * 300 });

  constructor(private readonly storage: Storage) {}

  /** The roots and closure of `packages` in `scope` when every one of them is known (and complete); else `undefined`. */
  async lookup(scope: string, packages: readonly string[]): Promise<KnownPackages | undefined> {
    const entries = await Promise.all(packages.map(async (name) => [name, await this.entry(scope, name)] as const));
    if (!entries.every((pair): pair is readonly [string, Realisable] => complete(pair[1]))) return undefined;
    return combine(entries);
  }

  /** Keeps what Nix said: each package's output (as traced), its closure within `graph`, its licenses and its derivation. */
  async remember(scope: string, { packages, licenses, derivations }: Evaluated, graph: readonly StorePathInfo[]): Promise<void> {
    await Promise.all(
      Object.entries(packages).map(async ([name, root]) => {
        const derivation = derivations?.[name];
        const entry: PackageClosure = { root, closure: closureWithin(root, graph), licenses: licenses[name] ?? [], ...(derivation ? { derivation } : {}) };
        this.memory.set(`${scope}/${name}`, entry);
        await this.storage.put(closureKey(scope, name), JSON.stringify(entry), 'application/json');
      }),
    );
  }

  private async entry(scope: string, name: string): Promise<PackageClosure | undefined> {
    const remembered = this.memory.get(`${scope}/${name}`);
    if (remembered) return remembered;
    const stored = await this.storage.get(closureKey(scope, name));
    if (!stored) return undefined;
    const entry = JSON.parse(stored.toString('utf8')) as PackageClosure;
    this.memory.set(`${scope}/${name}`, entry);
    return entry;
  }
}
