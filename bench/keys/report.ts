/** One measured case: a page of `limit` keys, first or from the middle, of a store of `size` keys. */
export interface Row {
  page: 'first' | 'middle';
  limit: number;
  size: number;
  /** Keys the page holds. */
  items: number;
  /** Median of the round medians, milliseconds. */
  httpMs: number;
  /** Lowest and highest round median. */
  httpSpread: [number, number];
  driverMs: number;
}

export type RowWithRatios = Row & { httpRatio: number; driverRatio: number };

const ms = (n: number) => `${n.toFixed(3)} ms`;
const ratio = (n: number) => `×${n.toFixed(2)}`;

/** Prints the results as a table with each case's ratio to the same case on the `baseline`-key store. */
export function printTable(rows: readonly Row[], baseline: number): RowWithRatios[] {
  const base = (r: Row) => rows.find((b) => b.size === baseline && b.page === r.page && b.limit === r.limit) ?? r;
  const result = rows.map((r) => ({ ...r, httpRatio: r.httpMs / base(r).httpMs, driverRatio: r.driverMs / base(r).driverMs }));
  const header = [
    'page',
    'limit',
    'store keys',
    'items',
    'HTTP median',
    '(round spread)',
    `vs ${baseline}`,
    'driver',
    `vs ${baseline}`,
  ];
  const table = result.map((r) => [
    r.page,
    String(r.limit),
    r.size.toLocaleString('en'),
    String(r.items),
    ms(r.httpMs),
    `(${r.httpSpread[0].toFixed(3)}–${r.httpSpread[1].toFixed(3)})`,
    ratio(r.httpRatio),
    ms(r.driverMs),
    ratio(r.driverRatio),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const t of table) console.log(line(t));
  return result;
}
