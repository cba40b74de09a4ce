/**
 * A line chart as hand-written SVG, for the bench's figures in the README: title and subtitle,
 * axes with ticks and units, one line per series with a marker per point, a legend on the right,
 * notes under the plot. No dependencies, no clock, no locale: the same spec always gives the same
 * bytes, so a committed chart changes only when its figures do.
 *
 * The x axis is linear from 0 and ticked at the x values the series hold (the bench's asked
 * publish rates), so the reader sees exactly which rates were measured. The y axis is linear from
 * 0 with 1-2-5 steps, or logarithmic with a tick per power of ten (latencies from milliseconds to
 * tens of seconds). Bad input is refused with a ChartError naming what is wrong, never drawn as a
 * broken picture: no series or no points, a value that is not a finite number, a value at or
 * below zero on a log axis, more series than the legend has room for.
 */

export class ChartError extends Error {
  override name = 'ChartError';
}

export interface ChartPoint {
  x: number;
  y: number;
  /** Drawn hollow: the legend explains what a hollow marker means (see `hollowMeaning`). */
  hollow?: boolean;
}

export interface ChartSeries {
  label: string;
  /** A CSS colour. */
  color: string;
  dashed: boolean;
  marker: 'circle' | 'square' | 'diamond';
  points: ChartPoint[];
}

export interface ChartAxis {
  /** The axis title, with its unit, e.g. "asked publishes / s". */
  label: string;
  /** A tick's label from its value. */
  format: (value: number) => string;
}

export interface LineChartSpec {
  title: string;
  subtitle: string;
  x: ChartAxis;
  y: ChartAxis & { scale: 'linear' | 'log' };
  series: ChartSeries[];
  /** A grey dashed line behind the series (e.g. what full delivery would be); not a series. */
  reference?: { label: string; points: ChartPoint[] };
  /** What a hollow marker means, shown in the legend when any point is hollow. */
  hollowMeaning?: string;
  /** Lines of small print under the plot. */
  notes: string[];
}

/** The picture's size in CSS pixels: about the width of a README column on GitHub. */
const widthPx = 880;
const plotHeightPx = 330;
const marginLeftPx = 84;
const marginTopPx = 70;
const legendWidthPx = 270;
const legendLineHeightPx = 22;
const noteLineHeightPx = 17;
/** The legend stacks series down the plot's height; more would run off the picture. */
export const seriesMax = Math.floor(plotHeightPx / legendLineHeightPx) - 2;
const linearTicksWanted = 6;
const font = `system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif`;

