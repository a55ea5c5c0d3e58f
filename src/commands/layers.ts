/**
 * `nixyard layers`: the batch form of layering, for the layering benchmark
 * (`../shared/bench/layering/evaluate.py --cmd 'node dist/src/cli.js layers'`). Reads
 * `{"budget": N, "popularity": {...}, "images": [{"roots": [...], "graph": [{path, narSize, references}]}]}`
 * on stdin and writes one JSON list per image of its layers (lists of store paths), each image
 * layered on its own.
 */
import { z } from 'zod';
import { DEFAULT_LAYERING_STRATEGY, groupLayers, isLayeringStrategyName, LAYERING_STRATEGIES, type LayeringStrategyName } from '../layers/index.js';

const USAGE = `usage: nixyard layers [--strategy NAME] [--always-included PREFIX,...] < request.json

Reads {"budget", "popularity", "images": [{"roots", "graph"}]} on stdin, writes the layers of
each image as JSON on stdout.
  --strategy NAME               ${Object.keys(LAYERING_STRATEGIES).join(' | ')} (default ${DEFAULT_LAYERING_STRATEGY})
  --always-included PREFIX,...  name prefixes of the packages added to every image, which the
                                nixery strategy rates most popular (default nss-cacert,iana-etc)
`;

const RequestSchema = z.object({
  budget: z.number().int().min(1),
  popularity: z.record(z.string(), z.number()).default({}),
  images: z.array(
    z.object({
      roots: z.array(z.string()),
      graph: z.array(z.object({ path: z.string(), narSize: z.number().nonnegative(), references: z.array(z.string()).default([]) })),
    }),
  ),
});

interface LayersOptions {
  strategy: LayeringStrategyName;
  alwaysIncluded?: string[];
  help: boolean;
}

function parseOptions(argv: string[]): LayersOptions {
  const options: LayersOptions = { strategy: DEFAULT_LAYERING_STRATEGY, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const next = inline ?? argv[++i];
      if (next === undefined) throw new Error(`layers: ${flag} needs a value\n${USAGE}`);
      return next;
    };
    if (flag === '--help' || flag === '-h') options.help = true;
    else if (flag === '--strategy') {
      const name = value();
      if (!isLayeringStrategyName(name)) throw new Error(`layers: unknown strategy ${JSON.stringify(name)}; known: ${Object.keys(LAYERING_STRATEGIES).join(', ')}`);
      options.strategy = name;
    } else if (flag === '--always-included') options.alwaysIncluded = value().split(',').map((s) => s.trim()).filter((s) => s !== '');
    else throw new Error(`layers: unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return options;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}

/** Runs `nixyard layers` with the arguments after `layers`; resolves to the exit code. Throws on bad input. */
export async function runLayersCommand(argv: string[], stdin: NodeJS.ReadableStream, stdout: NodeJS.WritableStream): Promise<number> {
  const options = parseOptions(argv);
  if (options.help) {
    await write(stdout, USAGE);
    return 0;
  }
  const text = await readAll(stdin);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`layers: stdin is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = RequestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(request)'}: ${issue.message}`);
    throw new Error(`layers: invalid request: ${problems.join('; ')}`);
  }
  const { budget, popularity, images } = parsed.data;
  const answer = images.map((image) =>
    groupLayers({ roots: image.roots, graph: image.graph, popularity, budget, ...(options.alwaysIncluded ? { alwaysIncluded: options.alwaysIncluded } : {}) }, options.strategy),
  );
  await write(stdout, `${JSON.stringify(answer)}\n`);
  return 0;
}
