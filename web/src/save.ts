/** Bytes as a blob URL typed as plain bytes, so opening it can never render it on this origin. */
export function bytesUrl(blob: Blob): string {
  return URL.createObjectURL(new Blob([blob], { type: 'application/octet-stream' }));
}

/** Has the browser save fetched bytes under `name` (no token ever goes into a URL). */
export function saveBlob(blob: Blob, name: string): void {
  const url = bytesUrl(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  // The click starts the download; the URL must outlive that start.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
