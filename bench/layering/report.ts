/**
 * bench/layering/report: the layering benchmark as a table and a chart.
 *
 *   npm run build && node dist/bench/layering/report.js [--data DIR] [--workload FILE]
 *       [--budgets 94,60,30] [--out DIR]
 *
 * For each budget, runs `python3 <data>/evaluate.py <data> <workload> <budget> --cmd 'node
 * dist/src/cli.js layers'` (the shared scorer: Nixery's strategy, dockerTools' popularity contest
 * and nixyard's default strategy, bytes a client downloads pulling every image in order) and
 * parses its lines. It also layers the workload in process with nixyard's implementation of each
 * strategy to count layers (mean per image, distinct layers downloaded) and checks that those
 * give the bytes evaluate.py reports. Writes `report.md` (the tables) and `report.svg` (bars of
 * bytes downloaded per strategy and budget against the lower bound, and of layer counts) to
 * `--out` (default `bench/layering/`), and prints the table.
 *
 * Defaults: `--data ../shared/bench/layering` (beside the repository), its
 * `workload-public.json`, budgets 94 (Nixery's default), 60 and 30.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { groupLayers, type LayeringStrategyName, type StorePathInfo } from '../../src/layers/index.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { renderChart, type ChartData } from './chart.js';

const run = promisify(execFile);

/** The strategies in the report: evaluate.py's name → nixyard's name and a label. */
const STRATEGIES = [
  { evaluate: 'nixery', nixyard: 'nixery', label: 'Nixery (dominator tree)' },
  { evaluate: 'popcontest', nixyard: 'popcontest', label: 'dockerTools popularity contest' },
  { evaluate: 'project', nixyard: 'root-tails', label: 'nixyard (root-tails)' },
] as const satisfies readonly { evaluate: string; nixyard: LayeringStrategyName; label: string }[];

/** evaluate.py's always-included packages of its Debian workload (stand-ins for cacert, iana-etc). */
const ALWAYS_INCLUDED = ['ca-certificates', 'netbase'];

interface Options {
  data: string;
  workload: string;
  budgets: number[];
  out: string;
}

/** One strategy at one budget. */
interface Row {
  budget: number;
  strategy: (typeof STRATEGIES)[number];
  /** From evaluate.py. */
  downloadedGB: number;
  ratio: number;
  maxLayers: number;
  /** From the in-process layering. */
  meanLayers: number;
  distinctLayers: number;
  inProcessGB: number;
}

interface Workload {
  images: number;
  lowerBoundGB: number;
  noSharingGB: number;
}

