/**
 * V8 settings of the registry process, applied before the rest of the program is loaded (the
 * entry point imports this module first). A registry's allocations are short-lived request
 * objects (blob bytes live outside V8's heap), so:
 * - the young generation is kept at its first size, which collects them as well, while V8's
 *   default lets it grow to 16 MiB per semi-space and keeps that memory;
 * - the old generation may grow to 2× what survived the last full collection, where V8's
 *   default (up to 4× for a small heap) let objects promoted under load pile up: under 50
 *   concurrent pulls the process peaked at 166 MB, 121 MB with 2× (1.5× gave 109–116 MB but a
 *   full collection in nearly every image build: ~15 ms more on a first pull; README,
 *   performance).
 * Both only change how often V8 collects, never how much the program may hold.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--heap-growing-percent=100');
