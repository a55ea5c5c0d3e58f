/**
 * Build records (pure): what one image build is, was and did. Every build, started by a pull,
 * the API or (later) a webhook, has one record, stored under `build-records/<id>` so that every
 * instance sees it; its log is stored apart under `build-logs/<id>`. A record moves forward
 * through the statuses and ends in exactly one final status; the functions here return new
 * records and never touch a clock themselves (the caller passes the time).
 */
import type { ErrorCode } from '../errors.js';

/**
 * Where a build is. All but the last three are in progress; a package build goes through
 * evaluating, building (when Nix builds), packing and uploading, a build from application source
 * through fetching, planning, evaluating, building, installing, compiling, packing and uploading;
 * either then through pushing when it names push targets.
 */
export const BUILD_STATUSES = ['queued', 'fetching', 'planning', 'evaluating', 'building', 'installing', 'compiling', 'packing', 'uploading', 'pushing', 'succeeded', 'failed', 'cancelled'] as const;
/** A build's status. */
export type BuildStatus = (typeof BUILD_STATUSES)[number];
/** Statuses a build ends in. */
export const FINAL_STATUSES: ReadonlySet<BuildStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/** What started a build. */
export const BUILD_TRIGGERS = ['pull', 'api', 'webhook'] as const;
/** What started a build. */
export type BuildTrigger = (typeof BUILD_TRIGGERS)[number];

/** One phase the build went through, with when it started. */
export interface BuildPhase {
  status: BuildStatus;
  /** ISO 8601 time the phase began. */
  at: string;
}

/** The repository of a build from application source (its URL without credentials). */
export interface BuildSource {
  repo: string;
  /** The branch, tag or commit asked for (the default branch's name when none was). */
  ref: string | null;
  /** The commit built; `null` until it was pinned. */
  commit: string | null;
  /** The app's directory in the repository (`''`: the top). */
  dir: string;
  /** The commit's time; `null` until it was fetched. */
  committedAt: string | null;
  /** What the request changed in the plan. */
  overrides: SourceOverrides;
  /** Longest the build may take, in seconds. */
  timeoutSeconds: number;
}

/** What a request changes in the plan of a build from application source. */
export interface SourceOverrides {
  installCmd?: string;
  buildCmd?: string;
  startCmd?: string;
  /** More packages of the package set. */
  pkgs?: string[];
  /** Variables of the build and of the image. */
  env?: Record<string, string>;
  /** Who the image runs as: `nonroot` (uid 65532, the default) or `root`. */
  user?: 'root' | 'nonroot';
}

/** The plan of a build from application source. */
export interface BuildPlan {
  /** What planned it (`nixpacks 1.41.0`). */
  planner: string;
  /** The provider the planner detected (`node`, `python`). */
  provider: string | null;
  /** Phases with their commands, in order. */
  phases: { name: string; cmds: string[] }[];
  start: string;
  /** Variables of the build and the image. */
  variables: Record<string, string>;
  /** The plan as the planner wrote it. */
  raw: unknown;
}

/** One layer of a built image. */
export interface BuildLayer {
  digest: string;
  /** Compressed size in bytes. */
  size: number;
}

/** An artifact attached to the built image (an SBOM): what it is, its manifest, its content blob. */
export interface BuildArtifact {
  /** `application/spdx+json`, `application/vnd.cyclonedx+json`, `application/vnd.in-toto+json`. */
  artifactType: string;
  /** Digest of the artifact's manifest, whose subject is the image's OCI manifest. */
  manifest: string;
  /** Digest of its content (the SBOM document itself). */
  content: string;
}

/** The deliveries of one POST about a build (a notification, a callback). */
export interface Delivery<S extends string> {
  /** What the POST is about: the build status notified, or the callback's status. */
  status: S;
  attempts: number;
  delivered: boolean;
  /** ISO 8601 time of the last attempt. */
  lastAttemptAt: string | null;
  /** What the last attempt got: `HTTP 204`, or why it failed (`ECONNREFUSED`). */
  lastResult: string | null;
}

