/**
 * The OpenAPI 3.1 document of the builds API (`/v1`), served at `GET /v1/openapi.json`.
 *
 * Its schemas are made from the code they describe, so that they cannot drift apart silently:
 * statuses and triggers come from `src/builds/record.ts`, error codes from `src/errors.ts`, name,
 * tag and digest grammars from `src/image/grammar.ts`, and the property lists of `BuildRecord`,
 * `BuildPage` and `BuildStats` are checked against those TypeScript types at compile time (a
 * field added to the type and not here, or the other way round, fails `tsc`). Tests compile every
 * schema with Ajv (JSON Schema 2020-12, strict) and check real responses of a demo server
 * against the document.
 */
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import {
  BUILD_ID,
  BUILD_STATUSES,
  BUILD_TRIGGERS,
  CALLBACK_STATUSES,
  type BuildCallback,
  type BuildArtifact,
  type BuildLayer,
  type BuildPhase,
  type BuildPlan,
  type BuildRecord,
  type BuildSource,
  type NotificationDelivery,
  type PushResult,
  type SourceOverrides,
  type TagMoves,
} from '../builds/record.js';
import type { BuilderType, BuildPage, BuildStats, QueueStats } from '../builds/types.js';
import type { AppRefBuild, AppView } from '../apps/app.js';
import { MAX_NAME_LENGTH, NAME_COMPONENT, SHA256_DIGEST, TAG } from '../image/grammar.js';
import { ARCHITECTURES } from '../image/image-name.js';

/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1) as a plain object. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** A `$ref` to another part of the document. */
export type Reference = { readonly $ref: string };

/** An operation's parameter (path, query or header). */
export interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly description: string;
  readonly required?: boolean;
  readonly style?: 'simple' | 'form';
  readonly explode?: boolean;
  readonly schema: JsonSchema;
}

/** A response header. */
export interface Header {
  readonly description: string;
  readonly required?: boolean;
  readonly schema: JsonSchema;
}

/** One media type of a request or response body. */
export interface MediaType {
  readonly schema: JsonSchema;
}

/** One response of an operation. */
export interface Response {
  readonly description: string;
  readonly headers?: { readonly [name: string]: Header | Reference };
  readonly content?: { readonly [mediaType: string]: MediaType };
}

/** One operation (a method on a path). */
export interface Operation {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly parameters?: readonly (Parameter | Reference)[];
  readonly requestBody?: { readonly description?: string; readonly required: boolean; readonly content: { readonly [mediaType: string]: MediaType } };
  readonly responses: { readonly [status: string]: Response | Reference };
  /** Overrides the document's `security`; `[]` = open to everyone. */
  readonly security?: readonly { readonly [scheme: string]: readonly string[] }[];
}

/** The methods the document uses. */
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options';

/** The parts of an OpenAPI 3.1 document this project writes. */
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string; readonly description: string; readonly license?: { readonly name: string; readonly identifier: string } };
  readonly jsonSchemaDialect?: string;
  readonly tags?: readonly { readonly name: string; readonly description: string }[];
  readonly security: readonly { readonly [scheme: string]: readonly string[] }[];
  readonly paths: { readonly [path: string]: { readonly [method in HttpMethod]?: Operation } };
  readonly components: {
    readonly schemas: { readonly [name: string]: JsonSchema };
    readonly parameters?: { readonly [name: string]: Parameter };
    readonly headers?: { readonly [name: string]: Header };
    readonly responses?: { readonly [name: string]: Response };
    readonly securitySchemes: { readonly [name: string]: { readonly type: 'http'; readonly scheme: 'basic' | 'bearer'; readonly description: string } };
  };
}

const schema = (name: string): Reference => ({ $ref: `#/components/schemas/${name}` });
const response = (name: string): Reference => ({ $ref: `#/components/responses/${name}` });
const parameter = (name: string): Reference => ({ $ref: `#/components/parameters/${name}` });

/** A regular expression's source without its `^…$` anchors, to build larger patterns. */
const unanchored = (pattern: RegExp): string => pattern.source.replace(/^\^/, '').replace(/\$$/, '');

/** Example build id (the shape `newBuildId` makes). */
const EXAMPLE_ID = '20261122T101500123Z-1a2b3c4d';
const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as ErrorCode[];
const ARCH_NAMES = Object.keys(ARCHITECTURES);
/** A repository name as the OCI grammar allows it (`shell/git`). */
const IMAGE_NAME = `^${unanchored(NAME_COMPONENT)}(?:/${unanchored(NAME_COMPONENT)})*$`;
const DATE_TIME = { type: 'string', format: 'date-time' } as const;

const buildPhaseProperties = {
  status: schema('BuildStatus'),
  at: { ...DATE_TIME, description: 'When the build entered this status.' },
} satisfies { [K in keyof BuildPhase]: JsonSchema };

const buildLayerProperties = {
  digest: { type: 'string', pattern: SHA256_DIGEST.source },
  size: { type: 'integer', minimum: 0, description: 'Compressed size in bytes.' },
} satisfies { [K in keyof BuildLayer]: JsonSchema };

