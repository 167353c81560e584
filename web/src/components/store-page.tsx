import { useState } from 'preact/hooks';
import { KeysTable } from './keys-table';
import { StoragePage } from './storage-page';
import { UploadForm } from './upload-form';

/** One key-value store: its facts, settings, an upload form and its keys. */
export function StorePage({ storeId }: { storeId: string }) {
  const [keysVersion, setKeysVersion] = useState(0);
  return (
    <StoragePage
      kind="kvs"
      id={storeId}
      facts={(s) => (
        <>
          <dt>Writes / deletes</dt>
          <dd>
            {s.stats.writeCount} / {s.stats.deleteCount}
          </dd>
        </>
      )}
    >
      {(s, reload) => (
        <>
          <UploadForm
            storeId={s.id}
            onUploaded={() => {
              setKeysVersion((v) => v + 1);
              reload();
            }}
          />
          <KeysTable storeId={s.id} version={keysVersion} onChanged={reload} />
        </>
      )}
    </StoragePage>
  );
}
