// Geometry of the small per-status bar charts (one bar per hour of the
// day). Pure, so that it is tested without a DOM; view code turns it into
// inline SVG.

export interface Bar {
  hour: number;
  value: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface BarChart {
  width: number;
  height: number;
  max: number;
  bars: Bar[];
  /** x of the current hour's bar centre, or null when the day is not today */
  nowX: number | null;
}

export interface ChartOptions {
  width: number;
  height: number;
  gap?: number;
  /** index of the current hour, or null */
  nowHour?: number | null;
}

/**
 * hourlyBars lays out values (one per hour) as bars filling width x height,
 * scaled to the largest value. A non-zero value is at least 1 px high so
 * that a single act stays visible next to a busy hour.
 */
export function hourlyBars(values: readonly number[], o: ChartOptions): BarChart {
  const n = Math.max(values.length, 1);
  const gap = o.gap ?? 1;
  const slot = o.width / n;
  const w = Math.max(slot - gap, 1);
  const max = values.reduce((m, v) => Math.max(m, v), 0);
  const bars = values.map((value, hour) => {
    let h = max > 0 ? (value / max) * o.height : 0;
    if (value > 0) h = Math.max(h, 1);
    h = round(h);
    return { hour, value, x: round(hour * slot), y: round(o.height - h), w: round(w), h };
  });
  const nowX = o.nowHour == null || o.nowHour < 0 || o.nowHour >= n ? null : round(o.nowHour * slot + w / 2);
  return { width: o.width, height: o.height, max, bars, nowX };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
