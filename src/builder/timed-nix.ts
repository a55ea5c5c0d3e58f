/**
 * Nix with every call timed into `nixyard_nix_invocation_duration_seconds`, by command and
 * outcome (the histogram's count is the number of invocations).
 */
import { nixInvocations } from '../metrics/metrics.js';
import type { Nix } from './nix.js';

async function timed<T>(command: string, call: () => Promise<T>): Promise<T> {
  const stop = nixInvocations.startTimer({ command });
  try {
    const result = await call();
    stop({ outcome: 'ok' });
    return result;
  } catch (error) {
    stop({ outcome: 'failed' });
    throw error;
  }
}

/** `nix` whose calls are counted and timed. */
export function timedNix(nix: Nix): Nix {
  return {
    realise: (request, signal, onLog) => timed('nix-build', () => nix.realise(request, signal, onLog)),
    root: (outputs, signal, onLog) => timed('nix-build (known outputs)', () => nix.root(outputs, signal, onLog)),
    closure: (paths, signal) => timed('nix-store --serve', () => nix.closure(paths, signal)),
    version: () => nix.version(),
    close: () => nix.close?.(),
  };
}
