/**
 * How a build record shows its notifications and its callback's deliveries (pure): one
 * {@link Delivery} per status, added `pending` (no attempt yet) when the status is entered and
 * replaced after each attempt. The caller passes the time; nothing here reads a clock.
 */
import type { BuildRecord, CallbackStatus, Delivery, NotificationDelivery } from '../builds/record.js';

/** A delivery about `status` that has not been attempted yet. */
export function pendingDelivery<S extends string>(status: S): Delivery<S> {
  return { status, attempts: 0, delivered: false, lastAttemptAt: null, lastResult: null };
}

/** `deliveries` with `delivery` in place of the one of the same status (appended when there is none). */
export function replaceDelivery<S extends string>(deliveries: readonly Delivery<S>[], delivery: Delivery<S>): Delivery<S>[] {
  const index = deliveries.findIndex((entry) => entry.status === delivery.status);
  return index < 0 ? [...deliveries, delivery] : deliveries.map((entry, i) => (i === index ? delivery : entry));
}

/** The record with the notification `delivery` in place. */
export function withDelivery(record: BuildRecord, delivery: NotificationDelivery): BuildRecord {
  return { ...record, notifications: replaceDelivery(record.notifications, delivery) };
}

/** The record with the callback `delivery` in place (unchanged when the build has no callback). */
export function withCallbackDelivery(record: BuildRecord, delivery: Delivery<CallbackStatus>): BuildRecord {
  if (!record.callback) return record;
  return { ...record, callback: { ...record.callback, deliveries: replaceDelivery(record.callback.deliveries, delivery) } };
}

/** The delivery after attempt number `attempts`, made at `at`, that got `lastResult`. */
export function attempted<S extends string>(status: S, attempts: number, delivered: boolean, at: Date, lastResult: string): Delivery<S> {
  return { status, attempts, delivered, lastAttemptAt: at.toISOString(), lastResult };
}
