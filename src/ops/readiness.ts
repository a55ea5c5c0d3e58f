/**
 * Whether this instance should get traffic: `/readyz` asks every check (storage reachable,
 * Nix usable, RabbitMQ connected when configured) with a timeout, and says which failed and
 * why. While the instance drains (SIGTERM), it is not ready whatever the checks say.
 */

/** One thing the instance needs; `check` throws, saying what is wrong, when it is not usable. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** What `/readyz` answers. */
export interface ReadinessReport {
  ready: boolean;
  draining: boolean;
  checks: Record<string, { ok: true } | { ok: false; error: string }>;
}

/** The longest a check may take before it counts as failed. */
const CHECK_TIMEOUT_MS = 3000;

function withTimeout(check: ReadinessCheck): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([check.check(), timeout]).finally(() => clearTimeout(timer));
}

export class Readiness {
  private draining = false;

  constructor(private readonly checks: readonly ReadinessCheck[]) {}

  /** From now on the instance reports not ready (it is stopping). */
  drain(): void {
    this.draining = true;
  }

  isDraining(): boolean {
    return this.draining;
  }

  async report(): Promise<ReadinessReport> {
    const outcomes = await Promise.all(
      this.checks.map(async (check) => {
        try {
          await withTimeout(check);
          return [check.name, { ok: true }] as const;
        } catch (error) {
          return [check.name, { ok: false, error: (error as Error).message }] as const;
        }
      }),
    );
    const checks = Object.fromEntries(outcomes);
    return { ready: !this.draining && outcomes.every(([, outcome]) => outcome.ok), draining: this.draining, checks };
  }
}

/** A check whose result is kept for `ttlMs` (Nix's start-up costs ~20 ms; probes come every few seconds). */
export function cachedCheck(check: ReadinessCheck, ttlMs: number): ReadinessCheck {
  let last: { at: number; result: Promise<void> } | undefined;
  return {
    name: check.name,
    check: () => {
      if (!last || Date.now() - last.at > ttlMs) last = { at: Date.now(), result: check.check() };
      return last.result;
    },
  };
}
