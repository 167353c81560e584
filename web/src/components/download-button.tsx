import { useEffect, useMemo, useState } from 'preact/hooks';
import { describeError, useConsole } from '../context';
import { bytesUrl, saveBlob } from '../save';

interface Props {
  storeId: string;
  recordKey: string;
  /** The bytes when already loaded; otherwise they are fetched (with the token) on click. */
  blob: Blob | null;
}

/** Saves the record under its key, from the bytes already fetched or fetched now. */
export function DownloadButton({ storeId, recordKey, blob }: Props) {
  const { api, notify } = useConsole();
  const [busy, setBusy] = useState(false);
  const url = useMemo(() => (blob ? bytesUrl(blob) : null), [blob]);
  useEffect(() => () => (url ? URL.revokeObjectURL(url) : undefined), [url]);

  if (url) {
    return (
      <a class="button" href={url} download={recordKey}>
        Download
      </a>
    );
  }
  const fetchAndSave = async () => {
    setBusy(true);
    try {
      const full = await api.getRecord(storeId, recordKey);
      saveBlob(full.blob ?? new Blob(), recordKey);
    } catch (err) {
      notify(`Could not download ${recordKey}: ${describeError(err)}`, 'error');
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" onClick={fetchAndSave} disabled={busy}>
      {busy ? 'Downloading…' : 'Download'}
    </button>
  );
}
