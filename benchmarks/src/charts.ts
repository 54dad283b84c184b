// Charts of benchmark results as SVG, drawn by Vega-Lite (compiled to Vega and rendered headless,
// without a browser or a canvas, so the same results always give the same file).
//
// One chart per result file: every case as a bar from parity to its ratio (ours / peer, oriented so
// higher is better for dbos) on a log scale, coloured by its verdict, with the target as a tick and parity
// (1×) as a dashed line. A log scale shows 0.3× and 3× as equally far from parity, which is the
// honest picture of a ratio. A result's figures are charts of their own: time series and latency
// distributions as line charts, bars (every system's value per case) as grouped bar charts.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BarFigure, BenchFigure, BenchResult, LineFigure } from './report.ts';

/** Longest case label on the chart's axis; the table under the chart has the full text. */
const LABEL_MAX = 60;

export type Verdict = 'met' | 'missed' | 'no target';

export function verdictOf(c: BenchResult['cases'][number]): Verdict {
  return c.met === null ? 'no target' : c.met ? 'met' : 'missed';
}

/**
 * "#3 random get: uniform …, in memory": numbered so the chart and the table line up. A long case
 * keeps its start and its end, where the cases of one experiment differ (the quantum, the peer).
 */
export function caseLabel(index: number, text: string): string {
  const label = `#${index + 1} ${text}`;
  if (label.length <= LABEL_MAX) return label;
  const head = Math.floor(LABEL_MAX * 0.4);
  return `${label.slice(0, head).trimEnd()} … ${label.slice(label.length - (LABEL_MAX - head - 3)).trimStart()}`;
}

