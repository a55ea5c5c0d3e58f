import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runLayersCommand } from './layers.js';

const hash = (c: string) => c.repeat(32);
const p = (c: string, name: string) => `/nix/store/${hash(c)}-${name}`;

const glibc = p('a', 'glibc-2.39');
const bash = p('b', 'bash-5.2');
const hello = p('c', 'hello-2.12');
const cacert = p('d', 'nss-cacert-3.98');
const coreutils = p('f', 'coreutils-9.4');

/** Two images sharing glibc: hello+cacert, bash+coreutils+cacert. */
const REQUEST = {
  budget: 3,
  popularity: { 'glibc-2.39': 150, 'bash-5.2': 3 },
  images: [
    {
      roots: [hello, cacert],
      graph: [
        { path: glibc, narSize: 30_000_000, references: [glibc] },
        { path: hello, narSize: 100_000, references: [glibc, hello] },
        { path: cacert, narSize: 500_000, references: [] },
      ],
    },
    {
      roots: [bash, coreutils, cacert],
      graph: [
        { path: glibc, narSize: 30_000_000, references: [glibc] },
        { path: bash, narSize: 1_500_000, references: [glibc] },
        { path: coreutils, narSize: 1_700_000, references: [glibc, coreutils] },
        { path: cacert, narSize: 500_000, references: [] },
      ],
    },
  ],
};

async function layers(argv: string[], request: unknown): Promise<string[][][]> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const stdin = Readable.from([typeof request === 'string' ? request : JSON.stringify(request)]);
  expect(await runLayersCommand(argv, stdin, stdout)).toBe(0);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as string[][][];
}

function expectCovers(imageLayers: string[][], graph: { path: string }[], budget: number) {
  expect(imageLayers.length).toBeGreaterThan(0);
  expect(imageLayers.length).toBeLessThanOrEqual(budget);
  const paths = imageLayers.flat();
  expect(new Set(paths).size).toBe(paths.length);
  expect([...paths].sort()).toEqual(graph.map((info) => info.path).sort());
  for (const layer of imageLayers) expect(layer).toEqual([...layer].sort());
}

describe('nixyard layers', () => {
  it('answers one list of layers per image, each covering its closure within the budget', async () => {
    const answer = await layers([], REQUEST);
    expect(answer).toHaveLength(2);
    answer.forEach((imageLayers, i) => expectCovers(imageLayers, REQUEST.images[i]!.graph, REQUEST.budget));
  });

  it('layers each image on its own: the order of the images does not matter', async () => {
    const forward = await layers([], REQUEST);
    const backward = await layers([], { ...REQUEST, images: [...REQUEST.images].reverse() });
    expect(backward.reverse()).toEqual(forward);
  });

  it.each(['nixery', 'popcontest', 'root-tails'])('runs --strategy %s', async (strategy) => {
    const answer = await layers(['--strategy', strategy], REQUEST);
    answer.forEach((imageLayers, i) => expectCovers(imageLayers, REQUEST.images[i]!.graph, REQUEST.budget));
  });

  it('gives glibc, popular (≥ 100), a layer of its own with the nixery strategy', async () => {
    const answer = await layers(['--strategy=nixery', '--always-included', 'nss-cacert'], { ...REQUEST, budget: 10 });
    for (const imageLayers of answer) expect(imageLayers).toContainEqual([glibc]);
  });

  it('defaults popularity to none and references to []', async () => {
    const answer = await layers([], { budget: 2, images: [{ roots: [hello], graph: [{ path: hello, narSize: 1 }] }] });
    expect(answer).toEqual([[[hello]]]);
  });

  it('prints its usage for --help', async () => {
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    expect(await runLayersCommand(['--help'], Readable.from([]), stdout)).toBe(0);
    expect(Buffer.concat(chunks).toString()).toContain('usage: nixyard layers');
  });

  it.each([
    [['--strategy', 'best'], REQUEST, /unknown strategy "best"; known: root-tails, nixery, popcontest/],
    [['--strategy'], REQUEST, /--strategy needs a value/],
    [['--fast'], REQUEST, /unknown argument "--fast"/],
    [[], '{"budget": 3,', /layers: stdin is not JSON/],
    [[], { images: [] }, /layers: invalid request: budget: Required/],
    [[], { ...REQUEST, budget: 0 }, /invalid request: budget: Number must be greater than or equal to 1/],
    [[], { budget: 2, images: [{ roots: [hello], graph: [{ path: hello, narSize: -1 }] }] }, /invalid request: images.0.graph.0.narSize/],
    [[], { budget: 2, images: [{ roots: [hello], graph: [{ path: hello, narSize: 1, references: [glibc] }] }] }, /glibc/],
  ])('rejects %j with a clear error', async (argv, request, message) => {
    await expect(layers(argv as string[], request)).rejects.toThrow(message);
  });
});
