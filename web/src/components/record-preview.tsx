import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { FetchedRecord } from '../api';
import { charsetOf, formatBytes, mediaType } from '../format';
import { HtmlPreview } from './html-preview';
import { JsonPreview } from './json-preview';

/** Larger text is not laid out in the page; it is offered as a download only. */
const TEXT_PREVIEW_MAX = 5 * 1024 * 1024;

const TEXT_TYPES = new Set([
  'application/javascript',
  'application/xml',
  'application/x-ndjson',
  'application/x-yaml',
  'application/yaml',
  'application/csv',
  'application/sql',
  'application/x-sh',
]);

type Kind = 'json' | 'html' | 'text' | 'image' | 'pdf' | 'other';

function kindOf(type: string): Kind {
  if (type === 'application/json' || type.endsWith('+json') || type === 'text/json') return 'json';
  if (type === 'text/html' || type === 'application/xhtml+xml') return 'html';
  // Images before text: SVG (`image/svg+xml`) is drawn by an <img>, where its scripts never run.
  if (type.startsWith('image/')) return 'image';
  if (type === 'application/pdf') return 'pdf';
  if (type.startsWith('text/') || type.endsWith('+xml') || TEXT_TYPES.has(type)) return 'text';
  return 'other';
}

/** The record's bytes as text, in its declared charset (UTF-8 when none or unknown). */
function useText(record: FetchedRecord, wanted: boolean): string | undefined {
  const [text, setText] = useState<string>();
  useEffect(() => {
    if (!wanted || !record.blob) return;
    record.blob.arrayBuffer().then((bytes) => {
      let decoder: TextDecoder;
      try {
        decoder = new TextDecoder(charsetOf(record.contentType) ?? 'utf-8');
      } catch {
        decoder = new TextDecoder();
      }
      setText(decoder.decode(bytes));
    });
  }, [record, wanted]);
  return text;
}

/** A blob URL of the record's bytes with a type chosen here (never HTML), revoked when unmounted. */
function useBlobUrl(record: FetchedRecord, type: string | null): string | null {
  const url = useMemo(
    () => (type === null || record.blob === null ? null : URL.createObjectURL(new Blob([record.blob], { type }))),
    [record, type],
  );
  useEffect(() => () => (url ? URL.revokeObjectURL(url) : undefined), [url]);
  return url;
}

function TextPreview({ kind, text }: { kind: Kind; text: string }) {
  if (kind === 'json') return <JsonPreview text={text} />;
  if (kind === 'html') return <HtmlPreview html={text} />;
  return <pre class="source">{text}</pre>;
}

/** Shows a record by its content type: JSON as a tree, HTML sandboxed, images, PDF, text; else a note. */
export function RecordPreview({ record, recordKey }: { record: FetchedRecord; recordKey: string }) {
  const type = mediaType(record.contentType);
  const kind = kindOf(type);
  const textual = kind === 'json' || kind === 'html' || kind === 'text';
  const blob = record.blob;
  const tooLarge = blob === null || (textual && blob.size > TEXT_PREVIEW_MAX);
  const text = useText(record, textual && !tooLarge);
  const blobType = kind === 'image' ? type : kind === 'pdf' ? 'application/pdf' : null;
  const url = useBlobUrl(record, blobType);

  let body: ComponentChildren = <p>No preview for {type || 'this content type'}. Download it to open it.</p>;
  if (tooLarge) {
    const size = blob?.size ?? record.storedSize ?? 0;
    body = <p>{`This record is ${formatBytes(size)}, too large to show here. Download it instead.`}</p>;
  } else if (textual) body = text === undefined ? <p aria-busy="true">Loading…</p> : <TextPreview kind={kind} text={text} />;
  else if (kind === 'image' && url) body = <img class="image-preview" src={url} alt={`Record ${recordKey}`} />;
  else if (kind === 'pdf' && url) body = <iframe class="pdf-preview" src={url} title={`PDF record ${recordKey}`} />;

  return (
    <section class="preview" aria-labelledby="preview-title">
      <h2 id="preview-title">Content</h2>
      {body}
    </section>
  );
}
