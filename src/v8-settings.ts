/**
 * V8 settings of the registry process, applied before the rest of the program is loaded (the
 * entry point imports this module first). The young generation is kept at its first size: a
 * registry's allocations are short-lived request objects (blob bytes live outside V8's heap),
 * which a small young generation collects as well, while V8's default lets it grow to 16 MiB
 * per semi-space and keeps that memory. Only the growth factor can still change once V8 runs.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
