import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's Chromium; the tests never download a browser of their own. */
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url));

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Starts headless Chromium with a new empty profile; fails (never skips) when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (as root).`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'openkvs-chromium-'));
  // The profile is the new empty --user-data-dir; the flags keep Chromium off the network.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface Watched {
  /**
   * Every URL the page requested (documents, scripts, fetches, images), but requests its content
   * security policy stopped inside the browser: Chromium's preload scanner may start one for an
   * image of a sandboxed `srcdoc` document, which the inherited policy then blocks before anything
   * leaves the browser (reported as a request that failed with "csp").
   */
  requests: string[];
  /** Console errors (CSP violations among them) and uncaught exceptions. */
  errors: string[];
}

/** Records what a page asks for and what goes wrong in it. */
export function watch(page: Page): Watched {
  const watched: Watched = { requests: [], errors: [] };
  page.on('request', (r) => watched.requests.push(r.url()));
  page.on('requestfailed', (r) => {
    // Playwright reports a load that a content security policy blocked as failed with "csp".
    const reason = r.failure()?.errorText;
    if (reason !== 'csp' && reason !== 'net::ERR_BLOCKED_BY_CSP') return;
    const i = watched.requests.lastIndexOf(r.url());
    if (i >= 0) watched.requests.splice(i, 1);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') watched.errors.push(m.text());
  });
  page.on('pageerror', (e) => watched.errors.push(e.message));
  return watched;
}

/** Saves a full-page screenshot under test/e2e/screenshots/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Whether an element (in `evaluate`) has the focus. */
export const isFocused = (el: unknown) =>
  el === (el as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement;

/** Presses Tab until the focused element's text matches (or `selector` has the focus); fails after 60 presses. */
export async function tabTo(page: Page, target: RegExp | { selector: string }): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const hit =
      target instanceof RegExp
        ? target.test(String(await page.evaluate('document.activeElement?.textContent?.trim() ?? ""')))
        : await page.locator(target.selector).evaluate(isFocused);
    if (hit) return;
  }
  throw new Error(`Tab never reached ${String(target instanceof RegExp ? target : target.selector)}`);
}
