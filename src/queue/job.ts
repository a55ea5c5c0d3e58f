/**
 * Build jobs on the RabbitMQ queue and what a replica does with one (pure: data in, data out).
 *
 * A job is the message an API or webhook build puts on the queue: the id of its record (written
 * `queued` before the message is published), everything a replica needs to build it (the
 * resolved package source included, so every replica builds the same revision), the client it
 * counts against (build limits), and how many times the build had been started when the
 * message was published.
 *
 * Algorithm, when a replica receives a job (`deliveryAction`):
 *
 *   record missing                                   → drop (acknowledged: nothing to build)
 *   record final (succeeded, failed, cancelled)      → done (acknowledged: a copy of a finished job)
 *   record.attempts > job.attempts + redelivered     → stale (acknowledged: a newer copy of the
 *                                                      job already started the build)
 *   cancel requested                                 → cancel (record `cancelled`, acknowledged)
 *   redelivered and attempts used up                 → exhausted (record `failed`, dead-lettered:
 *                                                      the replicas running it kept dying)
 *   otherwise                                        → run
 *
 * After a run that failed (`failureAction`):
 *
 *   code not transient (MANIFEST_UNKNOWN, NIX_EVALUATION_ERROR, PACKAGE_*, NIX_BUILD_FAILED…)
 *                                                    → fail (record `failed`, acknowledged)
 *   transient (UNAVAILABLE, NIX_TIMEOUT, UNKNOWN, REPOSITORY_UNAVAILABLE, PUSH_UNREACHABLE), attempts < max
 *                                                    → retry (record back to `queued`, the job
 *                                                      waits base · 2^(attempts−1) in a delay
 *                                                      queue, then returns to the queue)
 *   transient, attempts = max                        → dead (record `failed`, dead-lettered)
 *
 * Example: NIXYARD_MAX_ATTEMPTS=3, NIXYARD_RETRY_DELAY=10, storage down for a minute:
 *   attempt 1 UNAVAILABLE ─10 s─▶ attempt 2 UNAVAILABLE ─20 s─▶ attempt 3 UNAVAILABLE → dead letter
 */
import { z } from 'zod';
import { backoffDelay } from '../backoff.js';
import type { ImageBuildPlan } from '../builder/types.js';
import { parseRepositoryUrl } from '../builder/source/repository.js';
import type { BuildRecord, SourceOverrides } from '../builds/record.js';
import type { ErrorCode } from '../errors.js';
import { ARCHITECTURES, type Architecture } from '../image/image-name.js';
import type { ResolvedSource } from '../pkgsource/types.js';

/** Version of the job message layout; a replica refuses jobs of another version (dead-lettered). */
export const JOB_VERSION = 1;

/**
 * Failures worth another attempt: storage or the package source unreachable, the Nix store or
 * daemon failing (`UNAVAILABLE`), a build stopped by `NIX_TIMEOUT` on a busy machine, a source
 * repository or a push target that could not be reached, and unexpected errors. A missing package, an evaluation error or a failing build fails the same
 * way every time, so it is never retried.
 */
export const TRANSIENT_FAILURES: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'NIX_TIMEOUT', 'UNKNOWN', 'PUSH_UNREACHABLE', 'REPOSITORY_UNAVAILABLE']);

/** A build job as published on the queue. */
export interface BuildJob {
  v: typeof JOB_VERSION;
  /** The id of the build record. */
  id: string;
  /** The manifest cache key of the image. */
  key: string;
  image: string;
  tag: string;
  packages: string[];
  arch: Architecture;
  hasShell: boolean;
  /** `nonroot` images; absent: root (and in jobs of replicas before it was added). */
  user?: 'nonroot';
  source: ResolvedSource;
  /** Who the build counts against (build limits); absent in jobs of replicas before it was added. */
  client?: string;
  /** Builds from application source: the repository (its URL with any credentials), ref, directory and overrides. */
  app?: JobApp;
  /** The record's `attempts` when this message was published. */
  attempts: number;
}

/** What a job of a build from application source carries. */
export interface JobApp {
  repo: string;
  ref?: string;
  dir: string;
  overrides: SourceOverrides;
  timeoutSeconds: number;
}

/** Who a job published without a client counts against. */
export const UNKNOWN_CLIENT = 'unknown (a job without its client)';

