// The throughput chart: uPlot over /stats' 1-second ring (enqueued, completed, failed,
// dead per second, last 15 minutes). uPlot draws on a canvas (no inline styles from
// markup, so the strict CSP holds) and is ~20 KB gzipped.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "./ui.ts";

export interface Series {
  start_ms: number;
  enqueued: number[];
  completed: number[];
  failed: number[];
  dead: number[];
}

const SERIES = [
  { key: "enqueued", label: "enqueued/s", color: "#3b82f6" },
  { key: "completed", label: "completed/s", color: "#16a34a" },
  { key: "failed", label: "failed/s", color: "#f59e0b" },
  { key: "dead", label: "dead/s", color: "#dc2626" },
] as const;

function toData(s: Series): uPlot.AlignedData {
  const xs = s.enqueued.map((_, i) => s.start_ms / 1000 + i);
  return [xs, ...SERIES.map((c) => s[c.key])];
}

export function ThroughputChart({ series }: { series: Series | undefined }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!box.current) return;
    const axisColor = getComputedStyle(document.documentElement).getPropertyValue("--fg-muted").trim() || "#888";
    const grid = { stroke: getComputedStyle(document.documentElement).getPropertyValue("--grid").trim() || "#8883" };
    plot.current = new uPlot({
      width: box.current.clientWidth || 800,
      height: 220,
      series: [{}, ...SERIES.map((c) => ({ label: c.label, stroke: c.color, width: 1.5, points: { show: false } }))],
      axes: [{ stroke: axisColor, grid }, { stroke: axisColor, grid, size: 50 }],
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      legend: { live: true },
    }, [[], [], [], [], []], box.current);
    const onResize = () => plot.current?.setSize({ width: box.current?.clientWidth || 800, height: 220 });
    window.addEventListener("resize", onResize);
    return () => {
      window.removeEventListener("resize", onResize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);
  useEffect(() => {
    if (series && plot.current) plot.current.setData(toData(series));
  }, [series]);
  return html`<div class="chart" ref=${box} aria-label="throughput over the last 15 minutes"></div>`;
}