const buildArtifactProperties = {
  artifactType: { type: 'string', description: 'What the artifact is: `application/spdx+json`, `application/vnd.cyclonedx+json`.', examples: ['application/spdx+json'] },
  manifest: { type: 'string', pattern: SHA256_DIGEST.source, description: 'Digest of the artifact manifest (its subject is the image manifest): `GET /v2/<image>/manifests/<manifest>`.' },
  content: { type: 'string', pattern: SHA256_DIGEST.source, description: 'Digest of the document itself: `GET /v2/<image>/blobs/<content>`.' },
} satisfies { [K in keyof BuildArtifact]: JsonSchema };

const notificationDeliveryProperties = {
  status: schema('BuildStatus'),
  attempts: { type: 'integer', minimum: 0 },
  delivered: { type: 'boolean' },
  lastAttemptAt: { type: ['string', 'null'], format: 'date-time', description: 'When the last attempt was made.' },
  lastResult: { type: ['string', 'null'], description: 'What the last attempt got (`HTTP 204`) or why it failed.' },
} satisfies { [K in keyof NotificationDelivery]: JsonSchema };

const callbackDeliveryProperties = { ...notificationDeliveryProperties, status: { type: 'string', enum: [...CALLBACK_STATUSES] } };

const buildRecordProperties = {
  id: { type: 'string', pattern: BUILD_ID.source, description: 'UTC creation time to the millisecond, then random hex: ids sort by creation time.', examples: [EXAMPLE_ID] },
  image: { type: 'string', description: 'The image name as asked for, without the tag.', examples: ['shell/git'] },
  tag: { type: 'string', pattern: TAG.source, examples: ['latest'] },
  packages: { type: 'array', items: { type: 'string' }, description: 'The packages the name expanded to, sorted.' },
  arch: { type: 'string', enum: ARCH_NAMES },
  revision: { type: 'string', description: 'The package-set revision the tag resolved to (git commit, channel commit, content hash).' },
  trigger: { type: 'string', enum: [...BUILD_TRIGGERS], description: 'What started the build.' },
  status: schema('BuildStatus'),
  createdAt: DATE_TIME,
  updatedAt: DATE_TIME,
  finishedAt: { type: ['string', 'null'], format: 'date-time', description: 'When the build ended; null while it runs.' },
  phases: { type: 'array', minItems: 1, items: schema('BuildPhase'), description: 'Every status the build entered, in order, the first being `queued`.' },
  attempts: { type: 'integer', minimum: 0, description: 'Times the build was started (1 unless it was redelivered).' },
  error: { oneOf: [schema('BuildError'), { type: 'null' }], description: 'Why a failed or cancelled build ended; null otherwise.' },
  layers: { type: 'array', items: schema('BuildLayer'), description: 'Bottom first; empty until the build succeeded.' },
  manifestDigest: { type: ['string', 'null'], pattern: SHA256_DIGEST.source, description: 'Digest of the OCI image manifest, once built.' },
  artifacts: { type: 'array', items: schema('BuildArtifact'), description: 'The SBOMs attached to the built image (also listed by `GET /v2/<image>/referrers/<manifestDigest>`); absent before the build succeeded, with NIXYARD_SBOMS=0, and in records of earlier versions.' },
  retryOf: { type: ['string', 'null'], pattern: BUILD_ID.source, description: 'The build this one retries, if any.' },
  instance: { type: 'string', description: 'The registry instance running (or that ran) the build; empty while a queued build waits in the RabbitMQ queue for a replica.' },
  notifications: { type: 'array', items: schema('NotificationDelivery'), description: 'Notifications of status changes (NIXYARD_NOTIFY_URL) and how their delivery went.' },
  source: { ...schema('BuildSource'), description: 'Builds from application source: the repository (without credentials), ref, commit and directory. Absent for package builds.' },
  plan: { ...schema('BuildPlan'), description: 'Builds from application source: the plan, once made. Absent for package builds.' },
  pushes: { type: 'array', items: schema('PushResult'), description: 'The external registries the image is pushed to and how each push went; absent when there are none.' },
  moves: { ...schema('TagMoves'), description: 'Builds of connected apps: the tags moved to the image when this build is the newest.' },
  tags: { type: 'array', items: { type: 'string', pattern: TAG.source }, description: 'Builds from application source: the tags that point to the image once it succeeded.' },
  callback: { ...schema('BuildCallback'), description: 'The build’s own callback (its URL; the token is never shown) and how its POSTs went.' },
  app: { type: 'string', description: 'The connected app whose push started the build.' },
  requestId: { type: 'string', description: 'The id of the HTTP request that started the build (its `X-Request-Id`, as in the request log); absent for builds no request started (and records written before it was kept).' },
} satisfies { [K in keyof BuildRecord]-?: JsonSchema };

const pushResultProperties = {
  to: { type: 'string', description: 'The target as given (`ghcr.io/acme/web`, `registry:5000/acme/web:v1`).' },
  status: { type: 'string', enum: ['pending', 'pushed', 'failed'] },
  references: { type: 'array', items: { type: 'string' }, description: 'The references written there, once pushed.' },
  digest: { type: ['string', 'null'], pattern: SHA256_DIGEST.source, description: 'The manifest digest the target stored (the image’s).' },
  bytesUploaded: { type: ['integer', 'null'], minimum: 0, description: 'Bytes sent: the layers the target lacked, and the image config (counted every time; a few KiB).' },
  layersUploaded: { type: ['integer', 'null'], minimum: 0, description: 'Layers sent (the others the target had, or mounted from another of its repositories).' },
  error: { type: ['string', 'null'], description: 'Why the push failed.' },
} satisfies { [K in keyof PushResult]: JsonSchema };

