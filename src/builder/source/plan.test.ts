import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imagePackages, OVERLAY_PACKAGES, setPackageName } from './packages.js';
import { describePlanProblem, phaseOrder, readPlan } from './plan.js';

// Plans written by the real nixpacks 1.41.0 for small apps (node with a lockfile, python, an app
// whose nixpacks.toml asks for apt packages, an empty directory, a package.json without scripts).
const fixture = (name: string) => readFile(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('nixpacks plans', () => {
  it('reads a node plan: provider from NIXPACKS_METADATA, phases in order, packages, start, variables', async () => {
    const read = readPlan(await fixture('node-plan.json'));
    if (read.kind !== 'plan') throw new Error(JSON.stringify(read));
    expect(read.plan).toMatchObject({
      provider: 'node',
      nixPkgs: ['nodejs_20', 'npm-9_x'],
      nixLibs: [],
      phases: [
        { name: 'install', cmds: ['npm ci'], cacheDirectories: ['/root/.npm'], paths: ['/app/node_modules/.bin'] },
        { name: 'build', cmds: ['npm run build'], cacheDirectories: ['node_modules/.cache'], paths: [] },
      ],
      start: 'npm run start',
      variables: { CI: 'true', NODE_ENV: 'production', NPM_CONFIG_PRODUCTION: 'false' },
    });
    expect(read.plan.nixpkgsArchive).toMatch(/^[0-9a-f]{40}$/);
    expect(imagePackages(read.plan)).toEqual(['bashInteractive', 'cacert', 'iana-etc', 'nodejs_20']);
  });

  it('reads a python plan with its libraries', async () => {
    const read = readPlan(await fixture('python-plan.json'));
    if (read.kind !== 'plan') throw new Error(JSON.stringify(read));
    expect(read.plan).toMatchObject({ provider: 'python', nixPkgs: ['gcc', 'python3'], nixLibs: ['stdenv.cc.cc.lib', 'zlib'], start: 'python main.py' });
    expect(read.plan.phases.map((phase) => phase.name)).toEqual(['install']);
    expect(read.plan.variables['NIXPACKS_METADATA']).toBeUndefined();
  });

  it('names what stops a build: apt packages, no provider, no start command, bad JSON', async () => {
    expect(readPlan(await fixture('apt-plan.json'))).toEqual({ kind: 'problem', problem: { kind: 'apt-packages', packages: ['curl'] } });
    expect(readPlan(await fixture('empty-plan.json'))).toEqual({ kind: 'problem', problem: { kind: 'no-provider' } });
    expect(readPlan(await fixture('no-start-plan.json'))).toEqual({ kind: 'problem', problem: { kind: 'no-start', provider: 'node' } });
    expect(readPlan('nope')).toMatchObject({ kind: 'problem', problem: { kind: 'invalid' } });
    expect(describePlanProblem({ kind: 'apt-packages', packages: ['curl'] })).toContain('apt packages (curl)');
    expect(describePlanProblem({ kind: 'no-start', provider: 'node' })).toContain('give startCmd');
  });

  it('orders phases by dependsOn, ties by name, and finds cycles', () => {
    expect(phaseOrder({ build: ['install'], install: ['setup'], setup: [], lint: ['install'] })).toEqual({ kind: 'order', names: ['setup', 'install', 'build', 'lint'] });
    expect(phaseOrder({ a: ['b'], b: ['a'], c: [] })).toEqual({ kind: 'cycle', phases: ['a', 'b'] });
  });
});

describe('packages of a source image', () => {
  it('maps overlay packages to the package set and adds the shell and what every image gets', () => {
    expect(setPackageName('npm-9_x')).toBeNull();
    expect(setPackageName('pnpm-8_x')).toBe('pnpm');
    expect(setPackageName('yarn-1_x')).toBe('yarn');
    expect(setPackageName('ffmpeg')).toBe('ffmpeg');
    expect(Object.keys(OVERLAY_PACKAGES)).toContain('npm-9_x');
    expect(imagePackages({ nixPkgs: ['ffmpeg', 'nodejs_20', 'npm-9_x'], nixLibs: [] })).toEqual(['bashInteractive', 'cacert', 'ffmpeg', 'iana-etc', 'nodejs_20']);
  });
});