function parseArgs(argv: string[]): Options {
  const data = resolve(PROJECT_ROOT, '..', 'shared', 'bench', 'layering');
  const options: Options = { data, workload: join(data, 'workload-public.json'), budgets: [94, 60, 30], out: join(PROJECT_ROOT, 'bench', 'layering') };
  let workloadGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value (usage: report.js [--data DIR] [--workload FILE] [--budgets 94,60,30] [--out DIR])`);
    if (flag === '--data') options.data = resolve(value);
    else if (flag === '--workload') {
      options.workload = resolve(value);
      workloadGiven = true;
    } else if (flag === '--out') options.out = resolve(value);
    else if (flag === '--budgets') {
      options.budgets = value.split(',').map((part) => Number(part.trim()));
      if (options.budgets.some((budget) => !Number.isInteger(budget) || budget < 2)) throw new Error(`--budgets ${JSON.stringify(value)}: expected integers of at least 2, comma-separated`);
    } else throw new Error(`unknown argument ${JSON.stringify(flag)} (usage: report.js [--data DIR] [--workload FILE] [--budgets 94,60,30] [--out DIR])`);
  }
  if (!workloadGiven) options.workload = join(options.data, 'workload-public.json');
  return options;
}

const NUMBER = String.raw`([0-9.]+)`;

/** Parses evaluate.py's output (see its `main`). */
export function parseEvaluateOutput(text: string): { workload: Workload; results: Map<string, { gb: number; ratio: number; maxLayers: number }> } {
  const head = new RegExp(String.raw`^workload: (\d+) images, lower bound ${NUMBER} GB, no-sharing ${NUMBER} GB$`, 'm').exec(text);
  if (!head) throw new Error(`evaluate.py printed no workload line:\n${text}`);
  const results = new Map<string, { gb: number; ratio: number; maxLayers: number }>();
  for (const match of text.matchAll(new RegExp(String.raw`^(\S+)\s+downloaded ${NUMBER} GB\s+ratio ${NUMBER}\s+max layers (\d+)`, 'gm'))) {
    results.set(match[1] as string, { gb: Number(match[2]), ratio: Number(match[3]), maxLayers: Number(match[4]) });
  }
  return { workload: { images: Number(head[1]), lowerBoundGB: Number(head[2]), noSharingGB: Number(head[3]) }, results };
}

async function evaluate(options: Options, budget: number): Promise<string> {
  const script = join(options.data, 'evaluate.py');
  const args = [script, options.data, options.workload, String(budget), '--cmd', 'node dist/src/cli.js layers'];
  process.stderr.write(`layering: python3 ${args.map((arg) => (arg.includes(' ') ? `'${arg}'` : arg)).join(' ')}\n`);
  try {
    const { stdout } = await run('python3', args, { cwd: PROJECT_ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 900_000 });
    return stdout;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`evaluate.py failed at budget ${budget}: ${failed.stdout ?? ''}${failed.stderr ?? ''}${failed.message}`);
  }
}

function closure(byPath: Map<string, StorePathInfo>, roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const path = stack.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    const info = byPath.get(path);
    if (!info) throw new Error(`the workload names ${path}, which is not in the graph`);
    stack.push(...info.references);
  }
  return seen;
}

/** Layers every image with nixyard's `strategy`; counts layers and bytes as evaluate.py scores them. */
function layerWorkload(byPath: Map<string, StorePathInfo>, images: string[][], popularity: Record<string, number>, budget: number, strategy: LayeringStrategyName) {
  const downloaded = new Set<string>();
  let bytes = 0;
  let layerTotal = 0;
  for (const roots of images) {
    const graph = [...closure(byPath, roots)].sort().map((path) => byPath.get(path) as StorePathInfo);
    const layers = groupLayers({ roots, graph, popularity, budget, alwaysIncluded: ALWAYS_INCLUDED }, strategy);
    layerTotal += layers.length;
    for (const layer of layers) {
      const key = [...layer].sort().join('\n');
      if (downloaded.has(key)) continue;
      downloaded.add(key);
      bytes += layer.reduce((sum, path) => sum + (byPath.get(path) as StorePathInfo).narSize, 0);
    }
  }
  return { meanLayers: layerTotal / images.length, distinctLayers: downloaded.size, gb: bytes / 1e9 };
}

function markdown(options: Options, workload: Workload, rows: Row[]): string {
  const data = relative(PROJECT_ROOT, options.data);
  const lines = [
    '# Layering benchmark',
    '',
    'Generated by `npm run build && node dist/bench/layering/report.js` (see `bench/layering/README.md`).',
    '',
    '![bytes downloaded and layers per strategy and budget](report.svg)',
    '',
    `Workload \`${relative(options.data, options.workload)}\` of \`${data}\`: ${workload.images} images pulled in order by one client that caches layers by content;`,
    `every store path downloaded once would be **${workload.lowerBoundGB.toFixed(2)} GB** (the lower bound), every image without sharing ${workload.noSharingGB.toFixed(2)} GB.`,
    '',
    '| budget | strategy | downloaded (GB) | × lower bound | max layers | mean layers | distinct layers |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => `| ${row.budget} | ${row.strategy.label} | ${row.downloadedGB.toFixed(2)} | ${row.ratio.toFixed(3)} | ${row.maxLayers} | ${row.meanLayers.toFixed(1)} | ${row.distinctLayers} |`),
    '',
    '| budget | nixyard / Nixery (bytes downloaded) |',
    '| ---: | ---: |',
    ...options.budgets.map((budget) => {
      const of = (name: string) => rows.find((row) => row.budget === budget && row.strategy.evaluate === name) as Row;
      return `| ${budget} | ${(of('project').ratio / of('nixery').ratio).toFixed(3)} |`;
    }),
    '',
    'Downloaded, × lower bound and max layers are `evaluate.py`\'s (its own Nixery and popularity-contest',
    'code; nixyard through `nixyard layers`). Mean layers per image and distinct layers (the blobs the',
    'client fetched) come from layering the same workload with nixyard\'s implementation of each strategy,',
    'whose bytes downloaded agree with `evaluate.py`\'s to the GB digits shown.',
    '',
    'Commands:',
    '',
    '```',
    ...options.budgets.map((budget) => `python3 ${data}/evaluate.py ${data} ${relative(PROJECT_ROOT, options.workload)} ${budget} --cmd 'node dist/src/cli.js layers'`),
    '```',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const graph = JSON.parse(gunzipSync(await readFile(join(options.data, 'graph.json.gz'))).toString('utf8')) as StorePathInfo[];
  const byPath = new Map(graph.map((info) => [info.path, info]));
  const popularity = JSON.parse(await readFile(join(options.data, 'popularity.json'), 'utf8')) as Record<string, number>;
  const images = JSON.parse(await readFile(options.workload, 'utf8')) as string[][];

  const rows: Row[] = [];
  let workload: Workload | undefined;
  for (const budget of options.budgets) {
    const parsed = parseEvaluateOutput(await evaluate(options, budget));
    workload = parsed.workload;
    for (const strategy of STRATEGIES) {
      const scored = parsed.results.get(strategy.evaluate);
      if (!scored) throw new Error(`evaluate.py printed no line for ${strategy.evaluate} at budget ${budget}`);
      process.stderr.write(`layering: budget ${budget}, ${strategy.nixyard} in process\n`);
      const counted = layerWorkload(byPath, images, popularity, budget, strategy.nixyard);
      if (Math.abs(counted.gb - scored.gb) > 0.006) {
        throw new Error(`nixyard's ${strategy.nixyard} downloads ${counted.gb.toFixed(3)} GB at budget ${budget}, evaluate.py's ${strategy.evaluate} ${scored.gb} GB: the implementations disagree`);
      }
      rows.push({ budget, strategy, downloadedGB: scored.gb, ratio: scored.ratio, maxLayers: scored.maxLayers, meanLayers: counted.meanLayers, distinctLayers: counted.distinctLayers, inProcessGB: counted.gb });
    }
  }
  if (!workload) throw new Error('no budget to run');

  const chart: ChartData = {
    title: `Layering ${workload.images} images of the Debian-graph workload`,
    budgets: options.budgets,
    strategies: STRATEGIES.map((strategy) => strategy.label),
    lowerBoundGB: workload.lowerBoundGB,
    noSharingGB: workload.noSharingGB,
    values: options.budgets.map((budget) =>
      STRATEGIES.map((strategy) => {
        const row = rows.find((r) => r.budget === budget && r.strategy === strategy) as Row;
        return { gb: row.downloadedGB, ratio: row.ratio, meanLayers: row.meanLayers, distinctLayers: row.distinctLayers };
      }),
    ),
  };
  const report = markdown(options, workload, rows);
  await writeFile(join(options.out, 'report.md'), report);
  await writeFile(join(options.out, 'report.svg'), renderChart(chart));
  process.stdout.write(report);
  process.stderr.write(`layering: wrote ${join(options.out, 'report.md')} and report.svg\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`layering: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
