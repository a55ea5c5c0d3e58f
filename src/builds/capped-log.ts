/**
 * A build log capped in size (pure): the first {@link HEAD_SHARE} of the cap and the most
 * recent rest are kept, the middle dropped with one marker line, because a failed build's cause
 * is at the end and what it was asked to do at the start. Readers follow the log by position in
 * everything ever appended (`total`), so a follower that fell into the dropped middle gets the
 * marker and then the tail.
 */
import type { LogSnapshot } from './types.js';

/** Share of the cap kept from the start of the log. */
export const HEAD_SHARE = 1 / 16;

/** The marker standing for `omitted` dropped characters. */
export const omissionMarker = (omitted: number): string => `\n[… ${omitted} characters of this log omitted (NIXYARD_BUILD_LOG_LIMIT) …]\n`;

/** An append-only text capped at `limit` characters (plus one marker). */
export class CappedLog {
  private head = '';
  private tail = '';
  private appended = 0;
  private readonly headLimit: number;
  private readonly tailLimit: number;

  constructor(readonly limit: number) {
    this.headLimit = Math.floor(limit * HEAD_SHARE);
    this.tailLimit = limit - this.headLimit;
  }

  /** Adds text at the end. */
  append(text: string): void {
    if (text === '') return;
    this.appended += text.length;
    const intoHead = Math.min(text.length, this.headLimit - this.head.length);
    if (intoHead > 0) this.head += text.slice(0, intoHead);
    const rest = text.slice(Math.max(intoHead, 0));
    if (rest === '') return;
    this.tail = (this.tail + rest).slice(-this.tailLimit);
  }

  /** Characters ever appended. */
  get total(): number {
    return this.appended;
  }

  /** Characters dropped from the middle. */
  get omitted(): number {
    return this.appended - this.head.length - this.tail.length;
  }

  /** The retained text, with the marker where characters were dropped. */
  snapshot(): LogSnapshot {
    const middle = this.omitted > 0 ? omissionMarker(this.omitted) : '';
    return { text: this.head + middle + this.tail, total: this.appended };
  }

  /** What a reader at position `from` (in everything appended) has not seen yet. */
  since(from: number): string {
    const tailStart = this.appended - this.tail.length;
    let text = '';
    let position = Math.max(0, from);
    if (position < this.head.length) {
      text += this.head.slice(position);
      position = this.head.length;
    }
    if (position < tailStart) {
      text += omissionMarker(tailStart - position);
      position = tailStart;
    }
    return text + this.tail.slice(position - tailStart);
  }
}
