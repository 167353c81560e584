import { useMemo, useRef, useState } from 'preact/hooks';
import { JsonNode } from './json-node';
import { ViewSwitch } from './view-switch';

/** Past this many values the tree would be slow to lay out: the JSON is shown indented instead. */
const TREE_MAX_VALUES = 20_000;

function countValues(value: unknown, budget: number): number {
  let n = 1;
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) {
      n += countValues(v, budget - n);
      if (n > budget) break;
    }
  }
  return n;
}

/** JSON as a tree of foldable nodes, all expanded at first; or the text as stored. */
export function JsonPreview({ text }: { text: string }) {
  const [raw, setRaw] = useState(false);
  const tree = useRef<HTMLDivElement>(null);
  const parsed = useMemo(() => {
    try {
      return { ok: true as const, value: JSON.parse(text) as unknown };
    } catch (err) {
      return { ok: false as const, message: (err as Error).message };
    }
  }, [text]);

  if (!parsed.ok) {
    return (
      <>
        <p class="error">Not valid JSON ({parsed.message}); shown as text.</p>
        <pre class="source">{text}</pre>
      </>
    );
  }
  const foldable = countValues(parsed.value, TREE_MAX_VALUES) <= TREE_MAX_VALUES;
  const setAll = (open: boolean) => {
    for (const d of tree.current?.querySelectorAll('details') ?? []) d.open = open;
  };

  return (
    <>
      <ViewSwitch views={['Formatted', 'Raw']} second={raw} onChange={setRaw}>
        {!raw && foldable && (
          <>
            <button type="button" onClick={() => setAll(true)}>
              Expand all
            </button>
            <button type="button" onClick={() => setAll(false)}>
              Collapse all
            </button>
          </>
        )}
      </ViewSwitch>
      {raw ? (
        <pre class="source">{text}</pre>
      ) : foldable ? (
        <div class="json-tree" ref={tree}>
          <JsonNode value={parsed.value} last />
        </div>
      ) : (
        <pre class="source">{JSON.stringify(parsed.value, null, 2)}</pre>
      )}
    </>
  );
}
