import { describe, expect, it } from 'vitest';
import { narHashHex, parseStorePath } from './store-path.js';

describe('store paths', () => {
  it('split name and version as parseDrvName does', () => {
    expect(parseStorePath('/nix/store/5b1i04pb9sqpcn63wbm9jaswdscv0jap-hello-2.12.1')).toEqual({ hash: '5b1i04pb9sqpcn63wbm9jaswdscv0jap', name: 'hello', version: '2.12.1' });
    expect(parseStorePath('/nix/store/602pqaqmyr5q33ah279afszh2rr4cwm8-bash-interactive-5.2-p15')).toMatchObject({ name: 'bash-interactive', version: '5.2-p15' });
    expect(parseStorePath('/nix/store/cnvgwpzm8baaslpn0fy24r8nd1kz19a5-cacert')).toMatchObject({ name: 'cacert', version: undefined });
    expect(parseStorePath('/nix/store/cnvgwpzm8baaslpn0fy24r8nd1kz19a5-glibc-2.38-27-bin')).toMatchObject({ name: 'glibc', version: '2.38-27-bin' });
    expect(() => parseStorePath('/usr/bin/hello')).toThrow(/not a Nix store path/);
  });

  it('turn NAR hashes in any of Nix’s spellings into hex', () => {
    // One hash three ways: `nix hash to-base32` / `to-base16` of the SRI form.
    const hex = 'a6fe63ad363a5bd30895126c09e762e750b9e2572f7198202a0473a55401d201';
    expect(narHashHex('sha256-pv5jrTY6W9MIlRJsCedi51C54lcvcZggKgRzpVQB0gE=')).toBe(hex);
    expect(narHashHex(`sha256:${hex}`)).toBe(hex);
    expect(narHashHex('sha256:00fj05aaawq458h9hw9gazibjl77cbkhjv0jjl4d6nrs6snn7zm6')).toBe(hex);
    expect(() => narHashHex('md5:abc')).toThrow(/not a SHA-256 NAR hash/);
  });
});
