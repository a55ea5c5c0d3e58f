/**
 * An application's own dependencies, read from its lockfiles, for the SBOM of an image built from
 * source: npm's `package-lock.json` (versions 1 to 3; linked `file:` packages take the version of
 * their target), pip's `requirements.txt` (pinned `name==version` lines) and Pipenv's
 * `Pipfile.lock`. Other lockfiles (yarn, pnpm, poetry) are not read.
 */
import { PackageURL } from 'packageurl-js';

/** One dependency of the application. */
export interface AppDependency {
  ecosystem: 'npm' | 'pypi';
  name: string;
  version: string;
  purl: string;
  /** The lockfile it was read from (relative to the app's directory). */
  lockfile: string;
  /** The license the lockfile states, when it does (npm). */
  license?: string;
  /** True for a development dependency. */
  dev?: boolean;
}

/** The lockfiles read, by file name. */
export const LOCKFILES = ['package-lock.json', 'requirements.txt', 'Pipfile.lock'] as const;

const npmPurl = (name: string, version: string) => {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  return new PackageURL('npm', slash > 0 ? name.slice(0, slash) : undefined, slash > 0 ? name.slice(slash + 1) : name, version, undefined, undefined).toString();
};

/** PyPI names compare lower case with runs of `-_.` as one `-` (PEP 503), as PURLs spell them. */
const pypiName = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');
const pypi = (name: string, version: string, lockfile: string, dev?: boolean): AppDependency => ({
  ecosystem: 'pypi',
  name: pypiName(name),
  version,
  purl: new PackageURL('pypi', undefined, pypiName(name), version, undefined, undefined).toString(),
  lockfile,
  ...(dev ? { dev } : {}),
});

type NpmEntry = { version?: string; resolved?: string; link?: boolean; license?: string; dev?: boolean; dependencies?: Record<string, NpmEntry> };

/** The packages of a `package-lock.json` (pure). */
function npmDependencies(text: string, lockfile: string): AppDependency[] {
  const lock = JSON.parse(text) as { packages?: Record<string, NpmEntry>; dependencies?: Record<string, NpmEntry> };
  const found: AppDependency[] = [];
  const add = (name: string, entry: NpmEntry) => {
    if (!entry.version || /^(file|link|git\+|https?):/.test(entry.version)) return;
    found.push({ ecosystem: 'npm', name, version: entry.version, purl: npmPurl(name, entry.version), lockfile, ...(entry.license ? { license: entry.license } : {}), ...(entry.dev ? { dev: true } : {}) });
  };
  if (lock.packages) {
    for (const [key, entry] of Object.entries(lock.packages)) {
      const at = key.lastIndexOf('node_modules/');
      if (at < 0) continue;
      const target = entry.link && entry.resolved !== undefined ? lock.packages[entry.resolved] : entry;
      if (target) add(key.slice(at + 'node_modules/'.length), { ...target, dev: entry.dev ?? target.dev });
    }
  } else {
    const walk = (dependencies: Record<string, NpmEntry>) => {
      for (const [name, entry] of Object.entries(dependencies)) {
        add(name, entry);
        if (entry.dependencies) walk(entry.dependencies);
      }
    };
    walk(lock.dependencies ?? {});
  }
  return found;
}

/** The pinned requirements of a `requirements.txt` (pure): `name==version`, extras and markers left out. */
function requirementsDependencies(text: string, lockfile: string): AppDependency[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .flatMap((line) => {
      const pinned = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*===?\s*([A-Za-z0-9!+._-]+)\s*(?:;.*)?$/.exec(line);
      return pinned ? [pypi(pinned[1] as string, pinned[2] as string, lockfile)] : [];
    });
}

/** The packages of a `Pipfile.lock` (pure). */
function pipfileDependencies(text: string, lockfile: string): AppDependency[] {
  const lock = JSON.parse(text) as Record<string, Record<string, { version?: string }> | undefined>;
  return (['default', 'develop'] as const).flatMap((group) =>
    Object.entries(lock[group] ?? {}).flatMap(([name, entry]) => {
      const version = /^==(.+)$/.exec(entry.version ?? '')?.[1];
      return version ? [pypi(name, version, lockfile, group === 'develop')] : [];
    }),
  );
}

/**
 * The dependencies the lockfiles of an application state (pure): `files` maps a lockfile's name
 * to its text. Sorted by ecosystem, name and version, each once; a lockfile that does not parse
 * is named in `problems` and skipped.
 */
export function appDependencies(files: Readonly<Record<string, string>>): { dependencies: AppDependency[]; problems: string[] } {
  const readers: Record<(typeof LOCKFILES)[number], (text: string, lockfile: string) => AppDependency[]> = {
    'package-lock.json': npmDependencies,
    'requirements.txt': requirementsDependencies,
    'Pipfile.lock': pipfileDependencies,
  };
  const problems: string[] = [];
  const all = LOCKFILES.flatMap((lockfile) => {
    const text = files[lockfile];
    if (text === undefined) return [];
    try {
      return readers[lockfile](text, lockfile);
    } catch (error) {
      problems.push(`${lockfile}: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
  });
  const unique = new Map(all.map((dependency) => [dependency.purl, dependency]));
  const dependencies = [...unique.values()].sort((a, b) => a.purl.localeCompare(b.purl));
  return { dependencies, problems };
}
