const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` → `1.5 KiB`; bytes below 1 KiB as they are. */
export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** A date in the reader's locale, short enough for a table cell. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A queued request's state: when it was handled, or that it is still pending. */
export const requestState = (r: { handledAt?: string | null }) =>
  r.handledAt ? `Handled ${formatDate(r.handledAt)}` : 'Pending';

/** Record keys allow 1–256 of `a-z A-Z 0-9 ! - _ . ' ( )`; a `pattern` attribute (`v` flag: `-`, `(`, `)` escaped). */
export const KEY_PATTERN = "[a-zA-Z0-9!\\-_.'\\(\\)]{1,256}";

/** A valid record key made from a file name: other characters become `-`. */
export function keyFromFileName(name: string): string {
  const key = name.replace(/[^a-zA-Z0-9!\-_.'()]/g, '-').slice(0, 256);
  return key === '' ? 'file' : key;
}

/** The media type alone, lower-case: `Text/HTML; charset=utf-8` → `text/html`. */
export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/** The charset parameter of a content type, if any. */
export function charsetOf(contentType: string): string | undefined {
  return /;\s*charset="?([^";\s]+)/i.exec(contentType)?.[1];
}
