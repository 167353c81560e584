/** Longer cell texts are cut here; the JSON view shows them whole. */
const CELL_MAX = 500;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The top-level keys of the items, in the order they first appear. */
function columnsOf(items: unknown[]): string[] {
  const seen = new Set<string>();
  for (const item of items) if (isObject(item)) for (const k of Object.keys(item)) seen.add(k);
  return [...seen];
}

/** Strings as they are, anything else as compact JSON; a missing key as nothing. */
function Cell({ value }: { value: unknown }) {
  if (value === undefined) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const cut = text.length > CELL_MAX ? `${text.slice(0, CELL_MAX)}…` : text;
  return typeof value === 'string' ? cut : <code>{cut}</code>;
}

/** A page of dataset items as a table: one column per top-level key of the page's items. */
export function ItemsTable({ items, offset }: { items: unknown[]; offset: number }) {
  const columns = columnsOf(items);
  return (
    <div class="table-scroll">
      <table class="cards items">
        <caption class="visually-hidden">Items of this dataset</caption>
        <thead>
          <tr>
            <th scope="col" class="num">
              #
            </th>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {items.map((item, i) => (
            <tr key={offset + i}>
              <td data-label="#" class="num">
                {offset + i + 1}
              </td>
              {isObject(item) ? (
                columns.map((c) => (
                  <td key={c} data-label={c}>
                    <Cell value={item[c]} />
                  </td>
                ))
              ) : (
                // Not an object (the API stores objects, but an import may hold anything): shown whole.
                <td colSpan={Math.max(1, columns.length)} data-label="Value">
                  <Cell value={item} />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
