import { useConsole } from '../context';
import { requestState } from '../format';
import { displayName, KINDS } from '../kinds';
import { listHref, storageHref } from '../route';
import { useLoad } from '../use-load';
import { JsonPreview } from './json-preview';
import { LoadError } from './load-error';
import { usePageTitle } from './page-title';

/** One request of a queue: what a crawler sees of it, then all of it as JSON. */
export function RequestPage({ queueId, requestId }: { queueId: string; requestId: string }) {
  const { api } = useConsole();
  const request = useLoad(() => api.getRequest(queueId, requestId), `${queueId}/${requestId}`);
  const queue = useLoad(() => api.getStorage('queue', queueId), queueId);
  const r = request.data;
  const heading = usePageTitle(r?.url ?? `Request ${requestId}`);
  const queueName = queue.data ? displayName('queue', queue.data) : `Request queue ${queueId}`;

  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={listHref('queue')}>{KINDS.queue.title}</a> / <a href={storageHref('queue', queueId)}>{queueName}</a>
      </nav>
      <h1 ref={heading} tabIndex={-1} class="key-title">
        {r?.url ?? `Request ${requestId}`}
      </h1>
      {request.loading && !r && <p aria-busy="true">Loading…</p>}
      <LoadError error={request.error} action="load the request" notFound="This request does not exist (any more)." />
      {r && (
        <>
          <dl class="facts">
            <dt>ID</dt>
            <dd>
              <code>{r.id}</code>
            </dd>
            <dt>Unique key</dt>
            <dd>
              <code>{r.uniqueKey}</code>
            </dd>
            <dt>Method</dt>
            <dd>{r.method ?? 'GET'}</dd>
            <dt>Retries</dt>
            <dd>{r.retryCount ?? 0}</dd>
            <dt>State</dt>
            <dd>{requestState(r)}</dd>
          </dl>
          <section class="preview" aria-labelledby="request-json-title">
            <h2 id="request-json-title">JSON</h2>
            <JsonPreview text={JSON.stringify(r, null, 2)} />
          </section>
        </>
      )}
    </section>
  );
}
