import { useState } from 'preact/hooks';

/**
 * HTML as a preview or as its source. The preview is an `<iframe sandbox>` with no permissions
 * (no scripts, no forms, an opaque origin) fed by `srcdoc`, so it has no URL that could be opened
 * on the console's origin; it inherits the console's policy, so it loads nothing from other hosts.
 */
export function HtmlPreview({ html }: { html: string }) {
  const [source, setSource] = useState(false);
  return (
    <>
      <div class="tabs">
        <button type="button" aria-pressed={!source} onClick={() => setSource(false)}>
          Preview
        </button>
        <button type="button" aria-pressed={source} onClick={() => setSource(true)}>
          Source
        </button>
      </div>
      {source ? (
        <pre class="source">{html}</pre>
      ) : (
        <iframe class="html-preview" sandbox="" referrerpolicy="no-referrer" srcdoc={html} title="HTML preview (sandboxed)" />
      )}
    </>
  );
}
