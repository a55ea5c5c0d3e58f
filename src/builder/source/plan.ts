/**
 * A nixpacks build plan (`nixpacks plan --format json`, version 1.41) read into what a source
 * build runs (pure: data in, data out).
 *
 * Inputs: the plan JSON. Its `phases` are named (`setup`, `install`, `build`, or any a
 * `nixpacks.toml` adds) and ordered by `dependsOn`; any phase may name Nix packages (`nixPkgs`),
 * libraries (`nixLibs`) and apt packages (`aptPkgs`); `start.cmd` is the start command.
 *
 * Algorithm:
 *   - phases in dependency order (ties by name), each with its commands, cache directories and
 *     PATH additions; the packages of all phases together;
 *   - the provider nixpacks detected is only in the variable `NIXPACKS_METADATA` (`providers` is
 *     always empty in 1.41); the image's variables are the plan's without `NIXPACKS_*`;
 *   - problems that stop the build: no phase and no start command (no provider found), no start
 *     command, apt packages (nixyard builds from Nix packages only), a cycle in `dependsOn`.
 *
 * Example: the plan of a node app with a lockfile →
 *   { provider: 'node', nixPkgs: ['nodejs_20', 'npm-9_x'], phases: [install: npm ci, build: npm run build],
 *     start: 'npm run start', variables: { CI: 'true', NODE_ENV: 'production', … } }
 */
import { z } from 'zod';

const PhaseSchema = z
  .object({
    dependsOn: z.array(z.string()).optional(),
    cmds: z.array(z.string()).optional(),
    cacheDirectories: z.array(z.string()).optional(),
    paths: z.array(z.string()).optional(),
    nixPkgs: z.array(z.string()).optional(),
    nixLibs: z.array(z.string()).optional(),
    aptPkgs: z.array(z.string()).optional(),
    nixpkgsArchive: z.string().nullable().optional(),
  })
  .passthrough();

const NixpacksPlanSchema = z
  .object({
    variables: z.record(z.string()).optional(),
    phases: z.record(PhaseSchema).optional(),
    start: z.object({ cmd: z.string().nullable().optional() }).passthrough().nullable().optional(),
  })
  .passthrough();

/** A plan as nixpacks wrote it (what the build record keeps). */
export type NixpacksPlan = z.infer<typeof NixpacksPlanSchema>;

/** One phase a source build runs, in order. */
export interface PlanPhase {
  name: string;
  /** Shell commands, run one after the other in the app directory. */
  cmds: string[];
  /** Directories kept between builds of the app (absolute, or relative to the app directory). */
  cacheDirectories: string[];
  /** Directories added to PATH for this phase and the ones after it, and in the image. */
  paths: string[];
}

/** What a source build runs, read from a plan. */
export interface AppPlan {
  /** The provider nixpacks detected (`node`, `python`); `undefined` when none. */
  provider: string | undefined;
  /** Nix packages and libraries the plan asks for, as nixpacks names them, sorted. */
  nixPkgs: string[];
  nixLibs: string[];
  /** The nixpkgs commit nixpacks pins, if any. */
  nixpkgsArchive: string | undefined;
  /** Phases with commands, in dependency order (`setup`, which only names packages, left out when it has none). */
  phases: PlanPhase[];
  /** The start command. */
  start: string;
  /** Environment of the build and the image: the plan's variables without nixpacks' own. */
  variables: Record<string, string>;
}

/** Why a plan cannot be built. */
export type PlanProblem =
  | { kind: 'invalid'; message: string }
  | { kind: 'no-provider' }
  | { kind: 'no-start' ; provider: string }
  | { kind: 'apt-packages'; packages: string[] }
  | { kind: 'cycle'; phases: string[] };

/** The outcome of reading a plan. */
export type ReadPlan = { kind: 'plan'; plan: AppPlan; raw: NixpacksPlan } | { kind: 'problem'; problem: PlanProblem };

const sortedUnique = (values: Iterable<string>) => [...new Set(values)].sort();

