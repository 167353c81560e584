import { useState } from 'preact/hooks';
import { AddRequestForm } from './add-request-form';
import { QueueHeadTable } from './queue-head-table';
import { RequestsTable } from './requests-table';
import { StoragePage } from './storage-page';

/** One request queue: its counts, settings, the head, every request and a form to add one. */
export function QueuePage({ queueId }: { queueId: string }) {
  // Bumped to read the head and the requests again, with the queue's counts.
  const [version, setVersion] = useState(0);
  return (
    <StoragePage
      kind="queue"
      id={queueId}
      facts={(q) => (
        <>
          <dt>Requests</dt>
          <dd>{q.totalRequestCount.toLocaleString()}</dd>
          <dt>Handled</dt>
          <dd>{q.handledRequestCount.toLocaleString()}</dd>
          <dt>Pending</dt>
          <dd>{q.pendingRequestCount.toLocaleString()}</dd>
          <dt>Clients</dt>
          <dd>{q.hadMultipleClients ? 'More than one' : 'One at most'}</dd>
          <dt>Reads / writes</dt>
          <dd>
            {q.stats.readCount} / {q.stats.writeCount}
          </dd>
        </>
      )}
    >
      {(q, reload) => {
        const refresh = () => {
          setVersion((v) => v + 1);
          reload();
        };
        return (
          <>
            <p>
              <button type="button" class="secondary" onClick={refresh}>
                Refresh
              </button>
            </p>
            <QueueHeadTable queueId={q.id} version={version} />
            <RequestsTable queue={q} version={version} />
            <AddRequestForm queueId={q.id} onAdded={refresh} />
          </>
        );
      }}
    </StoragePage>
  );
}
