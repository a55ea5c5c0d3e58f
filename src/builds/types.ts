/** What the API, the web pages and the CLI see of builds: queries over records, logs, control. */
import type { BuildRecord, BuildStatus, BuildTrigger, SourceOverrides, TagMoves } from './record.js';

/** A page query over build records, newest first. */
export interface BuildQuery {
  /** Only records in one of these statuses (all when empty or absent). */
  status?: readonly BuildStatus[];
  /** Only records of this image name (as asked for, e.g. `shell/git`). */
  image?: string;
  /** At most this many records (1–100). */
  limit: number;
  /** Continue after this build id (the previous page's `next`). */
  cursor?: string;
}

/** One page of records; `next` is the cursor of the following page, `null` on the last one. */
export interface BuildPage {
  builds: BuildRecord[];
  next: string | null;
}

/** A build's log as far as it has been written. */
export interface LogSnapshot {
  /** The retained text (head, an omission marker when capped, tail). */
  text: string;
  /** Characters ever appended (more than `text` holds when the log was capped). */
  total: number;
}

/** Counts and average durations over recent records, and this instance's queue. */
export interface BuildStats {
  /** How many of the most recent records the counts and averages cover. */
  window: number;
  counts: Record<BuildStatus, number>;
  /** Builds queued or in progress among the window's records. */
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Average milliseconds of finished builds: in total and per phase. */
  averageDurationMs: { total: number | null } & Partial<Record<BuildStatus, number>>;
  /** This instance: builds running, waiting for a slot, and the slot count (`NIXYARD_MAX_BUILDS`). */
  instance: { id: string; running: number; queued: number; maxBuilds: number };
  /** Where API and webhook builds wait: the RabbitMQ queue shared by the replicas, or this instance's slots. */
  queue: QueueStats;
}

/** The depth and consumers of the build queue; RabbitMQ's counts are `null` while it is unreachable. */
export interface QueueStats {
  /** `rabbitmq` with `NIXYARD_AMQP_URL`; `in-process` when builds run on the instance asked. */
  backend: 'rabbitmq' | 'in-process';
  /** Whether the instance is connected to the queue (always true in process). */
  connected: boolean;
  /** Jobs waiting for a replica (RabbitMQ: ready, not yet delivered), or builds waiting for a slot here. */
  waiting: number | null;
  /** Replicas taking jobs from the queue (1 in process: this instance). */
  consumers: number | null;
  /** Jobs waiting out a retry delay before their next attempt. */
  retrying: number | null;
  /** Jobs in the dead-letter queue (given up after `NIXYARD_MAX_ATTEMPTS`). */
  dead: number | null;
}

/**
 * Who a build is for, as build limits count it: the user once authenticated, else the client's
 * address, or the forge of a webhook. Each request has its own object, so that a request building
 * several architectures counts as one; a queued job gets one from the id it carries.
 */
export interface BuildClient {
  readonly id: string;
  /** The HTTP request's id, when a request asked (recorded with the builds it starts). */
  readonly requestId?: string;
}

/** Who asked for a build, and how, besides what to build. */
export interface BuildOrigin {
  trigger: BuildTrigger;
  client: BuildClient;
  /** Architecture when the name picks none; the default architecture otherwise. */
  arch?: string;
  retryOf?: string;
  /** What happens to the image once it is stored, besides serving it. */
  delivery?: BuildDelivery;
}

/** Where a built image goes and who hears of the build (API: `push`, `callback`; apps: all). */
export interface BuildDelivery {
  /** External registries to push to (`ghcr.io/acme/web[:tag]`); absent: the server's defaults for images from source. */
  push?: string[];
  /** Where the build's status is POSTed, signed with the token. */
  callback?: CallbackRequest;
  /** App builds: tags moved to the image when the build is the newest. */
  moves?: TagMoves;
  /** App builds: the connected app. */
  app?: string;
  /** The host the build was asked for at (its request's Host), for the image reference in callbacks. */
  registryHost?: string;
}

/** A callback as asked for: its URL and the token its bodies are signed with (kept, never shown). */
export interface CallbackRequest {
  url: string;
  /** The token; absent with `sameTokenAs` (a retry: the token of that build). */
  token?: string;
  sameTokenAs?: string;
}

/** A request to build an image (API, webhooks). */
export interface BuildSubmission extends BuildOrigin {
  /** Image name as in a pull (`shell/git`, `arm64/hello`), or of an image from source (`apps/acme/web`). */
  image: string;
  tag: string;
  /** Builds from application source: where the app is, and what to change in its plan. */
  app?: AppSubmission;
}

/** The source of a build from application source, as the API takes it. */
export interface AppSubmission extends SourceOverrides {
  /** The repository URL (credentials allowed: they are used, never shown). */
  repo: string;
  /** A branch, a tag or a full commit; the default branch when absent. */
  ref?: string;
  /** The app's directory inside the repository. */
  dir?: string;
  /** Longest the build may take, in seconds (capped by the server's NIXYARD_SOURCE_TIMEOUT). */
  buildTimeout?: number;
}

/** Builds as the API, the pages and webhooks drive them (implemented by `BuildService`). */
export interface Builds {
  /** A page of records, newest first. */
  list(query: BuildQuery): Promise<BuildPage>;
  /** One record, live while this instance runs it; `undefined` when unknown. */
  get(id: string): Promise<BuildRecord | undefined>;
  /** The log so far; `undefined` when the build is unknown. */
  log(id: string): Promise<LogSnapshot | undefined>;
  /**
   * Hands new log text to `onText` as it is written, from `from` characters on, until the build
   * ends (or `signal` aborts); resolves with the record as it then is. Throws `BUILD_UNKNOWN`.
   */
  follow(id: string, onText: (text: string) => void, options?: { signal?: AbortSignal; from?: number }): Promise<BuildRecord>;
  /** Starts (or joins the running build of) an image; resolves once the record exists. */
  submit(submission: BuildSubmission): Promise<BuildRecord>;
  /** Stops a queued or running build; throws `BUILD_FINISHED` for one that has ended. */
  cancel(id: string): Promise<BuildRecord>;
  /** Starts a failed or cancelled build again as a new record (`retryOf` = `id`), for `client`. */
  retry(id: string, client: BuildClient): Promise<BuildRecord>;
  /** Counts and durations over recent records. */
  stats(): Promise<BuildStats>;
}

/** The kinds of build this registry runs (`GET /v1/builds/builder-types`). */
export interface BuilderType {
  kind: 'packages' | 'nixpacks';
  description: string;
  /** The planner's version (nixpacks), when it runs here. */
  version: string | null;
  /** The providers the planner knows (nixpacks). */
  providers: string[];
  /** Whether builds of this kind can run on this registry now (a planner and a sandbox found). */
  available: boolean;
  /** Names of images of this kind (`apps/…` for images from source; any name for packages). */
  names: string;
}
