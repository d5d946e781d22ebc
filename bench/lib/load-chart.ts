/**
 * The load benchmark's chart: one SVG (echarts, rendered server-side) with
 * four panels sharing one x axis of scenarios (protocol, key, workers) and
 * one bar per mode: handshakes per second (solid: resumed, pale: full,
 * stacked), resumption ratio, server CPU seconds per 1,000 handshakes, and
 * p99 handshake latency. {@link chartData} (pure, tested) picks the figures;
 * {@link renderChart} draws them.
 *
 * @module
 */
import * as echarts from 'echarts';
import { MODES, type ModeName } from './load-args.ts';
import { scenarios, type RunResult } from './load-stats.ts';

export interface ChartData {
  /** One label per scenario: `tls12-id rsa\n2 workers`. */
  categories: string[];
  /** Modes present in any scenario, in canonical order. */
  modes: ModeName[];
  /** Per mode, one value per category (`null` where the mode did not run). */
  resumedPerSecond: Record<string, Array<number | null>>;
  fullPerSecond: Record<string, Array<number | null>>;
  resumptionPercent: Record<string, Array<number | null>>;
  cpuSecondsPer1000: Record<string, Array<number | null>>;
  p99Ms: Record<string, Array<number | null>>;
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

export function chartData(runs: readonly RunResult[]): ChartData {
  const groups = scenarios(runs);
  const modes = MODES.filter((mode) => groups.some((g) => g.runs.has(mode)));
  const column = (pick: (run: RunResult) => number | null): Record<string, Array<number | null>> =>
    Object.fromEntries(
      modes.map((mode) => [
        mode,
        groups.map((g) => {
          const run = g.runs.get(mode);
          return run === undefined ? null : pick(run);
        }),
      ]),
    );
  return {
    categories: groups.map((g) => `${g.protocol} ${g.key}\n${g.workers} worker${g.workers === 1 ? '' : 's'}`),
    modes,
    resumedPerSecond: column((r) => Math.round(r.resumedPerSecond)),
    fullPerSecond: column((r) => Math.round(r.fullPerSecond)),
    resumptionPercent: column((r) => (r.resumptionRatio === null ? null : round(r.resumptionRatio * 100, 1))),
    cpuSecondsPer1000: column((r) => (r.serverCpuSecondsPer1000 === null ? null : round(r.serverCpuSecondsPer1000, 3))),
    p99Ms: column((r) => round(r.latency.all.p99Ms, 2)),
  };
}

const MODE_COLORS: Readonly<Record<ModeName, string>> = {
  none: '#8c8c8c',
  'per-worker': '#e8a33d',
  shared: '#2f6db5',
  nginx: '#3a9d5d',
  'nginx-proxy': '#8fcf9f',
  redis: '#b5452f',
  cluster: '#7b4fa8',
  'redis-cluster': '#d4785f',
  'cluster-redis': '#a98bd0',
};

const WIDTH = 1100;
const PANEL_HEIGHT = 210;
const PANEL_GAP = 95;
const TOP = 130;

/** The SVG text of the chart. */
export function renderChart(data: ChartData, meta: { title: string; subtitle: string }): string {
  const panels = [
    { title: 'Handshakes per second (solid: resumed, pale: full), higher is better', unit: '' },
    { title: 'Resumption ratio: resumed / handshakes offering a session, %', unit: '%' },
    { title: 'Server CPU seconds per 1,000 handshakes, lower is better', unit: '' },
    { title: 'Handshake latency p99, ms, lower is better', unit: '' },
  ];
  const height = TOP + panels.length * (PANEL_HEIGHT + PANEL_GAP);
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height });
  const panelTop = (i: number): number => TOP + i * (PANEL_HEIGHT + PANEL_GAP);
  const series: echarts.SeriesOption[] = [];
  for (const mode of data.modes) {
    const color = MODE_COLORS[mode];
    const bar = { type: 'bar' as const, name: mode, barMaxWidth: 38, itemStyle: { color } };
    series.push(
      { ...bar, xAxisIndex: 0, yAxisIndex: 0, stack: mode, data: data.resumedPerSecond[mode] },
      { ...bar, xAxisIndex: 0, yAxisIndex: 0, stack: mode, data: data.fullPerSecond[mode], itemStyle: { color, opacity: 0.35 } },
      {
        ...bar,
        xAxisIndex: 1,
        yAxisIndex: 1,
        data: data.resumptionPercent[mode],
        label: { show: true, position: 'top', fontSize: 10, formatter: '{c}' },
      },
      { ...bar, xAxisIndex: 2, yAxisIndex: 2, data: data.cpuSecondsPer1000[mode] },
      { ...bar, xAxisIndex: 3, yAxisIndex: 3, data: data.p99Ms[mode] },
    );
  }
  chart.setOption({
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: 'sans-serif' },
    title: [
      { text: meta.title, subtext: meta.subtitle, left: 'center', top: 8, textStyle: { fontSize: 18 }, subtextStyle: { fontSize: 12, lineHeight: 16 } },
      ...panels.map((panel, i) => ({ text: panel.title, left: 70, top: panelTop(i) - 34, textStyle: { fontSize: 13, fontWeight: 'normal' as const } })),
    ],
    legend: { data: data.modes, top: 78, left: 'center', itemGap: 24 },
    grid: panels.map((_, i) => ({ left: 70, right: 30, top: panelTop(i), height: PANEL_HEIGHT })),
    xAxis: panels.map((_, i) => ({
      type: 'category' as const,
      gridIndex: i,
      data: data.categories,
      axisLabel: { interval: 0, fontSize: 10 },
    })),
    yAxis: panels.map((panel, i) => ({
      type: 'value' as const,
      gridIndex: i,
      ...(panel.unit === '%' ? { max: 100 } : {}),
      axisLabel: { fontSize: 10 },
    })),
    series,
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}
