import { useState } from 'preact/hooks';
import type { Queue, RequestFilter } from '../api';
import { useConsole } from '../context';
import { requestState } from '../format';
import { requestHref } from '../route';
import { useLoad } from '../use-load';
import { LoadError } from './load-error';

const PAGE_SIZES = [20, 50, 100, 500, 1000];

const FILTERS: readonly { value: RequestFilter | undefined; label: string }[] = [
  { value: undefined, label: 'All' },
  { value: 'pending', label: 'Pending' },
  { value: 'locked', label: 'Locked' },
];

interface Props {
  queue: Queue;
  /** Changes when the requests should be listed again. */
  version: number;
}

/** How many the list holds, when the queue's counts tell (they do not count locks). */
function totalOf(queue: Queue, filter: RequestFilter | undefined): number | undefined {
  if (filter === undefined) return queue.totalRequestCount;
  return filter === 'pending' ? queue.pendingRequestCount : undefined;
}

/** Every request of a queue in id order, all or the pending or locked ones, paged by cursor. */
export function RequestsTable({ queue, version }: Props) {
  const { api } = useConsole();
  const [filter, setFilter] = useState<RequestFilter | undefined>(undefined);
  const [pageSize, setPageSize] = useState(50);
  // The cursor of every page up to the one shown, for "Previous".
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  // The page keeps the position it was loaded for: the rows and "51–100" change together.
  const first = (cursors.length - 1) * pageSize + 1;
  const requests = useLoad(
    async () => ({ ...(await api.listRequests(queue.id, { limit: pageSize, cursor, filter })), first }),
    JSON.stringify([filter ?? null, pageSize, cursor ?? null, version]),
  );
  const page = requests.data;
  const total = totalOf(queue, filter);
  const restart = () => setCursors([undefined]);

  return (
    <section aria-labelledby="requests-title">
      <h2 id="requests-title">Requests</h2>
      <div class="toolbar">
        <label class="page-size">
          Which requests
          <select
            value={filter ?? ''}
            onChange={(e) => {
              setFilter((e.currentTarget.value || undefined) as RequestFilter | undefined);
              restart();
            }}
          >
            {FILTERS.map((f) => (
              <option key={f.label} value={f.value ?? ''}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <label class="page-size">
          Requests per page
          <select
            value={pageSize}
            onChange={(e) => {
              setPageSize(Number(e.currentTarget.value));
              restart();
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
      <LoadError error={requests.error} action="list the requests" />
      {page && page.items.length > 0 && (
        <table class="cards requests" aria-busy={requests.loading}>
          <caption class="visually-hidden">Requests of this queue</caption>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Method</th>
              <th scope="col" class="num">
                Retries
              </th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((r) => (
              <tr key={r.id}>
                <td data-label="URL">
                  <a href={requestHref(queue.id, r.id)}>{r.url}</a>
                  <span class="id">{r.id}</span>
                </td>
                <td data-label="Method">{r.method ?? 'GET'}</td>
                <td data-label="Retries" class="num">
                  {r.retryCount ?? 0}
                </td>
                {/* The list has no lock fields: a row is known to be locked when only locked ones are listed. */}
                <td data-label="State">{filter === 'locked' ? 'Pending, locked' : requestState(r)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page && page.items.length === 0 && !requests.loading && (
        <p class="empty">{cursors.length > 1 ? 'No more requests.' : filter ? `No ${filter} requests.` : 'No requests yet.'}</p>
      )}
      {page && (
        <nav class="pager" aria-label="Requests pages">
          <button type="button" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Previous
          </button>
          <span aria-live="polite">
            {page.items.length === 0
              ? ''
              : `${page.first}–${page.first + page.items.length - 1}${total === undefined ? '' : ` of ${total}`}`}
          </span>
          <button
            type="button"
            disabled={!page.nextCursor}
            onClick={() => setCursors((c) => [...c, page.nextCursor ?? undefined])}
          >
            Next
          </button>
        </nav>
      )}
    </section>
  );
}
