import { useState } from 'preact/hooks';
import type { FetchedRecord } from '../api';
import { describeError, useConsole } from '../context';
import { formatBytes } from '../format';
import { KINDS } from '../kinds';
import { listHref, navigate, storageHref } from '../route';
import { useLoad } from '../use-load';
import { ConfirmDialog } from './confirm-dialog';
import { DownloadButton } from './download-button';
import { LoadError } from './load-error';
import { usePageTitle } from './page-title';
import { RecordPreview } from './record-preview';

/** Larger records are not loaded to be shown, only downloaded on request. */
const LOAD_MAX = 25 * 1024 * 1024;

const exact = (n: number) => `${n.toLocaleString()} ${n === 1 ? 'byte' : 'bytes'}`;

/** `32 KiB (32,398 bytes)`; for a compressed record its stored and (once loaded) its decoded size. */
function sizeText(r: FetchedRecord): string {
  const stored = r.storedSize ?? r.blob?.size ?? 0;
  if (!r.contentEncoding) return stored < 1024 ? exact(stored) : `${formatBytes(stored)} (${exact(stored)})`;
  return `${exact(stored)} stored${r.blob ? `, ${exact(r.blob.size)} decoded` : ''}`;
}

/** One record: its content type, size and encoding, a preview by type and a download. */
export function RecordPage({ storeId, recordKey }: { storeId: string; recordKey: string }) {
  const { api, notify } = useConsole();
  const heading = usePageTitle(recordKey);
  const record = useLoad(() => api.getRecord(storeId, recordKey, LOAD_MAX), `${storeId}/${recordKey}`);
  const store = useLoad(() => api.getStorage('kvs', storeId), storeId);
  const storeName = store.data ? (store.data.name ?? `Unnamed store ${storeId}`) : `Store ${storeId}`;
  const [confirming, setConfirming] = useState(false);
  const r = record.data;

  const remove = async () => {
    setConfirming(false);
    try {
      await api.deleteRecord(storeId, recordKey);
      notify(`Deleted ${recordKey}.`);
      navigate(storageHref('kvs', storeId));
    } catch (err) {
      notify(`Could not delete ${recordKey}: ${describeError(err)}`, 'error');
    }
  };

  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={listHref('kvs')}>{KINDS.kvs.title}</a> / <a href={storageHref('kvs', storeId)}>{storeName}</a>
      </nav>
      <h1 ref={heading} tabIndex={-1} class="key-title">
        {recordKey}
      </h1>
      {record.loading && !r && <p aria-busy="true">Loading…</p>}
      <LoadError error={record.error} action="load the record" notFound="This record does not exist (any more)." />
      {r && (
        <>
          <dl class="facts">
            <dt>Content type</dt>
            <dd>
              <code>{r.contentType}</code>
            </dd>
            <dt>Size</dt>
            <dd>{sizeText(r)}</dd>
            <dt>Encoding</dt>
            <dd>{r.contentEncoding ? <code>{r.contentEncoding}</code> : 'none'}</dd>
          </dl>
          <p class="actions">
            <DownloadButton storeId={storeId} recordKey={recordKey} blob={r.blob} />
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Delete record
            </button>
          </p>
          <RecordPreview record={r} recordKey={recordKey} />
        </>
      )}
      {confirming && (
        <ConfirmDialog
          title="Delete this record?"
          confirmLabel="Delete record"
          onConfirm={remove}
          onCancel={() => setConfirming(false)}
        >
          <p>
            The record <strong>{recordKey}</strong> is deleted for good.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