const tagMovesProperties = {
  tags: { type: 'array', items: { type: 'string', pattern: TAG.source } },
  order: { type: 'integer', description: 'When the push that started the build arrived (ms since 1970): a later push’s build wins.' },
} satisfies { [K in keyof TagMoves]: JsonSchema };

const buildCallbackProperties = {
  url: { type: 'string' },
  deliveries: { type: 'array', items: schema('CallbackDelivery'), description: 'One per callback status (RUNNING, then how the build ended).' },
} satisfies { [K in keyof BuildCallback]: JsonSchema };

const nullableString = { type: ['string', 'null'] } as const;

const sourceOverridesProperties = {
  installCmd: { type: 'string', minLength: 1, description: 'Replaces the plan’s install commands.' },
  buildCmd: { type: 'string', minLength: 1, description: 'Replaces the plan’s build commands.' },
  startCmd: { type: 'string', minLength: 1, description: 'Replaces the plan’s start command.' },
  pkgs: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9._+-]*$' }, maxItems: 100, description: 'More packages of the package set, on PATH in the build and the image.' },
  env: { type: 'object', propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, additionalProperties: { type: 'string' }, description: 'Variables of the build and of the image.' },
  user: { type: 'string', enum: ['nonroot', 'root'], description: 'Who the image runs as: `nonroot` (uid 65532, home /home/nonroot; the default) or `root`.' },
} satisfies { [K in keyof SourceOverrides]-?: JsonSchema };

const buildSourceProperties = {
  repo: { type: 'string', description: 'The repository URL, credentials shown as `***`.' },
  ref: { ...nullableString, description: 'The branch, tag or commit asked for (the default branch’s name when none was).' },
  commit: { type: ['string', 'null'], pattern: '^[0-9a-f]{40}$', description: 'The commit built; null until it was pinned.' },
  dir: { type: 'string', description: 'The app’s directory in the repository (empty: its top).' },
  committedAt: { type: ['string', 'null'], format: 'date-time', description: 'The commit’s time, the image’s `created`; null until it was fetched.' },
  overrides: { type: 'object', properties: sourceOverridesProperties, additionalProperties: false, description: 'What the request changed in the plan.' },
  timeoutSeconds: { type: 'integer', minimum: 1, description: 'Longest the build may take.' },
} satisfies { [K in keyof BuildSource]: JsonSchema };

const buildPlanProperties = {
  planner: { type: 'string', examples: ['nixpacks 1.41.0'] },
  provider: { ...nullableString, description: 'The provider the planner detected (`node`, `python`).' },
  phases: {
    type: 'array',
    items: { type: 'object', properties: { name: { type: 'string' }, cmds: { type: 'array', items: { type: 'string' } } }, required: ['name', 'cmds'], additionalProperties: false },
    description: 'Phases with commands, in the order they run.',
  },
  start: { type: 'string', description: 'The start command (the image’s `Cmd`, through a shell).' },
  variables: { type: 'object', additionalProperties: { type: 'string' }, description: 'Variables of the build and the image.' },
  raw: { type: 'object', description: 'The plan as the planner wrote it (`nixpacks plan --format json`).' },
} satisfies { [K in keyof BuildPlan]: JsonSchema };

const builderTypeProperties = {
  kind: { type: 'string', enum: ['packages', 'nixpacks'] },
  description: { type: 'string' },
  version: { ...nullableString, description: 'The planner’s version (nixpacks) when it runs here.' },
  providers: { type: 'array', items: { type: 'string' }, description: 'The providers the planner knows.' },
  available: { type: 'boolean', description: 'Whether builds of this kind can run here now (nixpacks and bubblewrap found).' },
  names: { type: 'string', description: 'The image names of this kind.' },
} satisfies { [K in keyof BuilderType]: JsonSchema };

const appRefBuildProperties = {
  ref: { type: 'string', examples: ['refs/heads/main', 'refs/tags/v1.2.3'] },
  commit: { type: 'string', pattern: '^[0-9a-f]{40}$' },
  build: { type: 'string', pattern: BUILD_ID.source },
  tag: { type: 'string', pattern: TAG.source, description: 'The tag the build gives the image (`main-1a2b3c4`, `v1.2.3`).' },
  order: { type: 'integer', description: 'When the push arrived (ms since 1970).' },
  at: DATE_TIME,
} satisfies { [K in keyof AppRefBuild]: JsonSchema };

const appOverridesSchema = { type: 'object', properties: sourceOverridesProperties, additionalProperties: false, description: 'What every build changes in the plan.' } as const;

