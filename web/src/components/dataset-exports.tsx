import { useState } from 'preact/hooks';
import { type Dataset, ITEM_FORMATS, type ItemFormat } from '../api';
import { describeError, useConsole } from '../context';
import { copyUrl } from '../copy';
import { saveBlob } from '../save';

/** Downloads of all the items in each format the API writes, and the signed public URL. */
export function DatasetExports({ dataset }: { dataset: Dataset }) {
  const { api, notify } = useConsole();
  const [busy, setBusy] = useState<ItemFormat | null>(null);

  const download = async (format: ItemFormat) => {
    setBusy(format);
    try {
      // Fetched with the token in a header and saved from memory: a link would need the token in its URL.
      saveBlob(await api.downloadItems(dataset.id, format), `${dataset.name ?? dataset.id}.${format}`);
    } catch (err) {
      notify(`Could not download the items as ${format.toUpperCase()}: ${describeError(err)}`, 'error');
    } finally {
      setBusy(null);
    }
  };

  const copy = async () => {
    if (await copyUrl(dataset.itemsPublicUrl, 'Public URL of the items')) notify('Copied the public URL of the items.');
  };

  return (
    <section aria-labelledby="downloads-title">
      <h2 id="downloads-title">Download</h2>
      <p class="actions">
        {ITEM_FORMATS.map((format) => (
          <button
            key={format}
            type="button"
            class="secondary"
            disabled={busy !== null}
            aria-label={`Download as ${format.toUpperCase()}`}
            onClick={() => download(format)}
          >
            {busy === format ? 'Downloading…' : format.toUpperCase()}
          </button>
        ))}
        <button type="button" class="secondary" onClick={copy}>
          Copy public URL
        </button>
      </p>
      <p class="help">
        Every item of the dataset, in one file. The public URL is signed: it opens the items as JSON without a token.
      </p>
    </section>
  );
}