/** The SVG document for `spec`; throws ChartError when the data cannot honestly be drawn. */
export function lineChart(spec: LineChartSpec): string {
  validate(spec);
  const plot = {
    left: marginLeftPx,
    top: marginTopPx,
    width: widthPx - marginLeftPx - legendWidthPx,
    height: plotHeightPx,
  };
  const bottom = plot.top + plot.height;
  const all = spec.series.flatMap((s) => s.points);
  const reference = spec.reference?.points ?? [];
  const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  const xMax = Math.max(...xs, ...reference.map((p) => p.x));
  const ys = [...all, ...reference].map((p) => p.y);
  const yAxis =
    spec.y.scale === 'log' ? logAxis(Math.min(...ys), Math.max(...ys)) : linearAxis(Math.max(...ys));
  const px = (x: number): number => plot.left + (xMax === 0 ? 0 : (x / xMax) * plot.width);
  const py = (y: number): number => bottom - yAxis.fraction(y) * plot.height;
  const heightPx = bottom + 62 + spec.notes.length * noteLineHeightPx;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}" font-family="${escape(font)}" font-size="13">`,
    `<title>${escape(spec.title)}</title>`,
    `<rect width="${widthPx}" height="${heightPx}" fill="#ffffff"/>`,
    `<text x="${plot.left}" y="26" font-size="17" font-weight="600" fill="#1a1a1a">${escape(spec.title)}</text>`,
    `<text x="${plot.left}" y="47" font-size="12" fill="#555555">${escape(spec.subtitle)}</text>`,
  );

  // Grid and ticks: y first so the x axis line sits on top of the lowest grid line.
  out.push(`<g class="y-axis" fill="#333333" text-anchor="end">`);
  for (const tick of yAxis.ticks) {
    const y = fixed(py(tick));
    out.push(
      `<line x1="${plot.left}" y1="${y}" x2="${plot.left + plot.width}" y2="${y}" stroke="#e3e3e3"/>`,
      `<text class="tick" x="${plot.left - 8}" y="${fixed(py(tick) + 4.5)}">${escape(spec.y.format(tick))}</text>`,
    );
  }
  for (const minor of yAxis.minorTicks) {
    const y = fixed(py(minor));
    out.push(`<line x1="${plot.left}" y1="${y}" x2="${plot.left + plot.width}" y2="${y}" stroke="#f2f2f2"/>`);
  }
  out.push(`</g>`);
  out.push(`<g class="x-axis" fill="#333333" text-anchor="middle">`);
  for (const tick of [0, ...xs.filter((x) => x !== 0)]) {
    const x = fixed(px(tick));
    out.push(
      `<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="#333333"/>`,
      `<text class="tick" x="${x}" y="${bottom + 20}">${escape(spec.x.format(tick))}</text>`,
    );
  }
  out.push(`</g>`);
  out.push(
    `<line x1="${plot.left}" y1="${bottom}" x2="${plot.left + plot.width}" y2="${bottom}" stroke="#333333"/>`,
    `<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${bottom}" stroke="#333333"/>`,
    `<text class="axis-label" x="${fixed(plot.left + plot.width / 2)}" y="${bottom + 42}" text-anchor="middle" fill="#1a1a1a">${escape(spec.x.label)}</text>`,
    `<text class="axis-label" transform="translate(18 ${fixed(plot.top + plot.height / 2)}) rotate(-90)" text-anchor="middle" fill="#1a1a1a">${escape(spec.y.label)}</text>`,
  );

  if (spec.reference !== undefined && reference.length > 0) {
    out.push(
      `<polyline class="reference" points="${polyline(reference, px, py)}" fill="none" stroke="#9a9a9a" stroke-width="1.5" stroke-dasharray="2 4"/>`,
    );
  }
  for (const series of spec.series) {
    const points = [...series.points].sort((a, b) => a.x - b.x);
    out.push(`<g class="series" data-label="${escape(series.label)}">`);
    out.push(
      `<polyline points="${polyline(points, px, py)}" fill="none" stroke="${escape(series.color)}" stroke-width="2.2"${series.dashed ? ' stroke-dasharray="7 4"' : ''}/>`,
    );
    for (const point of points) out.push(marker(series, point.hollow === true, px(point.x), py(point.y)));
    out.push(`</g>`);
  }

  // Legend: one row per series, then the reference line and the hollow marker's meaning.
  const legendX = plot.left + plot.width + 24;
  let row = plot.top + 6;
  out.push(`<g class="legend" fill="#1a1a1a">`);
  for (const series of spec.series) {
    out.push(
      `<line x1="${legendX}" y1="${row}" x2="${legendX + 30}" y2="${row}" stroke="${escape(series.color)}" stroke-width="2.2"${series.dashed ? ' stroke-dasharray="7 4"' : ''}/>`,
      marker(series, false, legendX + 15, row),
      `<text x="${legendX + 38}" y="${row + 4.5}">${escape(series.label)}</text>`,
    );
    row += legendLineHeightPx;
  }
  if (spec.reference !== undefined && reference.length > 0) {
    out.push(
      `<line x1="${legendX}" y1="${row}" x2="${legendX + 30}" y2="${row}" stroke="#9a9a9a" stroke-width="1.5" stroke-dasharray="2 4"/>`,
      `<text x="${legendX + 38}" y="${row + 4.5}" fill="#555555">${escape(spec.reference.label)}</text>`,
    );
    row += legendLineHeightPx;
  }
  if (all.some((p) => p.hollow === true) && spec.hollowMeaning !== undefined) {
    out.push(
      `<circle cx="${legendX + 15}" cy="${row}" r="4" fill="#ffffff" stroke="#555555" stroke-width="1.8"/>`,
      `<text x="${legendX + 38}" y="${row + 4.5}" fill="#555555">${escape(spec.hollowMeaning)}</text>`,
    );
  }
  out.push(`</g>`);

  out.push(`<g class="notes" font-size="12" fill="#555555">`);
  spec.notes.forEach((note, i) => {
    out.push(`<text x="${plot.left}" y="${bottom + 66 + i * noteLineHeightPx}">${escape(note)}</text>`);
  });
  out.push(`</g>`, `</svg>`);
  return `${out.join('\n')}\n`;
}

