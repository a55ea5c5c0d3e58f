/**
 * How a build record shows its notifications (pure): one {@link NotificationDelivery} per
 * notified status, added `pending` (no attempt yet) when the status is entered and replaced
 * after each attempt. The caller passes the time; nothing here reads a clock.
 */
import type { BuildRecord, BuildStatus, NotificationDelivery } from '../builds/record.js';

/** A delivery of the notification of `status` that has not been attempted yet. */
export function pendingDelivery(status: BuildStatus): NotificationDelivery {
  return { status, attempts: 0, delivered: false, lastAttemptAt: null, lastResult: null };
}

/** The record with `delivery` in place of the delivery of the same status (appended when there is none). */
export function withDelivery(record: BuildRecord, delivery: NotificationDelivery): BuildRecord {
  const index = record.notifications.findIndex((entry) => entry.status === delivery.status);
  const notifications = index < 0 ? [...record.notifications, delivery] : record.notifications.map((entry, i) => (i === index ? delivery : entry));
  return { ...record, notifications };
}

/** The delivery after attempt number `attempts`, made at `at`, that got `lastResult`. */
export function attempted(status: BuildStatus, attempts: number, delivered: boolean, at: Date, lastResult: string): NotificationDelivery {
  return { status, attempts, delivered, lastAttemptAt: at.toISOString(), lastResult };
}