export function ratioChartSpec(result: BenchResult): TopLevelSpec {
  const rows = result.cases
    // A ratio of 0 or Infinity has no place on a log axis; the table still lists the case.
    .filter((c) => Number.isFinite(c.ratio) && c.ratio > 0)
    .map((c) => ({
      label: caseLabel(result.cases.indexOf(c), c.case),
      ratio: c.ratio,
      target: c.target,
      verdict: verdictOf(c),
      peer: c.baseline.system,
    }));
  const y = { field: 'label', type: 'nominal', sort: null, axis: { title: null, labelLimit: 600 } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `${result.package}: ours / peer per case`, subtitle: 'log scale; higher is better for dbos; ticks mark targets' },
    width: 420,
    height: { step: 16 },
    data: { values: rows },
    layer: [
      {
        // Bars grow from parity: right of 1× dbos is ahead, left of it behind.
        mark: { type: 'bar' },
        encoding: {
          y,
          x: { field: 'ratio', type: 'quantitative', scale: { type: 'log' }, title: 'ratio (ours / peer)' },
          x2: { datum: 1 },
          color: {
            field: 'verdict',
            type: 'nominal',
            scale: { domain: ['met', 'missed', 'no target'], range: ['#2e7d32', '#c62828', '#9e9e9e'] },
            legend: { title: null, orient: 'bottom' },
          },
        },
      },
      {
        transform: [{ filter: 'datum.target != null' }],
        mark: { type: 'tick', color: 'black', thickness: 2 },
        encoding: { y, x: { field: 'target', type: 'quantitative' } },
      },
      {
        data: { values: [{ parity: 1 }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#555' },
        encoding: { x: { field: 'parity', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec;
}

/** A figure's chart: bars as grouped bars, the other kinds as line charts. */
export function figureSpec(figure: BenchFigure): TopLevelSpec {
  return figure.kind === 'bars' ? barSpec(figure) : lineSpec(figure);
}

/**
 * Grouped horizontal bars: one group per category, top to bottom in the figure's order, one bar per
 * system in each, in the series' order and colour, with its value printed at the bar's end (SI
 * prefixes: 1.23M). Horizontal, so that category names stay readable; a null value has no bar.
 */
export function barSpec(figure: BarFigure): TopLevelSpec {
  const log = figure.y.scale === 'log';
  const rows = figure.series.flatMap((series) =>
    series.values.flatMap((value, index) =>
      // A log axis has no place for 0; a missing value has no bar.
      value === null || !Number.isFinite(value) || (log && value <= 0)
        ? []
        : [{ category: figure.categories[index] ?? `#${index + 1}`, series: series.name, value }],
    ),
  );
  const names = figure.series.map((series) => series.name);
  const y = { field: 'category', type: 'nominal', sort: figure.categories, axis: { title: figure.x.title, labelLimit: 320 } } as const;
  const yOffset = { field: 'series', type: 'nominal', sort: names } as const;
  // On a log axis a bar cannot start at 0: it starts at the power of ten below the smallest value.
  const values = rows.map((row) => row.value);
  const floor = log && rows.length ? 10 ** Math.floor(Math.log10(Math.min(...values))) : 0;
  // Room right of the longest bar for its printed value.
  const top = rows.length ? Math.max(...values) * (log ? 1.8 : 1.12) : 1;
  const x = {
    field: 'value',
    type: 'quantitative',
    title: `${figure.y.title}${log ? ' (log scale)' : ''}`,
    scale: log ? { type: 'log', domainMin: floor, domainMax: top } : { type: 'linear', zero: true, domainMax: top },
    axis: { format: '~s' },
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: figure.title,
    width: 460,
    height: { step: 11, for: 'offset' },
    data: { values: rows },
    encoding: { y, yOffset, x },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          ...(log ? { x2: { datum: floor } } : {}),
          color: {
            field: 'series',
            type: 'nominal',
            sort: names,
            scale: { scheme: names.length <= 10 ? 'tableau10' : 'tableau20' },
            legend: { title: null, orient: 'bottom', columns: 3, labelLimit: 300 },
          },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 3, fontSize: 9, color: '#333' },
        encoding: { text: { field: 'value', type: 'quantitative', format: '.3~s' } },
      },
    ],
  } as TopLevelSpec;
}

const LINE_WIDTH = 560;

/**
 * The marks with the pixel row of their labels (`py`): a label that would run into the one before it
 * (at about 6.5 px per character on a `width`-pixel axis spanning `xs` and the marks) goes a row down.
 */
function markLabelRows(
  marks: { x: number; label: string }[],
  xs: number[],
  width: number,
): { x: number; label: string; py: number; left: boolean }[] {
  const all = [...xs, ...marks.map((mark) => mark.x)];
  const [low, high] = [Math.min(...all), Math.max(...all)];
  const span = high - low || 1;
  const rowEnds: number[] = [];
  return [...marks]
    .sort((a, b) => a.x - b.x)
    .map((mark) => {
      const length = ((mark.label.length * 6.5 + 8) / width) * span;
      // A label that would run past the plot's right edge goes left of its rule.
      const left = mark.x + length > high && mark.x - length > low;
      const start = left ? mark.x - length : mark.x;
      let row = rowEnds.findIndex((end) => end < start);
      if (row < 0) row = rowEnds.length;
      rowEnds[row] = start + length;
      return { ...mark, py: row * 13, left };
    });
}

/** A line chart: one coloured line per series, its marks as labelled dashed rules. */
export function lineSpec(figure: LineFigure): TopLevelSpec {
  const rows = figure.series.flatMap((series) => series.points.map(([x, y]) => ({ series: series.name, x, y })));
  const marks = markLabelRows(
    figure.marks ?? [],
    rows.map((row) => row.x),
    LINE_WIDTH,
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: figure.title,
    width: LINE_WIDTH,
    height: 220,
    layer: [
      {
        data: { values: rows },
        // A distribution has a few points per line: draw them. A time series has hundreds: don't.
        mark: {
          type: 'line',
          strokeWidth: 1.5,
          interpolate: figure.kind === 'timeseries' ? 'step-after' : 'linear',
          point: figure.kind === 'distribution',
        },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: figure.x.title },
          y: { field: 'y', type: 'quantitative', title: figure.y.title, scale: { type: figure.y.scale ?? 'linear' } },
          // One legend entry per line, stacked at the side; 10 distinct colours, 20 (in light/dark
          // pairs) only when there are more lines than that.
          color: {
            field: 'series',
            type: 'nominal',
            scale: { scheme: figure.series.length <= 10 ? 'tableau10' : 'tableau20' },
            legend: { title: null, orient: 'right', labelLimit: 400 },
          },
        },
      },
      ...(marks.length
        ? [
            {
              data: { values: marks },
              mark: { type: 'rule', strokeDash: [4, 3], color: '#555' },
              encoding: { x: { field: 'x', type: 'quantitative' } },
            },
            // Labels right of their rule, or left of it near the right edge. y in pixels from the
            // plot's top (scale: null): row 0 above the plot, further rows inside it.
            ...[false, true]
              .filter((left) => marks.some((mark) => mark.left === left))
              .map((left) => ({
                data: { values: marks.filter((mark) => mark.left === left) },
                mark: { type: 'text', align: left ? 'right' : 'left', dx: left ? -3 : 3, dy: -4, baseline: 'bottom', color: '#333' },
                encoding: {
                  x: { field: 'x', type: 'quantitative' },
                  y: { field: 'py', type: 'quantitative', scale: null },
                  text: { field: 'label' },
                },
              })),
          ]
        : []),
    ],
  } as TopLevelSpec;
}

/** Render a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return `${await view.toSVG()}\n`;
  } finally {
    view.finalize();
  }
}
