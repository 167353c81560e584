interface Props {
  /** The property name, inside an object. */
  name?: string;
  value: unknown;
  /** No comma after the last member. */
  last: boolean;
}

function Name({ name }: { name: string | undefined }) {
  return name === undefined ? null : <span class="json-key">{JSON.stringify(name)}: </span>;
}

/**
 * One JSON value, indented as `JSON.stringify(v, null, 2)` would print it. Objects and arrays are
 * `<details open>`: folded and unfolded with a click, Enter or Space on their first line.
 */
export function JsonNode({ name, value, last }: Props) {
  const comma = last ? '' : ',';
  if (value === null || typeof value !== 'object') {
    const type = value === null ? 'null' : typeof value;
    return (
      <div class="json-line">
        <Name name={name} />
        <span class={`json-${type}`}>{JSON.stringify(value)}</span>
        {comma}
      </div>
    );
  }
  const isArray = Array.isArray(value);
  const entries: [string, unknown][] = isArray ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    return (
      <div class="json-line">
        <Name name={name} />
        {open}
        {close}
        {comma}
      </div>
    );
  }
  const count = `${entries.length} ${isArray ? (entries.length === 1 ? 'item' : 'items') : entries.length === 1 ? 'key' : 'keys'}`;
  return (
    <details open class="json-node">
      <summary>
        <Name name={name} />
        {open}
        <span class="json-folded">
          {' … '}
          {close}
          {comma} <span class="json-count">{count}</span>
        </span>
      </summary>
      <div class="json-members">
        {entries.map(([k, v], i) => (
          <JsonNode key={k} name={isArray ? undefined : k} value={v} last={i === entries.length - 1} />
        ))}
      </div>
      <div class="json-line">
        {close}
        {comma}
      </div>
    </details>
  );
}
