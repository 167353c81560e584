import { useState } from 'preact/hooks';
import { ViewSwitch } from './view-switch';

/**
 * HTML as a preview or as its source. The preview is an `<iframe sandbox>` with no permissions
 * (no scripts, no forms, an opaque origin) fed by `srcdoc`, so it has no URL that could be opened
 * on the console's origin. It inherits the console's policy and carries its own as well (a `<meta>`
 * policy at the top of the document): Chromium's preload scanner may fetch images of a `srcdoc`
 * document before the inherited policy applies, but issues no preloads once it has seen a policy
 * in the document itself. So the preview loads nothing from other hosts.
 */
export function HtmlPreview({ html }: { html: string }) {
  const [source, setSource] = useState(false);
  const doc = withOwnPolicy(html);
  return (
    <>
      <ViewSwitch views={['Preview', 'Source']} second={source} onChange={setSource} />
      {source ? (
        <pre class="source">{html}</pre>
      ) : (
        <iframe class="html-preview" sandbox="" referrerpolicy="no-referrer" srcdoc={doc} title="HTML preview (sandboxed)" />
      )}
    </>
  );
}

const PREVIEW_POLICY =
  "default-src 'none'; img-src data: blob:; media-src data: blob:; font-src data:; style-src 'unsafe-inline'";

/** The document with the preview's policy first (after a doctype, so standards mode stays). */
export function withOwnPolicy(html: string): string {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${PREVIEW_POLICY}">`;
  const doctype = /^\s*<!doctype[^>]*>/i.exec(html);
  return doctype ? doctype[0] + meta + html.slice(doctype[0].length) : meta + html;
}
