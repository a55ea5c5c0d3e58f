/**
 * The layering benchmark's chart as a hand-written SVG (no dependency): bytes downloaded per
 * strategy, grouped by layer budget, against the lower bound; then mean layers per image (with
 * the budget marked) and distinct layers downloaded. Pure: data in, SVG text out.
 */

/** What one strategy scored at one budget. */
export interface ChartValue {
  gb: number;
  /** Bytes downloaded / lower bound. */
  ratio: number;
  meanLayers: number;
  distinctLayers: number;
}

/** The chart's data: `values[budget index][strategy index]`. */
export interface ChartData {
  title: string;
  budgets: number[];
  strategies: string[];
  lowerBoundGB: number;
  noSharingGB: number;
  values: ChartValue[][];
}

/** Bar colours (Okabe–Ito, readable with colour-blindness), by strategy index. */
export const CHART_COLOURS = ['#E69F00', '#56B4E9', '#009E73', '#CC79A7', '#0072B2'];

const WIDTH = 1000;
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(value: number, digits = 1): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

/** A round axis step giving about `count` ticks up to `max`. */
export function niceStep(max: number, count = 5): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw);
  return step ?? 10 * power;
}

interface Panel {
  x: number;
  y: number;
  width: number;
  height: number;
  title: string;
  axisLabel: string;
  /** Value of each bar, `[budget][strategy]`. */
  value: (v: ChartValue) => number;
  /** Text above each bar, one string a line. */
  label: (v: ChartValue) => string[];
  /** Write the label inside the top of the bar (white) instead of above it. */
  labelInside?: boolean;
  /** Horizontal dashed reference lines across the panel (explained in the legend). */
  lines?: number[];
  /** A short dashed mark over each budget group (e.g. the budget itself). */
  groupMark?: (budget: number) => number;
}

function panel(data: ChartData, p: Panel): string {
  const all = data.values.flat().map(p.value);
  const marks = data.budgets.map((budget) => p.groupMark?.(budget) ?? 0);
  const top = Math.max(...all, ...marks, ...(p.lines ?? [])) * 1.15;
  const step = niceStep(top);
  const max = Math.ceil(top / step) * step;
  const yOf = (value: number) => p.y + p.height - (value / max) * p.height;
  const out: string[] = [];
  out.push(`<text x="${p.x}" y="${p.y - 14}" font-size="15" font-weight="bold">${escape(p.title)}</text>`);
  for (let tick = 0; tick <= max + 1e-9; tick += step) {
    const y = yOf(tick).toFixed(1);
    out.push(`<line x1="${p.x}" x2="${p.x + p.width}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${p.x - 6}" y="${y}" font-size="11" text-anchor="end" dominant-baseline="middle" fill="#444">${fmt(tick)}</text>`);
  }
  out.push(`<text transform="translate(${p.x - 44} ${p.y + p.height / 2}) rotate(-90)" font-size="12" text-anchor="middle" fill="#444">${escape(p.axisLabel)}</text>`);
  const groupWidth = p.width / data.budgets.length;
  const barWidth = (groupWidth * 0.78) / data.strategies.length;
  data.budgets.forEach((budget, g) => {
    const groupX = p.x + g * groupWidth + groupWidth * 0.11;
    data.strategies.forEach((_, s) => {
      const v = data.values[g]?.[s] as ChartValue;
      const x = groupX + s * barWidth;
      const y = yOf(p.value(v));
      out.push(`<rect x="${(x + 2).toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(p.y + p.height - y).toFixed(1)}" fill="${CHART_COLOURS[s % CHART_COLOURS.length]}"/>`);
      const lines = p.label(v);
      lines.forEach((line, i) => {
        const ly = p.labelInside ? y + 15 + i * 13 : y - 5 - (lines.length - 1 - i) * 13;
        const style = p.labelInside ? ' fill="#fff" font-weight="bold"' : '';
        out.push(`<text x="${(x + barWidth / 2).toFixed(1)}" y="${ly.toFixed(1)}" font-size="11" text-anchor="middle"${style}>${escape(line)}</text>`);
      });
    });
    if (p.groupMark) {
      const y = yOf(p.groupMark(budget)).toFixed(1);
      out.push(`<line x1="${groupX.toFixed(1)}" x2="${(groupX + groupWidth * 0.78).toFixed(1)}" y1="${y}" y2="${y}" stroke="#000" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    }
    out.push(`<text x="${(p.x + g * groupWidth + groupWidth / 2).toFixed(1)}" y="${p.y + p.height + 18}" font-size="12" text-anchor="middle">budget ${budget}</text>`);
  });
  for (const line of p.lines ?? []) {
    const y = yOf(line).toFixed(1);
    out.push(`<line x1="${p.x}" x2="${p.x + p.width}" y1="${y}" y2="${y}" stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  }
  out.push(`<line x1="${p.x}" x2="${p.x + p.width}" y1="${p.y + p.height}" y2="${p.y + p.height}" stroke="#444"/>`);
  return out.join('\n');
}

/** Renders the benchmark chart as a standalone SVG document. */
export function renderChart(data: ChartData): string {
  const height = 820;
  const legend = [
    ...data.strategies.map((name, s) => {
      const x = 80 + s * 230;
      return `<rect x="${x}" y="48" width="14" height="14" fill="${CHART_COLOURS[s % CHART_COLOURS.length]}"/><text x="${x + 20}" y="60" font-size="13">${escape(name)}</text>`;
    }),
    `<line x1="${80 + data.strategies.length * 230}" x2="${108 + data.strategies.length * 230}" y1="55" y2="55" stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    `<text x="${114 + data.strategies.length * 230}" y="60" font-size="13">lower bound: ${data.lowerBoundGB.toFixed(2)} GB</text>`,
  ].join('\n');
  const body = [
    panel(data, {
      x: 80, y: 110, width: 880, height: 290,
      title: 'GB downloaded pulling every image in order (lower is better; × the lower bound)',
      axisLabel: 'GB downloaded',
      value: (v) => v.gb,
      label: (v) => [`${v.gb.toFixed(2)} GB`, `×${v.ratio.toFixed(2)}`],
      lines: [data.lowerBoundGB],
    }),
    panel(data, {
      x: 80, y: 490, width: 400, height: 230,
      title: 'Layers per image (mean; dashed: the budget)',
      axisLabel: 'layers',
      value: (v) => v.meanLayers,
      label: (v) => [fmt(v.meanLayers)],
      labelInside: true,
      groupMark: (budget) => budget,
    }),
    panel(data, {
      x: 560, y: 490, width: 400, height: 230,
      title: 'Distinct layers downloaded (blobs fetched)',
      axisLabel: 'layers',
      value: (v) => v.distinctLayers,
      label: (v) => [String(v.distinctLayers)],
    }),
  ].join('\n');
  const captions = [
    `Lower bound: every store path downloaded once. Without any sharing the images would be ${data.noSharingGB.toFixed(2)} GB.`,
    'Data: ../shared/bench/layering (Debian bookworm as a store-path graph), scored by its evaluate.py.',
  ];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT}>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="28" font-size="19" font-weight="bold" text-anchor="middle">${escape(data.title)}</text>`,
    legend,
    body,
    ...captions.map((line, i) => `<text x="${WIDTH / 2}" y="${height - 36 + i * 17}" font-size="12" text-anchor="middle" fill="#444">${escape(line)}</text>`),
    '</svg>',
    '',
  ].join('\n');
}
