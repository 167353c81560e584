import { useEffect, useState } from 'preact/hooks';
import { ACCESS_LABELS, type Api, type StorageKind, type Storages } from '../api';
import { useConsole } from '../context';
import { formatBytes, formatDate } from '../format';
import { capitalize, displayName, KINDS } from '../kinds';
import { navigate, storageHref } from '../route';
import { useLoad } from '../use-load';
import { CreateStorageForm } from './create-storage-form';
import { LoadError } from './load-error';
import { usePageTitle } from './page-title';
import { Pager } from './pager';

const PAGE_SIZE = 20;
/** The API cannot filter by name: the filter reads this many at most, 1000 a request. */
const FILTER_SCAN_LIMIT = 10_000;

/** A count shown in a column of its own, right after the dates. */
interface CountColumn<T> {
  label: string;
  count(storage: T): number;
}

const COUNTS: { readonly [K in StorageKind]: readonly CountColumn<Storages[K]>[] } = {
  kvs: [],
  dataset: [{ label: 'Items', count: (d) => d.itemCount }],
  queue: [
    { label: 'Requests', count: (q) => q.totalRequestCount },
    { label: 'Handled', count: (q) => q.handledRequestCount },
    { label: 'Pending', count: (q) => q.pendingRequestCount },
  ],
};

interface Listing<T> {
  /** The storages of this page (server paging) or every match (filtered, paged here). */
  items: T[];
  total: number;
  filtered: boolean;
  /** Storages the filter did not get to read (there were more than FILTER_SCAN_LIMIT). */
  unscanned: number;
}

async function loadListing<K extends StorageKind>(
  api: Api,
  kind: K,
  o: { desc: boolean; unnamed: boolean; filter: string; page: number },
): Promise<Listing<Storages[K]>> {
  if (o.filter === '') {
    const page = await api.listStorages(kind, { offset: o.page * PAGE_SIZE, limit: PAGE_SIZE, desc: o.desc, unnamed: o.unnamed });
    return { items: page.items, total: page.total, filtered: false, unscanned: 0 };
  }
  const all: Storages[K][] = [];
  let total = 0;
  do {
    const page = await api.listStorages(kind, { offset: all.length, limit: 1000, desc: o.desc, unnamed: o.unnamed });
    total = page.total;
    all.push(...page.items);
    if (page.count === 0) break;
  } while (all.length < Math.min(total, FILTER_SCAN_LIMIT));
  const needle = o.filter.toLowerCase();
  const items = all.filter((s) => [s.name, s.id, s.title].some((v) => v?.toLowerCase().includes(needle)));
  return { items, total: items.length, filtered: true, unscanned: Math.max(0, total - all.length) };
}

function Check(props: { label: string; checked: boolean; onChange(checked: boolean): void }) {
  return (
    <label class="check">
      <input type="checkbox" checked={props.checked} onChange={(e) => props.onChange(e.currentTarget.checked)} />
      {props.label}
    </label>
  );
}

/** The signed-in user's stores, datasets or queues: a filterable, paged table and a form to create one. */
export function StorageListPage<K extends StorageKind>({ kind }: { kind: K }) {
  const { api } = useConsole();
  const words = KINDS[kind];
  const heading = usePageTitle(words.title);
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

  // Filtered results are paged here, so paging through them does not read the list again.
  const serverPage = filter === '' ? page : 0;
  const listing = useLoad(
    () => loadListing(api, kind, { desc, unnamed, filter, page: serverPage }),
    JSON.stringify([desc, unnamed, filter, serverPage]),
  );
  const data = listing.data;
  const rows = data?.filtered ? data.items.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE) : (data?.items ?? []);
  const counts: readonly CountColumn<Storages[K]>[] = COUNTS[kind];
  // Another selection starts again at its first page.
  const firstPage = (set: (v: boolean) => void) => (v: boolean) => {
    set(v);
    setPage(0);
  };

  return (
    <section>
      <h1 ref={heading} tabIndex={-1}>
        {words.title}
      </h1>
      <CreateStorageForm kind={kind} onCreated={(s) => navigate(storageHref(kind, s.id))} />
      <div class="toolbar">
        <label>
          Filter by name or ID
          <input type="search" value={filterInput} onInput={(e) => setFilterInput(e.currentTarget.value)} />
        </label>
        <Check label={`Include unnamed ${words.nouns}`} checked={unnamed} onChange={firstPage(setUnnamed)} />
        <Check label="Newest first" checked={desc} onChange={firstPage(setDesc)} />
      </div>
      <LoadError error={listing.error} action={`list the ${words.nouns}`} />
      {data?.unscanned ? (
        <p class="help">
          The filter read the first {FILTER_SCAN_LIMIT.toLocaleString()} {words.nouns}; {data.unscanned.toLocaleString()} more
          were not searched.
        </p>
      ) : null}
      <table class="cards" aria-busy={listing.loading}>
        <caption class="visually-hidden">Your {words.title.toLowerCase()}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Access</th>
            <th scope="col">Created</th>
            <th scope="col">Modified</th>
            {counts.map((c) => (
              <th key={c.label} scope="col" class="num">
                {c.label}
              </th>
            ))}
            <th scope="col" class="num">
              Size
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => (
            <tr key={s.id}>
              <td data-label="Name">
                <a href={storageHref(kind, s.id)}>{displayName(kind, s)}</a>
                <span class="id">{s.id}</span>
              </td>
              <td data-label="Access">{ACCESS_LABELS[s.generalAccess]}</td>
              <td data-label="Created">{formatDate(s.createdAt)}</td>
              <td data-label="Modified">{formatDate(s.modifiedAt)}</td>
              {counts.map((c) => (
                <td key={c.label} data-label={c.label} class="num">
                  {c.count(s).toLocaleString()}
                </td>
              ))}
              <td data-label="Size" class="num">
                {formatBytes(s.stats.storageBytes)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && rows.length === 0 && !listing.loading && (
        <p class="empty">{filter ? `No ${words.noun} matches “${filter}”.` : `No ${words.nouns} yet. Create one above.`}</p>
      )}
      {data && (
        <Pager
          label={capitalize(words.nouns)}
          page={page}
          pageSize={PAGE_SIZE}
          shown={rows.length}
          total={data.total}
          onPage={setPage}
        />
      )}
    </section>
  );
}
