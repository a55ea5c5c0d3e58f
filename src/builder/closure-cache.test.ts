import { describe, expect, it } from 'vitest';
import { closureScope, closureWithin, combine } from './closure-cache.js';
import { knownOutputsExpression, tracedDerivations, tracedLicenses, tracedPackages } from './nix.js';

const info = (path: string, references: string[] = [], narSize = 10) => ({ path, narSize, references });
const base = info('/nix/store/b-busybox', ['/nix/store/b-busybox']);
const hello = info('/nix/store/h-hello', ['/nix/store/b-busybox']);
const nano = info('/nix/store/n-nano', ['/nix/store/b-busybox', '/nix/store/l-libs']);
const libs = info('/nix/store/l-libs', ['/nix/store/b-busybox']);
const graph = [base, hello, nano, libs];

describe('closure cache (pure parts)', () => {
  it('takes the closure of one root out of the combined closure', () => {
    expect(closureWithin('/nix/store/h-hello', graph)).toEqual([base, hello]);
    expect(closureWithin('/nix/store/n-nano', graph)).toEqual([base, nano, libs]);
    expect(() => closureWithin('/nix/store/x-missing', graph)).toThrow(/not in the closure Nix reported/);
  });

  it('combines packages into the roots (in order, each once) and the union of their closures', () => {
    const combined = combine([
      ['nano', { root: '/nix/store/n-nano', closure: [base, nano, libs], licenses: ['GPL-3.0-or-later'], derivation: { drv: '/nix/store/d1-nano.drv', output: 'out' } }],
      ['hello', { root: '/nix/store/h-hello', closure: [base, hello], derivation: { drv: '/nix/store/d2-hello.drv', output: 'bin' } }],
      ['vi', { root: '/nix/store/n-nano', closure: [base, nano, libs], licenses: ['GPL-3.0-or-later'], derivation: { drv: '/nix/store/d1-nano.drv', output: 'out' } }],
    ]);
    expect(combined.roots).toEqual(['/nix/store/n-nano', '/nix/store/h-hello']);
    expect(combined.outputs).toEqual([
      { path: '/nix/store/n-nano', drv: '/nix/store/d1-nano.drv', output: 'out' },
      { path: '/nix/store/h-hello', drv: '/nix/store/d2-hello.drv', output: 'bin' },
    ]);
    expect(combined.packages).toEqual({ nano: '/nix/store/n-nano', hello: '/nix/store/h-hello', vi: '/nix/store/n-nano' });
    expect(combined.licenses).toEqual({ nano: ['GPL-3.0-or-later'], hello: [], vi: ['GPL-3.0-or-later'] });
    expect(combined.graph.map((entry) => entry.path).sort()).toEqual(graph.map((entry) => entry.path).sort());
  });

  it('scopes by revision, package set arguments and system', () => {
    const source = { srcType: 'path' as const, srcArgs: '{"path":"/srv/pkgs"}' };
    const scope = closureScope('r1', source, 'x86_64-linux');
    expect(scope).toMatch(/^[0-9a-f]{64}$/);
    expect(closureScope('r2', source, 'x86_64-linux')).not.toBe(scope);
    expect(closureScope('r1', source, 'aarch64-linux')).not.toBe(scope);
    expect(closureScope('r1', { ...source, srcArgs: '{"path":"/srv/pkgs","args":{"syntheticCount":5}}' }, 'x86_64-linux')).not.toBe(scope);
  });

  it('reads the output of each name from the trace of prepare-image.nix', () => {
    const stderr = 'evaluating…\ntrace: nixyard-roots: {"hello":"/nix/store/h-hello","broken":null}\n';
    expect(tracedPackages(stderr)).toEqual({ hello: '/nix/store/h-hello' });
    expect(tracedPackages('no trace here')).toEqual({});
    const licenses = 'trace: nixyard-licenses: {"hello":["GPL-3.0-or-later"],"odd":"x","none":[]}\ntrace: nixyard-roots: {}\n';
    expect(tracedLicenses(licenses)).toEqual({ hello: ['GPL-3.0-or-later'], none: [] });
    expect(tracedPackages(licenses)).toEqual({});
    const derivations = 'trace: nixyard-derivations: {"hello":{"drv":"/nix/store/d-hello.drv","output":"out"},"broken":null,"odd":{"drv":"x"}}\n';
    expect(tracedDerivations(derivations)).toEqual({ hello: { drv: '/nix/store/d-hello.drv', output: 'out' } });
    expect(tracedDerivations(licenses)).toEqual({});
  });

  it('realises known outputs from their derivations, without a package set', () => {
    expect(knownOutputsExpression([{ path: '/nix/store/h-hello-2.12', drv: '/nix/store/d-hello-2.12.drv', output: 'out' }])).toBe(
      '[ { type = "derivation"; name = "hello-2.12"; drvPath = builtins.storePath "/nix/store/d-hello-2.12.drv"; outPath = "/nix/store/h-hello-2.12"; outputName = "out"; } ]',
    );
  });
});
