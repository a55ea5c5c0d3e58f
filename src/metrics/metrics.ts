/**
 * The process's Prometheus metrics (prom-client), served at `/metrics`. One registry per
 * process: the parts that count (HTTP, images, builds, Nix, packing, storage, queue, webhooks,
 * notifications) import what they count from here, and this module imports nothing of them.
 * Names follow Prometheus' conventions (`nixyard_…_total`, `_seconds`, `_bytes`); labels have
 * bounded values: route templates, never image names or build ids.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/** Latency buckets from 1 ms to 10 s (requests, storage operations). */
const FAST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Buckets from 10 ms to an hour (builds, their phases, Nix). */
const SLOW_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

const registers = [metricsRegistry];

export const httpRequests = new Counter({
  name: 'nixyard_http_requests_total',
  help: 'HTTP requests answered, by route template, method and status code.',
  labelNames: ['route', 'method', 'status'] as const,
  registers,
});

export const httpRequestDuration = new Histogram({
  name: 'nixyard_http_request_duration_seconds',
  help: 'Time from a request to the end of its response, by route template and method.',
  labelNames: ['route', 'method'] as const,
  buckets: FAST_BUCKETS,
  registers,
});

export const manifestsServed = new Counter({
  name: 'nixyard_manifests_served_total',
  help: 'Image manifests answered, by where they came from: memory, storage, or a build.',
  labelNames: ['from'] as const,
  registers,
});

export const buildsFinished = new Counter({
  name: 'nixyard_builds_total',
  help: 'Builds that ended, by kind (packages, source), trigger and final status.',
  labelNames: ['kind', 'trigger', 'status'] as const,
  registers,
});

export const buildDuration = new Histogram({
  name: 'nixyard_build_duration_seconds',
  help: 'Time from a build record to its end, by kind and final status.',
  labelNames: ['kind', 'status'] as const,
  buckets: SLOW_BUCKETS,
  registers,
});

export const buildPhaseDuration = new Histogram({
  name: 'nixyard_build_phase_duration_seconds',
  help: 'Time builds spent in each phase (queued, evaluating, packing…), by kind and phase.',
  labelNames: ['kind', 'phase'] as const,
  buckets: SLOW_BUCKETS,
  registers,
});

export const buildsActive = new Gauge({
  name: 'nixyard_builds',
  help: 'Builds of this instance now, by state: running (holding a slot) or waiting (queued here).',
  labelNames: ['state'] as const,
  registers,
});

export const nixInvocations = new Histogram({
  name: 'nixyard_nix_invocation_duration_seconds',
  help: 'Nix commands run by builds, by command and outcome (ok, failed).',
  labelNames: ['command', 'outcome'] as const,
  buckets: SLOW_BUCKETS,
  registers,
});

export const layersStored = new Counter({
  name: 'nixyard_layers_total',
  help: 'Layers of built images, by outcome: packed (new blob stored) or reused (already stored).',
  labelNames: ['outcome'] as const,
  registers,
});

export const layerBytesPacked = new Counter({
  name: 'nixyard_layer_packed_bytes_total',
  help: 'Compressed bytes of layers packed.',
  registers,
});

export const blobBytesServed = new Counter({
  name: 'nixyard_blob_served_bytes_total',
  help: 'Blob bytes sent by this instance (redirected downloads are not counted).',
  registers,
});

export const blobRedirects = new Counter({
  name: 'nixyard_blob_redirects_total',
  help: 'Blob downloads redirected to the storage (signed or public URLs).',
  registers,
});

export const storageOperations = new Histogram({
  name: 'nixyard_storage_operation_duration_seconds',
  help: 'Storage operations, by backend, operation and outcome (ok, not_found, error).',
  labelNames: ['backend', 'operation', 'outcome'] as const,
  buckets: FAST_BUCKETS,
  registers,
});

export const queueJobs = new Gauge({
  name: 'nixyard_queue_jobs',
  help: 'Jobs in the RabbitMQ build queue, by state: waiting, retrying, dead (dead-lettered).',
  labelNames: ['state'] as const,
  registers,
});

export const queueRetries = new Counter({
  name: 'nixyard_queue_retries_total',
  help: 'Queued builds sent back to RabbitMQ to be tried again later.',
  registers,
});

export const queueDeadLettered = new Counter({
  name: 'nixyard_queue_dead_lettered_total',
  help: 'Queued builds given up after their last attempt.',
  registers,
});

export const webhookDeliveries = new Counter({
  name: 'nixyard_webhook_deliveries_total',
  help: 'Forge webhook deliveries received, by forge and result (built, ignored, ping, refused).',
  labelNames: ['forge', 'result'] as const,
  registers,
});

export const notificationDeliveries = new Counter({
  name: 'nixyard_notification_deliveries_total',
  help: 'POSTs of build status notifications and callbacks, by kind (notification, callback) and result (delivered, retried, failed).',
  labelNames: ['kind', 'result'] as const,
  registers,
});

export const passwordChecks = new Counter({
  name: 'nixyard_password_checks_total',
  help: 'Passwords checked against the htpasswd file (bcrypt), by outcome (ok, wrong).',
  labelNames: ['outcome'] as const,
  registers,
});

export const loginsThrottled = new Counter({
  name: 'nixyard_logins_throttled_total',
  help: 'Logins refused with 429 without checking the password: their user or client waits after failed logins.',
  registers,
});