/** Reads nixpacks' JSON plan. */
export function readPlan(json: string): ReadPlan {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return { kind: 'problem', problem: { kind: 'invalid', message: `not JSON: ${JSON.stringify(json.slice(0, 80))}` } };
  }
  const parsed = NixpacksPlanSchema.safeParse(raw);
  if (!parsed.success) return { kind: 'problem', problem: { kind: 'invalid', message: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') } };
  const plan = parsed.data;
  const phases = plan.phases ?? {};
  const variables = plan.variables ?? {};
  const provider = variables['NIXPACKS_METADATA']?.split(',')[0]?.trim() || undefined;
  const start = plan.start?.cmd ?? undefined;
  const all = Object.values(phases);
  const apt = sortedUnique(all.flatMap((phase) => phase.aptPkgs ?? []));
  if (apt.length > 0) return { kind: 'problem', problem: { kind: 'apt-packages', packages: apt } };
  if (Object.keys(phases).length === 0 && !start) return { kind: 'problem', problem: { kind: 'no-provider' } };
  if (!start) return { kind: 'problem', problem: { kind: 'no-start', provider: provider ?? 'none' } };
  const order = phaseOrder(Object.fromEntries(Object.entries(phases).map(([name, phase]) => [name, phase.dependsOn ?? []])));
  if (order.kind === 'cycle') return { kind: 'problem', problem: order };
  return {
    kind: 'plan',
    raw: plan,
    plan: {
      provider,
      nixPkgs: sortedUnique(all.flatMap((phase) => phase.nixPkgs ?? [])),
      nixLibs: sortedUnique(all.flatMap((phase) => phase.nixLibs ?? [])),
      nixpkgsArchive: all.map((phase) => phase.nixpkgsArchive).find((archive): archive is string => typeof archive === 'string' && archive !== ''),
      phases: order.names
        .map((name) => ({ name, phase: phases[name] ?? {} }))
        .filter(({ phase }) => (phase.cmds ?? []).length > 0)
        .map(({ name, phase }) => ({ name, cmds: phase.cmds ?? [], cacheDirectories: phase.cacheDirectories ?? [], paths: phase.paths ?? [] })),
      start,
      variables: Object.fromEntries(Object.entries(variables).filter(([name]) => !name.startsWith('NIXPACKS_'))),
    },
  };
}

/** The phases in dependency order, ties broken by name; a cycle is named. Unknown dependencies are ignored. */
export function phaseOrder(dependsOn: Record<string, readonly string[]>): { kind: 'order'; names: string[] } | { kind: 'cycle'; phases: string[] } {
  const names = Object.keys(dependsOn).sort();
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < names.length) {
    const ready = names.find((name) => !done.has(name) && (dependsOn[name] ?? []).every((dep) => done.has(dep) || !(dep in dependsOn)));
    if (ready === undefined) return { kind: 'cycle', phases: names.filter((name) => !done.has(name)) };
    done.add(ready);
    order.push(ready);
  }
  return { kind: 'order', names: order };
}

/** A plan problem for people. */
export function describePlanProblem(problem: PlanProblem): string {
  switch (problem.kind) {
    case 'invalid':
      return `nixpacks wrote a plan nixyard cannot read (${problem.message})`;
    case 'no-provider':
      return 'nixpacks found no provider for this app (no package.json, requirements.txt, go.mod … in its directory) and no start command was given: give startCmd, or check the repository and dir';
    case 'no-start':
      return `nixpacks found no start command for this ${problem.provider} app: give startCmd (e.g. "node server.js"), or a start script or a nixpacks.toml [start] cmd`;
    case 'apt-packages':
      return `the plan asks for apt packages (${problem.packages.join(', ')}), which nixyard cannot install: it builds from Nix packages only; use nixPkgs in nixpacks.toml or pkgs in the request instead`;
    case 'cycle':
      return `the plan's phases depend on each other in a circle (${problem.phases.join(', ')}): fix dependsOn in nixpacks.toml`;
  }
}
