// Pure helpers of the fleet bench: spreads, overlap of restart intervals, the table.

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(samples: readonly number[]): Spread {
  if (samples.length === 0) return { median: NaN, min: NaN, max: NaN };
  const s = [...samples].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** The most intervals [start, end] open at one instant (an end at the same instant as a start does not overlap it). */
export function maxOverlap(intervals: ReadonlyArray<readonly [number, number]>): number {
  const edges = intervals.flatMap(([s, e]) => [[s, 1] as const, [e, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) {
    open += d;
    most = Math.max(most, open);
  }
  return most;
}

/** "7.3 s (7.1–7.9)": the median and the spread of a few samples, with a unit. */
export function showSpread(s: Spread, digits: number, unit: string): string {
  if (Number.isNaN(s.median)) return '-';
  const f = (x: number) => x.toFixed(digits);
  return s.min === s.max ? `${f(s.median)}${unit}` : `${f(s.median)}${unit} (${f(s.min)}–${f(s.max)})`;
}

export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
