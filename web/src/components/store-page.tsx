import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { describeError, useConsole } from '../context';
import { formatBytes, formatDate } from '../format';
import { navigate } from '../route';
import { useLoad } from '../use-load';
import { ConfirmDialog } from './confirm-dialog';
import { KeysTable } from './keys-table';
import { usePageTitle } from './page-title';
import { StoreSettingsForm } from './store-settings-form';
import { UploadForm } from './upload-form';

/** One store: its facts, settings, an upload form and its keys. */
export function StorePage({ storeId }: { storeId: string }) {
  const { api, notify } = useConsole();
  const store = useLoad(() => api.getStore(storeId), storeId);
  const [keysVersion, setKeysVersion] = useState(0);
  const [confirming, setConfirming] = useState(false);
  const s = store.data;
  const title = s ? (s.name ?? 'Unnamed store') : 'Store';
  const heading = usePageTitle(title);

  const deleteStore = async () => {
    setConfirming(false);
    try {
      await api.deleteStore(storeId);
      notify(`Deleted store ${s?.name ?? storeId}.`);
      navigate('#/');
    } catch (err) {
      notify(`Could not delete the store: ${describeError(err)}`, 'error');
    }
  };

  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="#/">Stores</a>
      </nav>
      <h1 ref={heading} tabIndex={-1}>
        {title}
      </h1>
      {store.error !== undefined && (
        <p class="error" role="alert">
          {store.error instanceof ApiError && store.error.status === 404
            ? 'This store does not exist (any more).'
            : `Could not load the store: ${describeError(store.error)}`}
        </p>
      )}
      {s && (
        <>
          <dl class="facts">
            <dt>ID</dt>
            <dd>
              <code>{s.id}</code>
            </dd>
            <dt>Created</dt>
            <dd>{formatDate(s.createdAt)}</dd>
            <dt>Modified</dt>
            <dd>{formatDate(s.modifiedAt)}</dd>
            <dt>Size</dt>
            <dd>{formatBytes(s.stats.storageBytes)}</dd>
            <dt>Writes / deletes</dt>
            <dd>
              {s.stats.writeCount} / {s.stats.deleteCount}
            </dd>
          </dl>
          <StoreSettingsForm store={s} onSaved={store.reload} />
          <p>
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Delete store
            </button>
          </p>
          <UploadForm
            storeId={s.id}
            onUploaded={() => {
              setKeysVersion((v) => v + 1);
              store.reload();
            }}
          />
          <KeysTable storeId={s.id} version={keysVersion} onChanged={store.reload} />
        </>
      )}
      {confirming && (
        <ConfirmDialog
          title="Delete this store?"
          confirmLabel="Delete store"
          onConfirm={deleteStore}
          onCancel={() => setConfirming(false)}
        >
          <p>
            The store <strong>{title}</strong> (<code>{storeId}</code>) and every record in it are deleted for good.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