function validate(spec: LineChartSpec): void {
  if (spec.series.length === 0) throw new ChartError(`"${spec.title}": no series to draw`);
  if (spec.series.length > seriesMax)
    throw new ChartError(
      `"${spec.title}": ${spec.series.length} series, the legend has room for ${seriesMax}`,
    );
  const check = (owner: string, points: ChartPoint[]): void => {
    points.forEach((p, i) => {
      for (const [axis, value] of [
        ['x', p.x],
        ['y', p.y],
      ] as const) {
        if (!Number.isFinite(value))
          throw new ChartError(
            `"${spec.title}": ${owner}, point ${i + 1}: ${axis} is ${String(value)}, not a finite number`,
          );
      }
      if (p.x < 0) throw new ChartError(`"${spec.title}": ${owner}, point ${i + 1}: x is ${p.x}, below 0`);
      if (spec.y.scale === 'log' && p.y <= 0)
        throw new ChartError(
          `"${spec.title}": ${owner}, point ${i + 1}: y is ${p.y}; a log axis needs values above 0`,
        );
      if (spec.y.scale === 'linear' && p.y < 0)
        throw new ChartError(`"${spec.title}": ${owner}, point ${i + 1}: y is ${p.y}, below 0`);
    });
  };
  for (const series of spec.series) {
    if (series.points.length === 0)
      throw new ChartError(`"${spec.title}": series "${series.label}" has no points`);
    check(`series "${series.label}"`, series.points);
  }
  if (spec.reference !== undefined) check(`"${spec.reference.label}"`, spec.reference.points);
}

interface Axis {
  ticks: number[];
  minorTicks: number[];
  /** Where a value sits between the axis' ends, 0 to 1. */
  fraction: (value: number) => number;
}

/** From 0 to a 1-2-5 step multiple at or above `max`, about `linearTicksWanted` ticks. */
function linearAxis(max: number): Axis {
  const rough = (max > 0 ? max : 1) / linearTicksWanted;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= rough) ?? 10) * magnitude;
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const ticks: number[] = [];
  for (let i = 0; i * step <= top + step / 2; i += 1) ticks.push(roundTo(i * step, step));
  return { ticks, minorTicks: [], fraction: (v) => v / top };
}

/** Whole powers of ten around [min, max], a tick at each, faint lines at 2x and 5x. */
function logAxis(min: number, max: number): Axis {
  const low = Math.floor(Math.log10(min));
  const high = Math.max(low + 1, Math.ceil(Math.log10(max)));
  const ticks: number[] = [];
  const minorTicks: number[] = [];
  for (let e = low; e <= high; e += 1) {
    ticks.push(10 ** e);
    if (e < high) minorTicks.push(2 * 10 ** e, 5 * 10 ** e);
  }
  return { ticks, minorTicks, fraction: (v) => (Math.log10(v) - low) / (high - low) };
}

function marker(series: ChartSeries, hollow: boolean, x: number, y: number): string {
  const fill = hollow ? '#ffffff' : escape(series.color);
  const paint = `fill="${fill}" stroke="${escape(series.color)}" stroke-width="1.8"`;
  switch (series.marker) {
    case 'circle':
      return `<circle cx="${fixed(x)}" cy="${fixed(y)}" r="4" ${paint}/>`;
    case 'square':
      return `<rect x="${fixed(x - 3.6)}" y="${fixed(y - 3.6)}" width="7.2" height="7.2" ${paint}/>`;
    case 'diamond':
      return `<path d="M${fixed(x)} ${fixed(y - 5)}L${fixed(x + 5)} ${fixed(y)}L${fixed(x)} ${fixed(y + 5)}L${fixed(x - 5)} ${fixed(y)}Z" ${paint}/>`;
  }
}

const polyline = (points: ChartPoint[], px: (x: number) => number, py: (y: number) => number): string =>
  points.map((p) => `${fixed(px(p.x))},${fixed(py(p.y))}`).join(' ');

/** Coordinates to 0.1 px: enough for the eye, stable bytes. */
const fixed = (v: number): string => String(Math.round(v * 10) / 10);

/** A tick value without float noise (0.30000000000000004 from 3 x 0.1). */
const roundTo = (value: number, step: number): number => {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return Number(value.toFixed(decimals));
};

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