/** The fields of an app as the API takes them (`null` clears an optional one in a PATCH). */
const appInputProperties = {
  repo: { type: 'string', minLength: 1, maxLength: 2048, description: 'The git repository (credentials in it are used, never shown).', examples: ['https://git.example.com/acme/shop.git'] },
  image: { type: 'string', pattern: IMAGE_NAME, description: 'The image, under the apps prefix.', examples: ['apps/acme/web'] },
  dir: { type: 'string', maxLength: 1024, description: 'The app’s directory in the repository.' },
  branches: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 50, description: 'Branch names or globs whose pushes are built; empty or absent: the default branch only.', examples: [['main', 'release/*']] },
  tags: { type: 'boolean', description: 'Build pushed tags too (as `:<tag>`).' },
  defaultBranch: { type: ['string', 'null'], description: 'The branch that moves `latest`, when the forge does not say it.' },
  overrides: appOverridesSchema,
  buildTimeout: { type: ['integer', 'null'], minimum: 10, maximum: 86400 },
  push: { type: ['array', 'null'], items: { type: 'string' }, maxItems: 20, description: 'Push targets of every build; null or absent: the server’s NIXYARD_PUSH_DEFAULT; `[]`: none.' },
  callback: { oneOf: [schema('CallbackRequest'), { type: 'null' }] },
  webhookSecret: { type: 'string', minLength: 16, maxLength: 256, description: 'The secret the forge signs pushes with; a random one when absent (shown once).' },
};

const appViewProperties = {
  id: { type: 'string', pattern: '^app-[0-9a-f]{10}$' },
  repo: { type: 'string', description: 'The repository, credentials shown as `***`.' },
  image: appInputProperties.image,
  dir: { type: 'string' },
  branches: { type: 'array', items: { type: 'string' } },
  tags: { type: 'boolean' },
  defaultBranch: { type: ['string', 'null'] },
  overrides: appOverridesSchema,
  buildTimeout: { type: ['integer', 'null'] },
  push: { type: ['array', 'null'], items: { type: 'string' } },
  callback: { oneOf: [closedObjectOf({ url: { type: 'string' } }), { type: 'null' }], description: 'The callback’s URL (its token is never shown).' },
  webhookUrl: { type: 'string', description: 'Where the forge POSTs pushes (GitHub, GitLab, Gitee), signed with the app’s webhook secret.', examples: ['/v1/apps/app-1a2b3c4d5e/webhook'] },
  createdAt: DATE_TIME,
  updatedAt: DATE_TIME,
  builds: { type: 'array', items: schema('AppRefBuild'), description: 'The latest build of each branch and tag pushed, newest first.' },
} satisfies { [K in keyof AppView]: JsonSchema };

const buildPageProperties = {
  builds: { type: 'array', items: schema('BuildRecord'), description: 'Newest first.' },
  next: { type: ['string', 'null'], pattern: BUILD_ID.source, description: 'The `cursor` of the following page; null on the last page.' },
} satisfies { [K in keyof BuildPage]: JsonSchema };

const count = { type: 'integer', minimum: 0 } as const;
const countOrNull = { type: ['integer', 'null'], minimum: 0 } as const;
const milliseconds = { type: 'number', minimum: 0 } as const;
const statusRecord = (value: JsonSchema) => Object.fromEntries(BUILD_STATUSES.map((status) => [status, value]));

const buildStatsProperties = {
  window: { ...count, description: 'How many of the most recent records the counts and averages cover.' },
  counts: { type: 'object', properties: statusRecord(count), required: [...BUILD_STATUSES], additionalProperties: false, description: 'Records per status in the window.' },
  queued: { ...count, description: 'Builds queued among the window’s records.' },
  running: { ...count, description: 'Builds in progress among the window’s records.' },
  succeeded: count,
  failed: count,
  cancelled: count,
  averageDurationMs: {
    type: 'object',
    properties: { total: { type: ['number', 'null'], minimum: 0 }, ...statusRecord(milliseconds) },
    required: ['total'],
    additionalProperties: false,
    description: 'Average milliseconds of finished builds: in total (null when none finished) and per phase they went through.',
  },
  instance: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      running: { ...count, description: 'Builds running on this instance.' },
      queued: { ...count, description: 'Builds waiting for a build slot.' },
      maxBuilds: { ...count, description: 'Build slots (`NIXYARD_MAX_BUILDS`).' },
    },
    required: ['id', 'running', 'queued', 'maxBuilds'],
    additionalProperties: false,
    description: 'This instance’s builds and slots.',
  },
  queue: {
    type: 'object',
    properties: {
      backend: { type: 'string', enum: ['rabbitmq', 'in-process'], description: '`rabbitmq` with `NIXYARD_AMQP_URL`; `in-process` when builds run on the instance asked.' },
      connected: { type: 'boolean', description: 'Whether this instance is connected to the queue (always true in process).' },
      waiting: { ...countOrNull, description: 'Jobs waiting for a replica (RabbitMQ: ready, not yet delivered), or builds waiting for a slot here.' },
      consumers: { ...countOrNull, description: 'Replicas taking jobs from the queue (1 in process: this instance).' },
      retrying: { ...countOrNull, description: 'Jobs waiting out a retry delay before their next attempt.' },
      dead: { ...countOrNull, description: 'Jobs in the dead-letter queue (given up after `NIXYARD_MAX_ATTEMPTS`).' },
    },
    required: ['backend', 'connected', 'waiting', 'consumers', 'retrying', 'dead'],
    additionalProperties: false,
    description: 'Where API and webhook builds wait. RabbitMQ’s counts are null while it is unreachable.',
  } satisfies JsonSchema & { properties: { [K in keyof QueueStats]: JsonSchema } },
} satisfies { [K in keyof BuildStats]: JsonSchema };

