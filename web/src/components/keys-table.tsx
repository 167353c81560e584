import { useEffect, useState } from 'preact/hooks';
import type { KeyItem } from '../api';
import { describeError, useConsole } from '../context';
import { copyUrl } from '../copy';
import { formatBytes } from '../format';
import { recordHref } from '../route';
import { useLoad } from '../use-load';
import { ConfirmDialog } from './confirm-dialog';
import { LoadError } from './load-error';

const PAGE_SIZE = 100;

interface Props {
  storeId: string;
  /** Changes when records were added elsewhere on the page: the keys are listed again. */
  version: number;
  onChanged(): void;
}

/** A store's keys in byte order, narrowed by a prefix and paged by `exclusiveStartKey`. */
export function KeysTable({ storeId, version, onChanged }: Props) {
  const { api, notify } = useConsole();
  const [prefixInput, setPrefixInput] = useState('');
  const [prefix, setPrefix] = useState('');
  // The start key of every page up to the one shown, for "Previous".
  const [starts, setStarts] = useState<(string | undefined)[]>([undefined]);
  const [deleting, setDeleting] = useState<KeyItem | null>(null);
  const start = starts[starts.length - 1];

  useEffect(() => {
    if (prefixInput === prefix) return;
    const t = setTimeout(() => {
      setPrefix(prefixInput);
      setStarts([undefined]);
    }, 250);
    return () => clearTimeout(t);
  }, [prefixInput, prefix]);

  const keys = useLoad(
    () => api.listKeys(storeId, { prefix, exclusiveStartKey: start, limit: PAGE_SIZE }),
    JSON.stringify([prefix, start ?? null, version]),
  );
  const page = keys.data;
  const firstIndex = (starts.length - 1) * PAGE_SIZE + 1;

  const copy = async (item: KeyItem) => {
    if (await copyUrl(item.recordPublicUrl, `Public URL of ${item.key}`)) notify(`Copied the public URL of ${item.key}.`);
  };

  const remove = async (item: KeyItem) => {
    setDeleting(null);
    try {
      await api.deleteRecord(storeId, item.key);
      notify(`Deleted ${item.key}.`);
      keys.reload();
      onChanged();
    } catch (err) {
      notify(`Could not delete ${item.key}: ${describeError(err)}`, 'error');
    }
  };

  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">Records</h2>
      <div class="toolbar">
        <label>
          Key prefix
          <input type="search" value={prefixInput} onInput={(e) => setPrefixInput(e.currentTarget.value)} />
        </label>
      </div>
      <LoadError error={keys.error} action="list the keys" />
      <table class="cards" aria-busy={keys.loading}>
        <caption class="visually-hidden">Records of this store</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {page?.items.map((item) => (
            <tr key={item.key}>
              <td data-label="Key">
                <a href={recordHref(storeId, item.key)}>{item.key}</a>
              </td>
              <td data-label="Size" class="num">
                {formatBytes(item.size)}
              </td>
              <td class="row-actions">
                <button type="button" onClick={() => copy(item)} aria-label={`Copy public URL of ${item.key}`}>
                  Copy public URL
                </button>
                <button type="button" class="danger" onClick={() => setDeleting(item)} aria-label={`Delete ${item.key}`}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {page && page.items.length === 0 && !keys.loading && (
        <p class="empty">
          {starts.length > 1 ? 'No more records.' : prefix ? `No key starts with “${prefix}”.` : 'No records yet.'}
        </p>
      )}
      {page && (
        <nav class="pager" aria-label="Record pages">
          <button type="button" disabled={starts.length === 1} onClick={() => setStarts((s) => s.slice(0, -1))}>
            Previous
          </button>
          <span aria-live="polite">
            {page.items.length === 0 ? '' : `Keys ${firstIndex}–${firstIndex + page.items.length - 1}`}
            {page.isTruncated ? ', more on the next page' : page.items.length > 0 ? ' (last page)' : ''}
          </span>
          <button
            type="button"
            disabled={page.nextExclusiveStartKey === null}
            onClick={() => setStarts((s) => [...s, page.nextExclusiveStartKey ?? undefined])}
          >
            Next
          </button>
        </nav>
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete this record?"
          confirmLabel="Delete record"
          onConfirm={() => remove(deleting)}
          onCancel={() => setDeleting(null)}
        >
          <p>
            The record <strong>{deleting.key}</strong> is deleted for good.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
