/**
 * Copies text to the clipboard. The Clipboard API needs a secure context (https or localhost);
 * elsewhere the older `execCommand('copy')` is tried. Resolves false when neither worked.
 */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.append(area);
    area.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    } finally {
      area.remove();
    }
  }
}

/** Copies a URL; where there is no clipboard, shows it in a prompt to copy by hand. True when copied. */
export async function copyUrl(url: string, label: string): Promise<boolean> {
  if (await copyText(url)) return true;
  prompt(label, url);
  return false;
}
