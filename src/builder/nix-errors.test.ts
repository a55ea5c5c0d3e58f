import { describe, expect, it } from 'vitest';
import { classifyNixFailure, logTail } from './nix-errors.js';

const notTimedOut = { timedOut: false, timeoutSeconds: 60 };

describe('classifyNixFailure', () => {
  it('reads the missing-packages marker into MANIFEST_UNKNOWN with the list', () => {
    const error = classifyNixFailure('error: nixyard-missing-packages: ["nosuch","zzz"]\n', notTimedOut);
    expect(error.code).toBe('MANIFEST_UNKNOWN');
    expect(error.status).toBe(404);
    expect(error.detail).toEqual({ missing: ['nosuch', 'zzz'] });
    expect(error.message).toContain('nosuch, zzz');
  });

  it('tells a package set from a package', () => {
    const error = classifyNixFailure('error: nixyard-not-a-package: ["tools"]\n', notTimedOut);
    expect(error.code).toBe('MANIFEST_UNKNOWN');
    expect(error.message).toContain('tools.<package>');
  });

  it('unfree and broken refusals get their own codes', () => {
    expect(classifyNixFailure('error: nixyard-refused-packages: {"unfree-demo":"unfree"}', notTimedOut).code).toBe('PACKAGE_UNFREE');
    const broken = classifyNixFailure('error: nixyard-refused-packages: {"broken-demo":"broken","unfree-demo":"unfree"}', notTimedOut);
    expect(broken.code).toBe('PACKAGE_BROKEN');
    expect(broken.message).toContain('broken-demo (broken)');
    expect(classifyNixFailure("error: Package 'x' in /p has an unfree license ('unfree'), refusing to evaluate.", notTimedOut).code).toBe('PACKAGE_UNFREE');
  });

  it('a failed builder is NIX_BUILD_FAILED with the log tail', () => {
    const stderr = "building '/nix/store/x-failing.drv'...\nsomething broke\nerror: builder for '/nix/store/x-failing.drv' failed with exit code 1\n";
    const error = classifyNixFailure(stderr, notTimedOut);
    expect(error.code).toBe('NIX_BUILD_FAILED');
    expect(error.status).toBe(500);
    expect(error.message).toContain('failed with exit code 1');
    expect((error.detail as { log: string }).log).toContain('something broke');
  });

  it('anything else is NIX_EVALUATION_ERROR with the last error line', () => {
    const error = classifyNixFailure("error: undefined variable 'foo'\n       at /x.nix:1:1\n(use '--show-trace' to show detailed location information)\n", notTimedOut);
    expect(error.code).toBe('NIX_EVALUATION_ERROR');
    expect(error.status).toBe(422);
    expect(error.message).toContain("undefined variable 'foo'");
  });

  it('a commit the repository does not have is MANIFEST_UNKNOWN, an unreachable source UNAVAILABLE', () => {
    const missing = classifyNixFailure("error: Cannot find Git revision '0123456789012345678901234567890123456789' in ref 'master' of repository 'git://127.0.0.1/pkgs'!", notTimedOut);
    expect(missing.code).toBe('MANIFEST_UNKNOWN');
    expect(missing.status).toBe(404);
    const down = classifyNixFailure("error: unable to download 'http://127.0.0.1:9/abc.tar.gz': Couldn't connect to server (7)", notTimedOut);
    expect(down.code).toBe('UNAVAILABLE');
    expect(down.status).toBe(503);
    expect(down.headers['Retry-After']).toBe('30');
  });

  it('the store or daemon failing is UNAVAILABLE (worth another attempt), even when a builder failed with it', () => {
    const stderrs = [
      "error: cannot connect to socket at '/nix/var/nix/daemon-socket/socket': Connection refused",
      "error: SQLite database '/nix/var/nix/db/db.sqlite' is busy",
      "building '/nix/store/x-hello.drv'...\nerror: writing to file: No space left on device\nerror: builder for '/nix/store/x-hello.drv' failed with exit code 1",
    ];
    for (const stderr of stderrs) {
      const error = classifyNixFailure(stderr, notTimedOut);
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.message).toMatch(/^the Nix store is unavailable; retry later: /);
    }
  });

  it('a timeout is NIX_TIMEOUT (504) naming the limit, whatever the log says', () => {
    const error = classifyNixFailure("building '/nix/store/x-slow.drv'...\n", { timedOut: true, timeoutSeconds: 3 });
    expect(error.code).toBe('NIX_TIMEOUT');
    expect(error.status).toBe(504);
    expect(error.message).toContain('NIX_TIMEOUT');
    expect(error.message).toContain('3 s');
  });
});

describe('logTail', () => {
  it('keeps the last non-empty lines', () => {
    expect(logTail('a\n\nb\nc\n', 2)).toBe('b\nc');
  });
});