const JobSchema = z.object({
  v: z.literal(JOB_VERSION),
  id: z.string().min(1),
  key: z.string().regex(/^[0-9a-f]{64}$/),
  image: z.string().min(1),
  tag: z.string().min(1),
  packages: z.array(z.string().min(1)),
  arch: z.enum(Object.keys(ARCHITECTURES) as [Architecture, ...Architecture[]]),
  hasShell: z.boolean(),
  user: z.literal('nonroot').optional(),
  source: z.object({ revision: z.string().min(1), nix: z.object({ srcType: z.enum(['nixpkgs', 'git', 'path']), srcArgs: z.string() }) }),
  client: z.string().min(1).optional(),
  app: z
    .object({
      repo: z.string().min(1),
      ref: z.string().min(1).optional(),
      dir: z.string(),
      overrides: z.object({ installCmd: z.string().optional(), buildCmd: z.string().optional(), startCmd: z.string().optional(), pkgs: z.array(z.string()).optional(), env: z.record(z.string()).optional(), user: z.enum(['nonroot', 'root']).optional() }),
      timeoutSeconds: z.number().int().positive(),
    })
    .optional(),
  attempts: z.number().int().min(0),
}).superRefine((job, ctx) => {
  // A package build names its packages; a build from source learns them from its plan.
  if (!job.app && job.packages.length === 0) ctx.addIssue({ code: 'custom', path: ['packages'], message: 'Array must contain at least 1 element(s)' });
});

/** The job of a plan whose queued record is `recordId`. */
export function jobOf(plan: ImageBuildPlan, recordId: string): BuildJob {
  const { spec, request, client } = plan;
  const common = { v: JOB_VERSION, id: recordId, key: spec.key, image: spec.image, tag: spec.tag, arch: request.arch, source: request.source, client: client.id, attempts: 0 } as const;
  if (request.kind === 'source') {
    // The one place the repository URL is revealed into a message: the replica needs its credentials.
    const app: JobApp = { repo: request.repo.reveal(), ref: request.ref, dir: request.dir, overrides: request.overrides, timeoutSeconds: request.timeoutSeconds };
    return { ...common, packages: [], hasShell: true, app };
  }
  return { ...common, packages: [...request.packages], hasShell: request.hasShell, ...(request.user === 'nonroot' ? { user: 'nonroot' as const } : {}) };
}

/** The plan a job stands for, with its record's fields as stored. */
export function planOf(job: BuildJob, record: BuildRecord): ImageBuildPlan {
  // Where the image goes is in the record (its callback's token in storage, read when sent).
  const delivery = { push: record.pushes?.map((push) => push.to), moves: record.moves, callback: record.callback?.url, app: record.app };
  const spec = { key: job.key, image: record.image, tag: record.tag, packages: record.packages, arch: record.arch, revision: record.revision, trigger: record.trigger, retryOf: record.retryOf ?? undefined, ...delivery };
  const client = { id: job.client ?? UNKNOWN_CLIENT };
  if (job.app) {
    const { repo, ref, dir, overrides, timeoutSeconds } = job.app;
    return {
      spec: { ...spec, source: record.source, firstPhase: 'fetching' },
      request: { kind: 'source', repo: parseRepositoryUrl(repo, true), ref, dir, overrides, arch: job.arch, source: job.source, timeoutSeconds },
      client,
    };
  }
  return { spec, request: { packages: job.packages, arch: job.arch, hasShell: job.hasShell, ...(job.user ? { user: job.user } : {}), source: job.source }, client };
}

/** The message body of a job. */
export function encodeJob(job: BuildJob): Buffer {
  return Buffer.from(JSON.stringify(job), 'utf8');
}

/** A job from a message body; throws an `Error` saying what is wrong with it. */
export function decodeJob(body: Buffer): BuildJob {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error(`not JSON: ${JSON.stringify(body.subarray(0, 80).toString('utf8'))}`);
  }
  const parsed = JobSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`not a build job of version ${JOB_VERSION}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ')}`);
  return parsed.data;
}

/** What a replica does with a job it received (see the module comment). */
export type DeliveryAction = 'drop' | 'done' | 'stale' | 'cancel' | 'exhausted' | 'run';

/** What to do with `job` given its record (as stored now) and whether RabbitMQ redelivered it. */
export function deliveryAction(input: { job: BuildJob; record: BuildRecord | undefined; redelivered: boolean; cancelRequested: boolean; maxAttempts: number }): DeliveryAction {
  const { job, record } = input;
  if (!record) return 'drop';
  if (record.status === 'succeeded' || record.status === 'failed' || record.status === 'cancelled') return 'done';
  if (record.attempts > job.attempts + (input.redelivered ? 1 : 0)) return 'stale';
  if (input.cancelRequested) return 'cancel';
  if (input.redelivered && record.attempts >= input.maxAttempts) return 'exhausted';
  return 'run';
}

/** What follows a failed run. */
export type FailureAction = { kind: 'fail' } | { kind: 'retry'; afterMs: number } | { kind: 'dead' };

/** What follows attempt `attempts` (from 1) of at most `maxAttempts` that failed with `code`. */
export function failureAction(code: ErrorCode, attempts: number, maxAttempts: number, baseMs: number): FailureAction {
  if (!TRANSIENT_FAILURES.has(code)) return { kind: 'fail' };
  if (attempts >= maxAttempts) return { kind: 'dead' };
  return { kind: 'retry', afterMs: backoffDelay(attempts, baseMs) };
}
