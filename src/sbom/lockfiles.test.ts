import { describe, expect, it } from 'vitest';
import { appDependencies } from './lockfiles.js';

describe('application lockfiles', () => {
  it('npm v3: packages, scoped names, dev flags, linked file: packages with their target’s version', () => {
    const lock = {
      lockfileVersion: 3,
      packages: {
        '': { name: 'web', version: '1.0.0' },
        'node_modules/greet': { resolved: 'vendor/greet', link: true },
        'vendor/greet': { version: '1.0.0', license: 'MIT' },
        'node_modules/@acme/util': { version: '2.1.0', license: 'Apache-2.0' },
        'node_modules/@acme/util/node_modules/left-pad': { version: '1.3.0', dev: true },
      },
    };
    const { dependencies, problems } = appDependencies({ 'package-lock.json': JSON.stringify(lock) });
    expect(problems).toEqual([]);
    expect(dependencies).toEqual([
      { ecosystem: 'npm', name: '@acme/util', version: '2.1.0', purl: 'pkg:npm/%40acme/util@2.1.0', lockfile: 'package-lock.json', license: 'Apache-2.0' },
      { ecosystem: 'npm', name: 'greet', version: '1.0.0', purl: 'pkg:npm/greet@1.0.0', lockfile: 'package-lock.json', license: 'MIT' },
      { ecosystem: 'npm', name: 'left-pad', version: '1.3.0', purl: 'pkg:npm/left-pad@1.3.0', lockfile: 'package-lock.json', dev: true },
    ]);
  });

  it('npm v1: nested dependencies', () => {
    const lock = { lockfileVersion: 1, dependencies: { express: { version: '4.18.2', dependencies: { debug: { version: '2.6.9' } } } } };
    expect(appDependencies({ 'package-lock.json': JSON.stringify(lock) }).dependencies.map((d) => d.purl)).toEqual(['pkg:npm/debug@2.6.9', 'pkg:npm/express@4.18.2']);
  });

  it('pip: pinned requirements and Pipfile.lock, names normalised', () => {
    const requirements = '# deps\nFlask==3.0.0\nrequests[socks] == 2.31.0 ; python_version > "3.8"\nunpinned>=1\n-r other.txt\nzope.interface==6.1  # comment\n';
    const pipfile = { default: { Django: { version: '==5.0' } }, develop: { pytest: { version: '==8.0.0' } } };
    const { dependencies } = appDependencies({ 'requirements.txt': requirements, 'Pipfile.lock': JSON.stringify(pipfile) });
    expect(dependencies.map((d) => `${d.purl}${d.dev ? ' dev' : ''}`)).toEqual(['pkg:pypi/django@5.0', 'pkg:pypi/flask@3.0.0', 'pkg:pypi/pytest@8.0.0 dev', 'pkg:pypi/requests@2.31.0', 'pkg:pypi/zope-interface@6.1']);
  });

  it('names a lockfile that does not parse and reads the others', () => {
    const { dependencies, problems } = appDependencies({ 'package-lock.json': '{ not json', 'requirements.txt': 'six==1.16.0\n' });
    expect(dependencies.map((d) => d.purl)).toEqual(['pkg:pypi/six@1.16.0']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^package-lock.json: /);
  });
});
