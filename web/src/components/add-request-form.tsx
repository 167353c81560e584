import { useState } from 'preact/hooks';
import { describeError, useConsole } from '../context';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/** Adds one request to a queue; its unique key defaults to the URL, so the same URL is not queued twice. */
export function AddRequestForm({ queueId, onAdded }: { queueId: string; onAdded(): void }) {
  const { api, notify } = useConsole();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const url = String(data.get('url') ?? '').trim();
    const uniqueKey = String(data.get('uniqueKey') ?? '').trim() || url;
    const method = String(data.get('method') ?? 'GET');
    setBusy(true);
    try {
      const added = await api.addRequest(queueId, { url, uniqueKey, method });
      if (!added.wasAlreadyPresent) notify(`Added request ${added.requestId}.`);
      else
        notify(
          `A request with the unique key ${uniqueKey} is already in the queue (${added.wasAlreadyHandled ? 'handled' : 'pending'}).`,
        );
      form.reset();
      onAdded();
    } catch (err) {
      notify(`Could not add the request: ${describeError(err)}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="upload" onSubmit={submit} aria-labelledby="add-request-title">
      <h2 id="add-request-title">Add a request</h2>
      <label>
        URL
        <input type="url" name="url" required placeholder="https://example.com/" />
      </label>
      <label>
        Method
        <select name="method" defaultValue="GET">
          {METHODS.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <label>
        Unique key
        <input name="uniqueKey" placeholder="the URL" aria-describedby="unique-key-help" />
      </label>
      <p id="unique-key-help" class="help">
        A request whose unique key is already in the queue is not added again.
      </p>
      <button type="submit" disabled={busy}>
        Add request
      </button>
    </form>
  );
}
