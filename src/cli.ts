#!/usr/bin/env node
/**
 * The `nixyard` command: `serve` runs the registry, `builds` drives a running registry's builds
 * over its API, `apps` connects repositories to it, `sbom` prints an image's SBOM, `layers` is the batch layering command the layering benchmark calls, `popcount`
 * computes popularity data. Configuration errors end the process with one line per problem.
 */
// First: V8's settings apply to what is loaded after them.
import './v8-settings.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { DEMO_PKGS_PATH } from './paths.js';
import { withSecretFiles } from './secret-files.js';

// Each command loads only its own modules: the registry process holds none of the client's.

const USAGE = `usage: nixyard <command>

commands:
  serve [--demo]   run the registry (configuration from the environment, see README);
                   --demo serves the offline demo package set in nix/demo
  layers           read a layering request (JSON) on stdin, write the layers on stdout
  popcount         compute popularity data for layering from a channel (--channel NAME)
                   or a local package set (--pkgs PATH); see popcount --help
  builds <command> list, show, create, follow the logs of, cancel and retry the builds of
                   a running registry (list|show|create|logs|cancel|retry|stats);
                   exit codes 0 ok, 1 followed build failed, 2 usage, 3 registry error,
                   4 registry unreachable; see builds --help
  apps <command>   connect repositories so that every push builds them, list, show,
                   update and disconnect them (connect|list|show|update|disconnect);
                   see apps --help
  sbom HOST/NAME[:TAG]  print an image's SBOM (--format spdx|cyclonedx); see sbom --help
`;

/** Environment for `serve --demo`: the demo package set, Nix kept offline. */
function demoEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  for (const name of ['NIXERY_CHANNEL', 'NIXERY_PKGS_REPO', 'NIXERY_PKGS_PATH']) {
    if (env[name]) throw new ConfigError([`${name} is set: --demo serves the demo package set, unset ${name} or drop --demo`]);
  }
  return { ...env, NIXERY_PKGS_PATH: DEMO_PKGS_PATH, NIX_CONFIG: env['NIX_CONFIG'] ?? 'substituters =' };
}

async function serve(args: string[]): Promise<void> {
  const demo = args.includes('--demo');
  const env = withSecretFiles(demo ? demoEnvironment(process.env) : process.env);
  if (demo) process.env['NIX_CONFIG'] = env['NIX_CONFIG'];
  const config = loadConfig(env);
  const log = createLogger({ level: config.operations.logLevel, format: config.operations.logFormat });
  const { startServer } = await import('./server.js');
  const running = await startServer(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    // A second signal while draining, or while builds are handed back or cancelled: stop at once.
    if (stopping) process.exit(1);
    stopping = true;
    // SIGTERM (an orchestrator) drains first; SIGINT (a terminal) stops at once.
    log.info('stopping', { signal, drainSeconds: signal === 'SIGTERM' ? config.operations.drainSeconds : 0 });
    (signal === 'SIGTERM' ? running.drain() : Promise.resolve()).then(() => running.close()).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error('could not stop cleanly', { error: String(error) });
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: execa's exit hook re-raises a signal that has no listener left, which
  // would kill the process before it has stopped its builds.
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('reloading', { signal: 'SIGHUP' });
    running.reload().catch((error: unknown) => log.error('could not reload', { error: String(error) }));
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'serve':
      await serve(args);
      return -1;
    case 'layers':
      return (await import('./commands/layers.js')).runLayersCommand(args, process.stdin, process.stdout);
    case 'popcount':
      return (await import('./commands/popcount.js')).runPopcountCommand(args, process.stdout, process.stderr);
    case 'builds':
      return (await import('./commands/builds.js')).runBuildsCommand(args, process.stdout, process.stderr);
    case 'apps':
      return (await import('./commands/apps.js')).runAppsCommand(args, process.stdout, process.stderr);
    case 'sbom':
      return (await import('./commands/sbom.js')).runSbomCommand(args, process.stdout, process.stderr);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`nixyard: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`nixyard: ${error.problems.join('\nnixyard: ')}\n`);
      process.exit(2);
    }
    process.stderr.write(`nixyard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
