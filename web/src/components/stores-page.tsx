import { useEffect, useState } from 'preact/hooks';
import { ACCESS_LABELS, type Api, type Store } from '../api';
import { describeError, useConsole } from '../context';
import { formatBytes, formatDate } from '../format';
import { navigate, storeHref } from '../route';
import { useLoad } from '../use-load';
import { CreateStoreForm } from './create-store-form';
import { usePageTitle } from './page-title';
import { Pager } from './pager';

const PAGE_SIZE = 20;
/** The API cannot filter by name: the filter reads this many stores at most, 1000 a request. */
const FILTER_SCAN_LIMIT = 10_000;

interface Listing {
  /** The stores of this page (server paging) or every match (filtered, paged here). */
  items: Store[];
  total: number;
  filtered: boolean;
  /** Stores the filter did not get to read (there were more than FILTER_SCAN_LIMIT). */
  unscanned: number;
}

async function loadListing(api: Api, o: { desc: boolean; unnamed: boolean; filter: string; page: number }): Promise<Listing> {
  if (o.filter === '') {
    const page = await api.listStores({ offset: o.page * PAGE_SIZE, limit: PAGE_SIZE, desc: o.desc, unnamed: o.unnamed });
    return { items: page.items, total: page.total, filtered: false, unscanned: 0 };
  }
  const all: Store[] = [];
  let total = 0;
  do {
    const page = await api.listStores({ offset: all.length, limit: 1000, desc: o.desc, unnamed: o.unnamed });
    total = page.total;
    all.push(...page.items);
    if (page.count === 0) break;
  } while (all.length < Math.min(total, FILTER_SCAN_LIMIT));
  const needle = o.filter.toLowerCase();
  const items = all.filter((s) => [s.name, s.id, s.title].some((v) => v?.toLowerCase().includes(needle)));
  return { items, total: items.length, filtered: true, unscanned: Math.max(0, total - all.length) };
}

/** The signed-in user's stores: a filterable, paged table and a form to create one. */
export function StoresPage() {
  const { api } = useConsole();
  const heading = usePageTitle('Stores');
  const [desc, setDesc] = useState(true);
  const [unnamed, setUnnamed] = useState(false);
  const [filterInput, setFilterInput] = useState('');
  const [filter, setFilter] = useState('');
  const [page, setPage] = useState(0);

  useEffect(() => {
    const next = filterInput.trim();
    if (next === filter) return;
    const t = setTimeout(() => {
      setFilter(next);
      setPage(0);
    }, 250);
    return () => clearTimeout(t);
  }, [filterInput, filter]);

  // Filtered results are paged here, so paging through them does not read the stores again.
  const serverPage = filter === '' ? page : 0;
  const listing = useLoad(
    () => loadListing(api, { desc, unnamed, filter, page: serverPage }),
    JSON.stringify([desc, unnamed, filter, serverPage]),
  );
  const data = listing.data;
  const rows = data?.filtered ? data.items.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE) : (data?.items ?? []);

  return (
    <section>
      <h1 ref={heading} tabIndex={-1}>
        Stores
      </h1>
      <CreateStoreForm onCreated={(store) => navigate(storeHref(store.id))} />
      <div class="toolbar">
        <label>
          Filter by name or ID
          <input type="search" value={filterInput} onInput={(e) => setFilterInput(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={unnamed}
            onChange={(e) => {
              setUnnamed(e.currentTarget.checked);
              setPage(0);
            }}
          />
          Include unnamed stores
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={desc}
            onChange={(e) => {
              setDesc(e.currentTarget.checked);
              setPage(0);
            }}
          />
          Newest first
        </label>
      </div>
      {listing.error !== undefined && (
        <p class="error" role="alert">
          Could not list the stores: {describeError(listing.error)}
        </p>
      )}
      {data?.unscanned ? (
        <p class="help">
          The filter read the first {FILTER_SCAN_LIMIT.toLocaleString()} stores; {data.unscanned.toLocaleString()} more were not
          searched.
        </p>
      ) : null}
      <table class="cards" aria-busy={listing.loading}>
        <caption class="visually-hidden">Your key-value stores</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Access</th>
            <th scope="col">Created</th>
            <th scope="col">Modified</th>
            <th scope="col" class="num">
              Size
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => (
            <tr key={s.id}>
              <td data-label="Name">
                <a href={storeHref(s.id)}>{s.name ?? 'Unnamed store'}</a>
                <span class="id">{s.id}</span>
              </td>
              <td data-label="Access">{ACCESS_LABELS[s.generalAccess]}</td>
              <td data-label="Created">{formatDate(s.createdAt)}</td>
              <td data-label="Modified">{formatDate(s.modifiedAt)}</td>
              <td data-label="Size" class="num">
                {formatBytes(s.stats.storageBytes)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && rows.length === 0 && !listing.loading && (
        <p class="empty">{filter ? `No store matches “${filter}”.` : 'No stores yet. Create one above.'}</p>
      )}
      {data && <Pager label="Stores" page={page} pageSize={PAGE_SIZE} shown={rows.length} total={data.total} onPage={setPage} />}
    </section>
  );
}