/** An object schema whose properties are all required and the only ones allowed. */
function closedObjectOf(properties: Record<string, unknown>): JsonSchema {
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
}

/** An object schema whose properties are the only ones allowed, all required but `optional`. */
const closedObject = (properties: Record<string, unknown>, description: string, optional: readonly string[] = []): JsonSchema => ({
  type: 'object',
  description,
  properties,
  required: Object.keys(properties).filter((name) => !optional.includes(name)),
  additionalProperties: false,
});

const jsonContent = (body: JsonSchema | Reference) => ({ 'application/json': { schema: body } });

const errorResponse = (description: string, headers?: Response['headers']): Response => ({
  description,
  ...(headers ? { headers } : {}),
  content: jsonContent(schema('Error')),
});

/** `401`, and `default` for everything else (e.g. 503 `UNAVAILABLE` when storage is down). */
const commonErrors = {
  '401': response('Unauthorized'),
  default: response('Error'),
} as const;

const idParameter = parameter('BuildId');
const appIdParameter = parameter('AppId');

/** The builds API's OpenAPI 3.1 document. */
export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  info: {
    title: 'nixyard builds and apps API',
    version: '1',
    description:
      'Build records of the images nixyard builds on demand: list and inspect builds, read and follow their logs, start, cancel and retry builds, ' +
      'queue statistics, and connected repositories whose pushes build their images. Every error is `{"errors":[{"code","message","detail"}]}` with `Content-Type: application/json`, as in the registry API (`/v2`).',
    license: { name: 'Apache 2.0', identifier: 'Apache-2.0' },
  },
  tags: [
    { name: 'builds', description: 'Build records, logs and control.' },
    { name: 'apps', description: 'Connected repositories: every push of a watched branch or tag builds the app.' },
    { name: 'meta', description: 'This document.' },
  ],
  // Anonymous when the registry has no access control; otherwise basic (both modes) or bearer (token mode).
  security: [{}, { basic: [] }, { bearer: [] }],
  paths: {
    '/v1/builds': {
      get: {
        operationId: 'listBuilds',
        summary: 'List build records, newest first',
        tags: ['builds'],
        parameters: [
          {
            name: 'status',
            in: 'query',
            description: 'Only builds in one of these statuses (comma-separated, e.g. `failed,cancelled`); all when absent or empty.',
            style: 'form',
            explode: false,
            schema: { type: 'array', items: schema('BuildStatus') },
          },
          {
            name: 'image',
            in: 'query',
            description: 'Only builds of this image name, exactly as asked for (e.g. `shell/git`); all when absent or empty.',
            schema: { type: 'string', pattern: `^(?:${IMAGE_NAME.slice(1, -1)})?$`, maxLength: MAX_NAME_LENGTH },
          },
          { name: 'limit', in: 'query', description: 'Records per page.', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
          {
            name: 'cursor',
            in: 'query',
            description: 'The `next` value of the previous page: continue after this build.',
            schema: { type: 'string', pattern: BUILD_ID.source },
          },
        ],
        responses: {
          '200': { description: 'One page of records.', content: jsonContent(schema('BuildPage')) },
          '400': errorResponse('`PARAMETER_INVALID`: `limit`, `status` or `cursor` is not valid (the detail names it); `NAME_INVALID`: `image` is not an image name.'),
          ...commonErrors,
        },
      },
      post: {
        operationId: 'createBuild',
        summary: 'Build an image',
        description:
          'Starts a build of the image (trigger `api`) and answers once its record exists. When a build of the same image is already running, ' +
          'answers with that build’s record instead of starting another.',
        tags: ['builds'],
        requestBody: { required: true, content: jsonContent(schema('BuildRequest')) },
        responses: {
          '202': {
            description: 'The build’s record (new, or the running build of the same image).',
            headers: { Location: { $ref: '#/components/headers/BuildLocation' } },
            content: jsonContent(schema('BuildRecord')),
          },
          '400': errorResponse(
            '`PARAMETER_INVALID`: the body is not JSON (`Content-Type: application/json`) of this shape, or `arch` is unknown or contradicts the name; ' +
              '`NAME_INVALID` or `TAG_INVALID`: the name or tag is not valid.',
          ),
          '403': response('Denied'),
          ...commonErrors,
        },
      },
    },
    '/v1/builds/{id}': {
      get: {
        operationId: 'getBuild',
        summary: 'One build record',
        tags: ['builds'],
        parameters: [idParameter],
        responses: {
          '200': { description: 'The record (live while the build runs on this instance).', content: jsonContent(schema('BuildRecord')) },
          '404': response('BuildUnknown'),
          ...commonErrors,
        },
      },
    },
    '/v1/builds/{id}/logs': {
      get: {
        operationId: 'getBuildLogs',
        summary: 'The build log',
        description:
          'nixyard’s phase lines (`[<ISO time>] <status> …`) and Nix’s output verbatim. Without `follow`, the log as far as it has been written; ' +
          'with `follow=1`, the log so far and then new text as it is written (chunked), until the build ends.',
        tags: ['builds'],
        parameters: [
          idParameter,
          {
            name: 'follow',
            in: 'query',
            description: '`1`, `true` or empty (`?follow`): stream the log until the build ends; `0` or `false`: the log so far (as without it).',
            schema: { type: 'string', enum: ['1', 'true', '', '0', 'false'] },
          },
        ],
        responses: {
          '200': {
            description: 'The log text.',
            headers: { 'X-Build-Status': { description: 'The build’s status when the response started.', required: true, schema: schema('BuildStatus') } },
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          '400': response('BadParameter'),
          '404': response('BuildUnknown'),
          ...commonErrors,
        },
      },
    },
    '/v1/builds/{id}/cancel': {
      post: {
        operationId: 'cancelBuild',
        summary: 'Stop a queued or running build',
        tags: ['builds'],
        parameters: [idParameter],
        responses: {
          '200': { description: 'The record, status `cancelled` once the build has stopped.', content: jsonContent(schema('BuildRecord')) },
          '404': response('BuildUnknown'),
          '409': errorResponse('`BUILD_FINISHED`: the build has already ended.'),
          ...commonErrors,
        },
      },
    },
    '/v1/builds/{id}/retry': {
      post: {
        operationId: 'retryBuild',
        summary: 'Build a failed or cancelled build’s image again',
        tags: ['builds'],
        parameters: [idParameter],
        responses: {
          '202': {
            description: 'The new build’s record, with `retryOf` the retried build’s id.',
            headers: { Location: { $ref: '#/components/headers/BuildLocation' } },
            content: jsonContent(schema('BuildRecord')),
          },
          '404': response('BuildUnknown'),
          '409': errorResponse('`BUILD_NOT_RETRYABLE`: only failed or cancelled builds can be retried.'),
          ...commonErrors,
        },
      },
    },
    '/v1/builds/queue/stats': {
      get: {
        operationId: 'getBuildStats',
        summary: 'Counts and average durations over recent builds, this instance’s slots, and the build queue (RabbitMQ depth and consumers)',
        tags: ['builds'],
        responses: {
          '200': { description: 'The statistics.', content: jsonContent(schema('BuildStats')) },
          ...commonErrors,
        },
      },
    },
    '/v1/builds/builder-types': {
      get: {
        operationId: 'getBuilderTypes',
        summary: 'The kinds of build this registry runs: images from package names, and from application source (nixpacks)',
        tags: ['builds'],
        responses: {
          '200': { description: 'The kinds of build.', content: jsonContent(schema('BuilderTypes')) },
          ...commonErrors,
        },
      },
    },
    '/v1/apps': {
      get: {
        operationId: 'listApps',
        summary: 'The connected repositories, with the latest build of each branch and tag',
        tags: ['apps'],
        responses: { '200': { description: 'The apps.', content: jsonContent(closedObject({ apps: { type: 'array', items: schema('App') } }, 'The connected apps, by image.')) }, ...commonErrors },
      },
      post: {
        operationId: 'connectApp',
        summary: 'Connect a repository',
        description: 'The answer carries the app’s `webhookSecret` this once: give it to the forge’s push webhook, aimed at `webhookUrl`.',
        tags: ['apps'],
        requestBody: { required: true, content: jsonContent(schema('AppInput')) },
        responses: {
          '201': { description: 'The app, with its webhook secret.', headers: { Location: { description: 'The app’s URL.', required: true, schema: { type: 'string', pattern: '^/v1/apps/app-[0-9a-f]{10}$' } } }, content: jsonContent(schema('ConnectedApp')) },
          '400': errorResponse('`PARAMETER_INVALID` (the detail names the fields) or `NAME_INVALID` (the image is not under the apps prefix).'),
          '403': response('Denied'),
          '409': errorResponse('`APP_EXISTS`: another app builds this image.'),
          ...commonErrors,
        },
      },
    },
    '/v1/apps/{app}': {
      get: {
        operationId: 'getApp',
        summary: 'One connected repository',
        tags: ['apps'],
        parameters: [appIdParameter],
        responses: { '200': { description: 'The app.', content: jsonContent(schema('App')) }, '404': response('AppUnknown'), ...commonErrors },
      },
      patch: {
        operationId: 'updateApp',
        summary: 'Change a connected repository (only the fields given)',
        tags: ['apps'],
        parameters: [appIdParameter],
        requestBody: { required: true, content: jsonContent(schema('AppPatch')) },
        responses: {
          '200': { description: 'The app; with `webhookSecret` when the change set a new one.', content: jsonContent(schema('ConnectedApp')) },
          '400': errorResponse('`PARAMETER_INVALID` or `NAME_INVALID`.'),
          '403': response('Denied'),
          '404': response('AppUnknown'),
          '409': errorResponse('`APP_EXISTS`: another app builds this image.'),
          ...commonErrors,
        },
      },
      delete: {
        operationId: 'disconnectApp',
        summary: 'Disconnect a repository (its builds and images stay)',
        tags: ['apps'],
        parameters: [appIdParameter],
        responses: { '204': { description: 'Disconnected.' }, '404': response('AppUnknown'), ...commonErrors },
      },
    },
    '/v1/apps/{app}/webhook': {
      post: {
        operationId: 'deliverAppWebhook',
        summary: 'A push from the app’s forge (GitHub, GitLab, Gitee)',
        description:
          'Open to the forge, not behind the registry’s user authentication: the delivery must be signed with the app’s webhook secret (GitHub `X-Hub-Signature-256`, GitLab `X-Gitlab-Token`, Gitee `X-Gitee-Token`). ' +
          'A push of a watched branch builds the pushed commit as `<branch>-<sha7>` and moves `<branch>` (and `latest` on the default branch); a watched tag builds `<tag>`.',
        tags: ['apps'],
        security: [],
        parameters: [appIdParameter],
        requestBody: { required: true, content: jsonContent({ type: 'object', description: 'The forge’s push payload.' }) },
        responses: {
          '200': { description: 'A ping: the webhook reaches the app and its secret matches.', content: jsonContent(schema('WebhookResult')) },
          '202': { description: 'The build queued for a watched push, or why the delivery builds nothing (an unwatched ref, a deletion, another event).', content: jsonContent(schema('WebhookResult')) },
          '400': errorResponse('`PARAMETER_INVALID`: not a delivery of a known forge, a push without a commit, or a push of another repository.'),
          '404': response('AppUnknown'),
          default: errorResponse('Any other error; `UNAUTHORIZED` (401) when the signature or token does not match the app’s webhook secret.'),
        },
      },
    },
    '/v1/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        summary: 'This document',
        description: 'Open to everyone, also when the registry has access control on.',
        tags: ['meta'],
        security: [],
        responses: {
          '200': { description: 'The OpenAPI 3.1 document of the builds API.', content: jsonContent(schema('OpenApiDocument')) },
          default: response('Error'),
        },
      },
    },
  },
  components: {
    schemas: {
      BuildStatus: {
        type: 'string',
        enum: [...BUILD_STATUSES],
        description:
          'Package builds: queued → evaluating → building → packing → uploading → succeeded | failed | cancelled (the last three are final). ' +
          'Builds from application source: queued → fetching → planning → evaluating → building → installing → compiling → packing → uploading → …. `building` only when Nix builds; ' +
          '`pushing` after `uploading` when the build has push targets.',
      },
      BuildPhase: closedObject(buildPhaseProperties, 'One status the build entered, with when.'),
      BuildLayer: closedObject(buildLayerProperties, 'One layer of the built image.'),
      BuildArtifact: closedObject(buildArtifactProperties, 'An artifact attached to the built image: an SBOM.'),
      NotificationDelivery: closedObject(notificationDeliveryProperties, 'The deliveries of one status change to NIXYARD_NOTIFY_URL.'),
      BuildError: closedObject(
        { code: schema('ErrorCode'), message: { type: 'string' } },
        'Why the build failed or was cancelled (e.g. `NIX_BUILD_FAILED`, `BUILD_CANCELLED`).',
      ),
      BuildRecord: closedObject(buildRecordProperties, 'One build of an image, as stored and as the API returns it.', ['source', 'plan', 'pushes', 'moves', 'tags', 'callback', 'app', 'requestId', 'artifacts']),
      PushResult: closedObject(pushResultProperties, 'A push target of a build and how its push went.'),
      TagMoves: closedObject(tagMovesProperties, 'Tags an app build moves unless a newer build moved them.'),
      BuildCallback: closedObject(buildCallbackProperties, 'A build’s own callback and its deliveries.'),
      CallbackDelivery: closedObject(callbackDeliveryProperties, 'The deliveries of one callback status.'),
      BuildSource: closedObject(buildSourceProperties, 'The repository of a build from application source.'),
      BuildPlan: closedObject(buildPlanProperties, 'The plan of a build from application source.'),
      BuilderType: closedObject(builderTypeProperties, 'A kind of build this registry runs.'),
      AppRefBuild: closedObject(appRefBuildProperties, 'The latest build of one branch or tag of an app.'),
      App: closedObject(appViewProperties, 'A connected repository as the API shows it (no credentials, token or webhook secret).'),
      ConnectedApp: closedObject(
        { ...appViewProperties, webhookSecret: { type: 'string', description: 'Shown once, when it was made or set: the forge signs pushes with it.' } },
        'A connected repository, with its webhook secret when it was just made or set.',
        ['webhookSecret'],
      ),
      AppInput: closedObject(appInputProperties, 'A repository to connect.', Object.keys(appInputProperties).filter((name) => name !== 'repo' && name !== 'image')),
      AppPatch: closedObject(appInputProperties, 'What to change in an app: any of its fields.', Object.keys(appInputProperties)),
      WebhookResult: closedObject(
        { queued: { type: 'array', items: schema('BuildRecord') }, ignored: { type: ['string', 'null'], description: 'Why nothing was built; null when a build was queued.' } },
        'What a webhook delivery started.',
      ),
      BuilderTypes: closedObject({ builders: { type: 'array', items: schema('BuilderType') } }, 'The kinds of build this registry runs.'),
      BuildPage: closedObject(buildPageProperties, 'One page of records, newest first.'),
      BuildStats: closedObject(buildStatsProperties, 'Counts and average durations over recent records, and this instance’s queue.'),
      BuildRequest: {
        type: 'object',
        description: 'What to build.',
        properties: {
          image: { type: 'string', pattern: IMAGE_NAME, maxLength: MAX_NAME_LENGTH, description: 'Image name as in a pull; for a build from source, a name under the apps prefix.', examples: ['shell/git', 'arm64/hello', 'apps/acme/web'] },
          tag: { type: 'string', pattern: TAG.source, default: 'latest' },
          arch: { type: 'string', enum: ARCH_NAMES, description: 'Architecture, when the name does not pick one; the default architecture otherwise.' },
          source: {
            type: 'object',
            description: 'Builds the image from application source: this repository at `ref` (a branch, a tag or a full commit; the default branch when absent), the app in `dir`.',
            properties: { repo: { type: 'string', minLength: 1, maxLength: 2048, examples: ['https://git.example.com/acme/shop.git'] }, ref: { type: 'string', minLength: 1 }, dir: { type: 'string', examples: ['services/web'] } },
            required: ['repo'],
            additionalProperties: false,
          },
          ...sourceOverridesProperties,
          buildTimeout: { type: 'integer', minimum: 10, maximum: 86400, description: 'Seconds the whole build may take (capped by NIXYARD_SOURCE_TIMEOUT).' },
          push: {
            type: 'array',
            maxItems: 20,
            items: { type: 'string', minLength: 1, maxLength: 512, examples: ['ghcr.io/acme/web', '127.0.0.1:5000/acme/web:v1'] },
            description: 'Registries to push the image to once it is built (`REGISTRY/REPOSITORY[:TAG]`; without a tag, the build’s). Absent: the server’s NIXYARD_PUSH_DEFAULT for builds from source; `[]`: none.',
          },
          callback: schema('CallbackRequest'),
        },
        required: ['image'],
        additionalProperties: false,
      },
      CallbackRequest: closedObject(
        {
          url: { type: 'string', minLength: 1, maxLength: 2048, description: 'http(s); the registry’s own networks only with NIXYARD_CALLBACK_ALLOW_PRIVATE=1.', examples: ['https://deploy.example/hooks/build'] },
          token: { type: 'string', minLength: 16, maxLength: 1024, description: 'The POSTs carry `X-Nixyard-Signature-256: sha256=<hex HMAC-SHA256 of the body with it>`. Kept, never shown.' },
        },
        'Where the build’s status is POSTed (RUNNING, then SUCCEEDED, FAILED or CANCELLED).',
      ),
      ErrorCode: { type: 'string', enum: ERROR_CODE_NAMES },
      Error: {
        type: 'object',
        description: 'Every error response of the API (and of the registry API `/v2`).',
        properties: {
          errors: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              properties: {
                code: schema('ErrorCode'),
                message: { type: 'string' },
                detail: { description: 'More about the error (its shape depends on the code); null when there is nothing more.' },
              },
              required: ['code', 'message', 'detail'],
              additionalProperties: false,
            },
          },
        },
        required: ['errors'],
        additionalProperties: false,
      },
      OpenApiDocument: {
        type: 'object',
        description: 'An OpenAPI 3.1 document.',
        properties: { openapi: { type: 'string', pattern: '^3\\.1\\.\\d+$' }, info: { type: 'object' }, paths: { type: 'object' } },
        required: ['openapi', 'info', 'paths'],
      },
    },
    parameters: {
      AppId: {
        name: 'app',
        in: 'path',
        required: true,
        description: 'An app id (`app-1a2b3c4d5e`).',
        schema: { type: 'string', minLength: 1 },
      },
      BuildId: {
        name: 'id',
        in: 'path',
        required: true,
        description: `A build id (\`${EXAMPLE_ID}\`).`,
        schema: { type: 'string', minLength: 1 },
      },
    },
    headers: {
      BuildLocation: {
        description: 'The build’s URL: `/v1/builds/<id>`.',
        required: true,
        schema: { type: 'string', pattern: `^/v1/builds/${unanchored(BUILD_ID)}$` },
      },
    },
    responses: {
      BadParameter: errorResponse('`PARAMETER_INVALID`: a query parameter is not valid (the detail names it).'),
      BuildUnknown: errorResponse('`BUILD_UNKNOWN`: no build has this id.'),
      AppUnknown: errorResponse('`APP_UNKNOWN`: no app has this id.'),
      Unauthorized: errorResponse('`UNAUTHORIZED`: the registry has access control on and the request has no valid credentials.', {
        'WWW-Authenticate': { description: 'The challenge: `Basic realm="nixyard"`.', required: true, schema: { type: 'string', pattern: '^Basic realm=' } },
      }),
      Denied: errorResponse('`DENIED`: the access file (`NIXYARD_ACCESS_FILE`) does not let this user pull the image; the message names the protection that is not granted.'),
      Error: errorResponse('Any other error, e.g. `UNAVAILABLE` (503) when storage is unreachable.'),
    },
    securitySchemes: {
      basic: { type: 'http', scheme: 'basic', description: 'A user of `NIXYARD_HTPASSWD` (access control modes `basic` and `token`).' },
      bearer: { type: 'http', scheme: 'bearer', description: 'A token from `GET /token` of a logged-in user (access control mode `token`).' },
    },
  },
} as const satisfies OpenApiDocument;
