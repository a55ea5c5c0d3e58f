/**
 * The provenance of an image built from source: an in-toto statement (v1) whose subject is the
 * image's manifests and whose predicate is SLSA provenance v1: what was built (the repository,
 * the commit, the directory, the overrides), how (the nixpacks plan's digest, the package set's
 * revision), by whom (nixyard, the build id) and when.
 */

/** The media type of in-toto statements (the `artifactType` of the provenance artifact). */
export const IN_TOTO_MEDIA_TYPE = 'application/vnd.in-toto+json';
/** What builds from source are, as SLSA's `buildType` names them (a URI that identifies, not a page). */
export const SOURCE_BUILD_TYPE = 'urn:nixyard:build-type:source:v1';

/** What a build from source knows of itself when its image is made. */
export interface SourceProvenance {
  /** The repository without credentials, the ref asked for, the commit it pinned, the app's directory. */
  repository: string;
  ref: string | null;
  commit: string;
  dir: string;
  /** The build's overrides (install, build and start commands, packages, variables). */
  overrides: Readonly<Record<string, unknown>>;
  /** `sha256:` of the nixpacks plan (its JSON as nixpacks wrote it), and the planner (`nixpacks 1.41.0`). */
  planDigest: string;
  planner: string;
  /** The package set's revision the runtime packages came from. */
  packageSetRevision: string;
  /** When the build started (ISO 8601). */
  startedOn: string;
}

/** Who built it and when it ended: added by the build. */
export interface ProvenanceRun {
  /** The image's name, and its manifests' digests. */
  image: string;
  manifestDigests: readonly string[];
  /** The builder: nixyard at its version; the build's id. */
  builderId: string;
  buildId: string;
  finishedOn: string;
}

const sha256 = (digest: string) => ({ sha256: digest.replace(/^sha256:/, '') });

/** The in-toto statement with the SLSA v1 provenance predicate (pure). */
export function provenanceStatement(source: SourceProvenance, run: ProvenanceRun): Record<string, unknown> {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: run.manifestDigests.map((digest) => ({ name: run.image, digest: sha256(digest) })),
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: SOURCE_BUILD_TYPE,
        externalParameters: { repository: source.repository, ref: source.ref, dir: source.dir, overrides: source.overrides },
        internalParameters: { planner: source.planner, planDigest: source.planDigest, packageSetRevision: source.packageSetRevision },
        resolvedDependencies: [{ uri: `git+${source.repository}${source.ref ? `@${source.ref}` : ''}`, digest: { gitCommit: source.commit } }],
      },
      runDetails: {
        builder: { id: run.builderId },
        metadata: { invocationId: run.buildId, startedOn: source.startedOn, finishedOn: run.finishedOn },
      },
    },
  };
}
