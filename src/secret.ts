/**
 * A secret as a type: a value that prints as its redaction wherever it is turned into text by
 * accident (template strings, `JSON.stringify`, `util.inspect`, log fields), so that a log line,
 * a record or an error cannot leak it. `reveal()` is the one way to the value, for the code that
 * hands it to the program that needs it (git).
 */
import { inspect } from 'node:util';

/** A secret string with the text that stands for it. */
export class Secret {
  readonly #value: string;

  constructor(
    value: string,
    /** What people see instead (`https://***@git.example.com/acme/shop.git`). */
    readonly redacted: string,
  ) {
    this.#value = value;
  }

  /** The value itself: only for handing it to what needs it, never to a log or a record. */
  reveal(): string {
    return this.#value;
  }

  /** Whether the value differs from its redaction (there is something to hide). */
  get hidesSomething(): boolean {
    return this.#value !== this.redacted;
  }

  /** `text` with every occurrence of the value (and of its parts, given) replaced by the redaction's. */
  scrub(text: string, parts: readonly string[] = []): string {
    let scrubbed = text.split(this.#value).join(this.redacted);
    for (const part of parts) if (part.length >= 4) scrubbed = scrubbed.split(part).join('***');
    return scrubbed;
  }

  toString(): string {
    return this.redacted;
  }

  toJSON(): string {
    return this.redacted;
  }

  [inspect.custom](): string {
    return `Secret(${this.redacted})`;
  }
}
