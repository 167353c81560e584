import { useState } from 'preact/hooks';
import { describeError, useConsole } from '../context';
import { formatBytes, KEY_PATTERN, keyFromFileName } from '../format';

/** Uploads a file as a record; the key defaults to the file name, the content type is the file's. */
export function UploadForm({ storeId, onUploaded }: { storeId: string; onUploaded(key: string): void }) {
  const { api, notify } = useConsole();
  const [file, setFile] = useState<File | null>(null);
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const contentType = file ? file.type || 'application/octet-stream' : '';

  const choose = (event: Event) => {
    const chosen = (event.currentTarget as HTMLInputElement).files?.[0] ?? null;
    setFile(chosen);
    if (chosen) setKey(keyFromFileName(chosen.name));
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    if (!file) return;
    setBusy(true);
    try {
      await api.putRecord(storeId, key, file);
      notify(`Uploaded ${key} (${contentType}, ${formatBytes(file.size)}).`);
      form.reset();
      setFile(null);
      setKey('');
      onUploaded(key);
    } catch (err) {
      notify(`Could not upload ${key}: ${describeError(err)}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="upload" onSubmit={submit} aria-labelledby="upload-title">
      <h2 id="upload-title">Upload a record</h2>
      <label>
        File
        <input type="file" name="file" required onChange={choose} />
      </label>
      <label>
        Record key
        <input
          name="key"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          required
          pattern={KEY_PATTERN}
          maxLength={256}
          aria-describedby="key-help"
        />
      </label>
      <p id="key-help" class="help">
        {file ? `Content type ${contentType}, ${formatBytes(file.size)}. ` : ''}
        Letters, digits and <code>! - _ . ' ( )</code>; a record with the same key is replaced.
      </p>
      <button type="submit" disabled={busy || !file}>
        {busy ? 'Uploading…' : 'Upload'}
      </button>
    </form>
  );
}
