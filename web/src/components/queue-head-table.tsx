import { useState } from 'preact/hooks';
import { useConsole } from '../context';
import { requestHref } from '../route';
import { useLoad } from '../use-load';
import { LoadError } from './load-error';

const HEAD_LIMITS = [10, 25, 100];

interface Props {
  queueId: string;
  /** Changes when the head should be read again. */
  version: number;
}

/** The first pending requests of a queue, in the order a crawler would get them. */
export function QueueHeadTable({ queueId, version }: Props) {
  const { api } = useConsole();
  const [limit, setLimit] = useState(HEAD_LIMITS[1] ?? 25);
  const head = useLoad(() => api.getHead(queueId, limit), JSON.stringify([limit, version]));
  const items = head.data?.items;

  return (
    <section aria-labelledby="head-title">
      <h2 id="head-title">Head</h2>
      <div class="toolbar">
        <label class="page-size">
          Requests in the head
          <select value={limit} onChange={(e) => setLimit(Number(e.currentTarget.value))}>
            {HEAD_LIMITS.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
      <LoadError error={head.error} action="read the head" />
      {items && items.length > 0 && (
        <table class="cards head" aria-busy={head.loading}>
          <caption class="visually-hidden">The head of this queue</caption>
          <thead>
            <tr>
              <th scope="col" class="num">
                #
              </th>
              <th scope="col">URL</th>
              <th scope="col">Method</th>
              <th scope="col" class="num">
                Retries
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((r, i) => (
              <tr key={r.id}>
                <td data-label="#" class="num">
                  {i + 1}
                </td>
                <td data-label="URL">
                  <a href={requestHref(queueId, r.id)}>{r.url}</a>
                  <span class="id">{r.id}</span>
                </td>
                <td data-label="Method">{r.method ?? 'GET'}</td>
                <td data-label="Retries" class="num">
                  {r.retryCount ?? 0}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {items && items.length === 0 && !head.loading && <p class="empty">The head is empty: no pending request without a lock.</p>}
    </section>
  );
}