/** The deliveries of one status change to `NIXYARD_NOTIFY_URL`. */
export type NotificationDelivery = Delivery<BuildStatus>;

/** What a build's callback says: it runs, or how it ended. */
export const CALLBACK_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
/** A callback's status. */
export type CallbackStatus = (typeof CALLBACK_STATUSES)[number];

/** A push target of a build and how its push went. */
export interface PushResult {
  /** The target as given (`ghcr.io/acme/web`, `registry:5000/acme/web:v1`). */
  to: string;
  status: 'pending' | 'pushed' | 'failed';
  /** The references written there (`ghcr.io/acme/web:main-1a2b3c4`, …), once pushed. */
  references: string[];
  /** The manifest digest the target stored (checked to be the image's). */
  digest: string | null;
  /**
   * Bytes sent to the target: the layers it lacked, and the image config, which is counted every
   * time (skopeo reads it even when the target has it; a few KiB at most).
   */
  bytesUploaded: number | null;
  /** Layers sent (those the target lacked; the rest it had or mounted from another repository). */
  layersUploaded: number | null;
  /** Why the push failed. */
  error: string | null;
}

/** Tags an app build moves to its image, unless a newer build (a later push) moved them already. */
export interface TagMoves {
  tags: string[];
  /** When the push that started the build arrived (ms since 1970): later pushes win. */
  order: number;
}

/** A build's own callback (its URL; the token is kept apart and never shown) and its deliveries. */
export interface BuildCallback {
  url: string;
  deliveries: Delivery<CallbackStatus>[];
}

/** A build record as stored and as the API returns it. */
export interface BuildRecord {
  id: string;
  /** The image name as asked for (`shell/git`), without the tag. */
  image: string;
  tag: string;
  /** The packages the name expanded to, sorted. */
  packages: string[];
  arch: string;
  /** The package-set revision the tag resolved to (git commit, channel commit, content hash). */
  revision: string;
  trigger: BuildTrigger;
  status: BuildStatus;
  /** ISO 8601 times. */
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** Every status the build entered, in order, the first being `queued`. */
  phases: BuildPhase[];
  /** Times the build was started (1 unless it was redelivered). */
  attempts: number;
  error: { code: ErrorCode; message: string } | null;
  /** Bottom first; empty until the build succeeded. */
  layers: BuildLayer[];
  /** Digest of the OCI image manifest, once built. */
  manifestDigest: string | null;
  /** The artifacts attached to the built image (its SBOMs); absent before it succeeded, and in records of earlier versions. */
  artifacts?: BuildArtifact[];
  /** The build this one retries, if any. */
  retryOf: string | null;
  /** The instance running (or that ran) the build; empty while a queued build waits in RabbitMQ for a replica. */
  instance: string;
  /** Notifications of its status changes and how their delivery went (empty when none are sent). */
  notifications: NotificationDelivery[];
  /** Builds from application source: the repository and commit (absent for package builds). */
  source?: BuildSource;
  /** Builds from application source: the plan, once made. */
  plan?: BuildPlan;
  /** The external registries the image is pushed to, and how each push went. */
  pushes?: PushResult[];
  /** App builds: the tags moved to the image when this build is the newest. */
  moves?: TagMoves;
  /** Builds from application source: the tags that point to the image once it succeeded. */
  tags?: string[];
  /** The callback the build's status is sent to (`callback` of the request or its app). */
  callback?: BuildCallback;
  /** The connected app whose push started the build. */
  app?: string;
  /** The id of the HTTP request that started the build (its X-Request-Id, in the request log too). */
  requestId?: string;
}

/** What a new record is made from. */
export interface NewBuild {
  id: string;
  image: string;
  tag: string;
  packages: readonly string[];
  arch: string;
  revision: string;
  trigger: BuildTrigger;
  instance: string;
  retryOf?: string;
  source?: BuildSource;
  /** Push targets as given. */
  push?: readonly string[];
  moves?: TagMoves;
  /** The callback's URL. */
  callback?: string;
  app?: string;
  requestId?: string;
}

