import { useState } from 'preact/hooks';
import type { Dataset } from '../api';
import { useConsole } from '../context';
import { useLoad } from '../use-load';
import { ItemsTable } from './items-table';
import { JsonPreview } from './json-preview';
import { LoadError } from './load-error';
import { Pager } from './pager';
import { ViewSwitch } from './view-switch';

const PAGE_SIZES = [20, 50, 100, 500, 1000];

/** A dataset's items, a page at a time (offset and limit), as a table or as JSON. */
export function ItemsView({ dataset }: { dataset: Dataset }) {
  const { api } = useConsole();
  const [asJson, setAsJson] = useState(false);
  const [pageSize, setPageSize] = useState(50);
  const [page, setPage] = useState(0);
  const items = useLoad(
    () => api.getItems(dataset.id, { offset: page * pageSize, limit: pageSize }),
    JSON.stringify([page, pageSize]),
  );
  const data = items.data;

  return (
    <section aria-labelledby="items-title">
      <h2 id="items-title">Items</h2>
      <div class="toolbar">
        <ViewSwitch views={['Table', 'JSON']} second={asJson} onChange={setAsJson} />
        <label class="page-size">
          Items per page
          <select
            value={pageSize}
            onChange={(e) => {
              setPageSize(Number(e.currentTarget.value));
              setPage(0);
            }}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
      <LoadError error={items.error} action="read the items" />
      {data && data.items.length === 0 && !items.loading && <p class="empty">{page > 0 ? 'No more items.' : 'No items yet.'}</p>}
      {data &&
        data.items.length > 0 &&
        (asJson ? <JsonPreview text={data.text} /> : <ItemsTable items={data.items} offset={data.offset} />)}
      {data && (
        <Pager label="Items" page={page} pageSize={pageSize} shown={data.items.length} total={data.total} onPage={setPage} />
      )}
    </section>
  );
}