/** A push target's entry before its push. */
export function pendingPush(to: string): PushResult {
  return { to, status: 'pending', references: [], digest: null, bytesUploaded: null, layersUploaded: null, error: null };
}

/** Whether `status` ends a build. */
export const isFinal = (status: BuildStatus): boolean => FINAL_STATUSES.has(status);

/** A new, queued record. */
export function newRecord(build: NewBuild, now: Date): BuildRecord {
  const at = now.toISOString();
  return {
    id: build.id,
    image: build.image,
    tag: build.tag,
    packages: [...build.packages],
    arch: build.arch,
    revision: build.revision,
    trigger: build.trigger,
    status: 'queued',
    createdAt: at,
    updatedAt: at,
    finishedAt: null,
    phases: [{ status: 'queued', at }],
    attempts: 0,
    error: null,
    layers: [],
    manifestDigest: null,
    retryOf: build.retryOf ?? null,
    instance: build.instance,
    notifications: [],
    ...(build.source ? { source: build.source } : {}),
    ...(build.push && build.push.length > 0 ? { pushes: build.push.map(pendingPush) } : {}),
    ...(build.moves ? { moves: build.moves } : {}),
    ...(build.callback ? { callback: { url: build.callback, deliveries: [] } } : {}),
    ...(build.app ? { app: build.app } : {}),
    ...(build.requestId ? { requestId: build.requestId } : {}),
  };
}

/** The record entering `status`; unchanged when it is already there, an error when it has ended. */
export function enterStatus(record: BuildRecord, status: BuildStatus, now: Date): BuildRecord {
  if (isFinal(record.status)) throw new Error(`build ${record.id} has already ${record.status}; it cannot become ${status}`);
  if (record.status === status) return record;
  const at = now.toISOString();
  return { ...record, status, updatedAt: at, finishedAt: isFinal(status) ? at : null, phases: [...record.phases, { status, at }] };
}

/**
 * The record back in `queued` (unchanged status when it is there already), on `instance`: `''`
 * while it waits in the RabbitMQ queue for a replica, or the instance that takes it over.
 */
export function requeue(record: BuildRecord, now: Date, instance: string): BuildRecord {
  return { ...enterStatus(record, 'queued', now), instance, updatedAt: now.toISOString() };
}

/** The record of a build that succeeded with these layers and manifest. */
export function succeed(record: BuildRecord, result: { layers: BuildLayer[]; manifestDigest: string; artifacts?: BuildArtifact[] }, now: Date): BuildRecord {
  return { ...enterStatus(record, 'succeeded', now), layers: result.layers, manifestDigest: result.manifestDigest, ...(result.artifacts ? { artifacts: result.artifacts } : {}) };
}

/** The record of a build that failed (or, with `cancelled`, was stopped). */
export function fail(record: BuildRecord, error: { code: ErrorCode; message: string }, now: Date, status: 'failed' | 'cancelled' = 'failed'): BuildRecord {
  return { ...enterStatus(record, status, now), error };
}

/** Milliseconds spent in each phase the build went through (the last one up to `now` while it runs). */
export function phaseDurations(record: BuildRecord, now: Date): Partial<Record<BuildStatus, number>> {
  const durations: Partial<Record<BuildStatus, number>> = {};
  record.phases.forEach((phase, i) => {
    if (isFinal(phase.status)) return;
    const end = record.phases[i + 1]?.at ?? now.toISOString();
    durations[phase.status] = (durations[phase.status] ?? 0) + (Date.parse(end) - Date.parse(phase.at));
  });
  return durations;
}

/** Milliseconds from creation to the end (or to `now` while running). */
export function totalDuration(record: BuildRecord, now: Date): number {
  return Date.parse(record.finishedAt ?? now.toISOString()) - Date.parse(record.createdAt);
}

/**
 * A new build id: the UTC time to the millisecond then random hex, so ids sort by creation time
 * (`20261122T101500123Z-1a2b3c4d`) and listing storage keys in reverse gives newest first.
 */
export function newBuildId(now: Date, random: string): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${random}`;
}

/** Build ids as {@link newBuildId} makes them (also a valid storage key segment). */
export const BUILD_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;
