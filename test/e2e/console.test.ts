import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_URL, type TestContext } from '../helpers/context.js';
import { type Browser, isFocused, launchChromium, screenshot, tabTo, type Watched } from './browser.js';
import { makePng, minimalPdf } from './fixtures.js';
import { expectClean, openTab, poll, signInWith, startConsole, stopConsole } from './session.js';

const PNG = makePng(160, 96);
const JSON_RECORD = { hello: 'world', nested: { deep: [1, 2, 3] }, ok: true };

let ctx: TestContext;
let origin: string;
let browser: Browser | undefined;
let page: Page;
let watched: Watched;
let token: string;

beforeAll(async () => {
  ({ ctx, origin } = await startConsole());
});
afterAll(() => stopConsole(browser, ctx));

/** A new tab (so a new sessionStorage); Chromium starts with the first one, and each test fails if it cannot. */
async function openPage(width = 1280, height = 860): Promise<Browser> {
  browser ??= await launchChromium();
  ({ page, watched } = await openTab(browser, width, height));
  return browser;
}

afterEach(async () => {
  await page?.close();
});

const expectCleanSession = (expected: RegExp[] = []) => expectClean({ page, watched }, origin, token, expected);

async function signIn(as: string): Promise<void> {
  token = as;
  await signInWith(page, origin, as);
}

async function put(storeId: string, key: string, body: Buffer | string, headers: Record<string, string>, as: string) {
  const res = await ctx.request({
    method: 'PUT',
    url: `/v2/key-value-stores/${storeId}/records/${key}`,
    token: as,
    headers,
    payload: body,
  });
  expect(res.statusCode).toBe(201);
}

const text = (selector: string) => () => page.locator(selector).first().textContent();

describe('the console in Chromium', () => {
  it('signs in, creates a store, uploads and previews a PNG and a JSON record, renames, deletes a record and the store', async () => {
    for (const name of ['crawl-pages', 'crawl-state']) {
      const s = await ctx.createStore(name);
      await put(s.id, 'OUTPUT', JSON.stringify({ store: name }), { 'content-type': 'application/json' }, ctx.alice);
    }
    const { context } = await openPage();
    token = ctx.alice;
    await page.goto(`${origin}/`);
    await page.getByLabel('API token').fill('okvs_not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token was not accepted.').waitFor();
    await signIn(ctx.alice);
    expect(await page.evaluate('sessionStorage.getItem("openkvs.token")')).toBe(ctx.alice);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(page.url()).not.toContain(ctx.alice);
    await page.getByRole('link', { name: 'crawl-state' }).waitFor();

    await page.getByLabel('New store name').fill('shots');
    await page.getByRole('button', { name: 'Create store' }).click();
    await page.getByRole('heading', { level: 1, name: 'shots' }).waitFor();
    const storeId = (await ctx.request({ url: '/v2/key-value-stores/~shots', token: ctx.alice })).json().data.id as string;

    // Upload: the key comes from the file name, the content type from the file.
    await page.getByLabel('File').setInputFiles({ name: 'shot.png', mimeType: 'image/png', buffer: PNG });
    expect(await page.getByLabel('Record key').inputValue()).toBe('shot.png');
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByRole('link', { name: 'shot.png' }).waitFor();
    await page.getByLabel('File').setInputFiles({
      name: 'state.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(JSON_RECORD)),
    });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByRole('link', { name: 'state.json' }).waitFor();
    const stored = await ctx.request({ url: `/v2/key-value-stores/${storeId}/records/shot.png`, token: ctx.alice });
    expect(stored.headers['content-type']).toBe('image/png');
    expect(stored.rawPayload.equals(PNG)).toBe(true);
    await poll(text('tbody')).toMatch(/shot\.png32 KiB.*state\.json53 B/);
    await screenshot(page, 'store');

    // The PNG, drawn from a blob URL of the fetched bytes.
    await page.getByRole('link', { name: 'shot.png' }).click();
    const img = page.getByRole('img', { name: 'Record shot.png' });
    await img.waitFor();
    expect(await img.getAttribute('src')).toMatch(/^blob:/);
    await poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBe(160);
    const facts = await page.locator('dl.facts').textContent();
    expect(facts).toContain('image/png');
    expect(facts).toContain(`32 KiB (${PNG.length.toLocaleString('en-US')} bytes)`);
    await screenshot(page, 'record-png');

    // The JSON, as a tree expanded at first; a node folds and unfolds from the keyboard.
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'shots' }).click();
    await page.getByRole('link', { name: 'state.json' }).click();
    const deep = page.locator('.json-tree').getByText('"deep":');
    await deep.waitFor();
    await poll(text('.json-tree')).toContain('"hello": "world",');
    await screenshot(page, 'record-json');
    const nested = page.locator('summary', { hasText: '"nested":' });
    await nested.focus();
    await page.keyboard.press('Enter');
    await poll(() => deep.isVisible()).toBe(false);
    expect(await nested.textContent()).toContain('1 key');
    await page.keyboard.press('Enter');
    await poll(() => deep.isVisible()).toBe(true);

    // Rename and restrict.
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'shots' }).click();
    await page.getByLabel('Store name', { exact: true }).fill('renamed-shots');
    await page.getByLabel('General access').selectOption('RESTRICTED');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { level: 1, name: 'renamed-shots' }).waitFor();
    const renamed = await ctx.request({ url: '/v2/key-value-stores/~renamed-shots', token: ctx.alice });
    expect(renamed.json().data).toMatchObject({ id: storeId, generalAccess: 'RESTRICTED' });

    // The signed public URL on the clipboard opens the record without a token, restricted store or not.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    await page.getByRole('button', { name: 'Copy public URL of shot.png' }).click();
    await page.getByText('Copied the public URL of shot.png.').waitFor();
    const copied = String(await page.evaluate('navigator.clipboard.readText()'));
    expect(copied).toMatch(new RegExp(`^${PUBLIC_URL}/v2/key-value-stores/${storeId}/records/shot\\.png\\?signature=\\w+`));
    const viaSigned = await ctx.request({ url: copied.slice(PUBLIC_URL.length) });
    expect(viaSigned.statusCode).toBe(200);
    expect(viaSigned.rawPayload.equals(PNG)).toBe(true);

    // Delete a record, after confirming.
    await page.getByRole('button', { name: 'Delete state.json' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this record?' });
    await dialog.getByRole('button', { name: 'Delete record' }).click();
    await poll(() => page.getByRole('link', { name: 'state.json' }).count()).toBe(0);
    const gone = await ctx.request({ url: `/v2/key-value-stores/${storeId}/records/state.json`, token: ctx.alice });
    expect(gone.statusCode).toBe(404);

    // Delete the store: cancelling keeps it, confirming deletes it.
    await page.getByRole('button', { name: 'Delete store' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await poll(() => page.getByRole('dialog').count()).toBe(0);
    expect((await ctx.request({ url: `/v2/key-value-stores/${storeId}`, token: ctx.alice })).statusCode).toBe(200);
    await page.getByRole('button', { name: 'Delete store' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete store' }).click();
    await page.getByRole('heading', { level: 1, name: 'Key-value stores' }).waitFor();
    await page.getByRole('link', { name: 'crawl-pages' }).waitFor();
    expect(await page.getByRole('link', { name: 'renamed-shots' }).count()).toBe(0);
    expect((await ctx.request({ url: `/v2/key-value-stores/${storeId}`, token: ctx.alice })).statusCode).toBe(404);
    await screenshot(page, 'stores');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    // The wrong token, tried on purpose.
    expectCleanSession([/status of 401/]);
  });

  it('pages and filters the stores, includes unnamed ones on request, pages keys and narrows them by prefix', async () => {
    const dave = (await ctx.kvs.users.create('dave')).token;
    for (let i = 0; i < 23; i++) await ctx.createStore(`site-${String(i).padStart(2, '0')}`, dave);
    const alpha = await ctx.createStore('alpha-one', dave);
    await ctx.createStore(undefined, dave);
    for (let i = 0; i < 150; i++)
      await put(alpha.id, `k${String(i).padStart(3, '0')}`, `v${i}`, { 'content-type': 'text/plain' }, dave);
    await put(alpha.id, 'other', 'x', { 'content-type': 'text/plain' }, dave);

    await openPage();
    await signIn(dave);
    const pager = page.getByRole('navigation', { name: 'Stores pages' });
    await poll(() => pager.textContent()).toContain('1–20 of 24');
    await pager.getByRole('button', { name: 'Next' }).click();
    await poll(() => pager.textContent()).toContain('21–24 of 24');
    expect(await page.getByRole('link', { name: 'Unnamed store' }).count()).toBe(0);

    await page.getByLabel('Include unnamed stores').check();
    await poll(() => pager.textContent()).toContain('1–20 of 25');
    // Newest first: the unnamed store was made last.
    await page.getByRole('link', { name: 'Unnamed store' }).waitFor();

    await page.getByLabel('Filter by name or ID').fill('ALPHA');
    await poll(() => pager.textContent()).toContain('1–1 of 1');
    expect(await page.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('Filter by name or ID').fill('site-1');
    await poll(() => pager.textContent()).toContain('1–10 of 10');
    await page.getByLabel('Filter by name or ID').fill('');
    await page.getByLabel('Filter by name or ID').fill('alpha');
    await page.getByRole('link', { name: 'alpha-one' }).click();

    const keysPager = page.getByRole('navigation', { name: 'Record pages' });
    await poll(() => keysPager.textContent()).toContain('Keys 1–100, more on the next page');
    expect(await page.locator('tbody tr').first().textContent()).toContain('k000');
    await keysPager.getByRole('button', { name: 'Next' }).click();
    await poll(() => keysPager.textContent()).toContain('Keys 101–151 (last page)');
    expect(await page.locator('tbody tr').last().textContent()).toContain('other');
    expect(await keysPager.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await keysPager.getByRole('button', { name: 'Previous' }).click();
    await poll(() => keysPager.textContent()).toContain('Keys 1–100');
    await page.getByLabel('Key prefix').fill('k14');
    await poll(() => keysPager.textContent()).toContain('Keys 1–10 (last page)');
    expect(await page.locator('tbody tr').allTextContents()).toHaveLength(10);
    expectCleanSession();
  });

  it('previews HTML sandboxed and as source, text, gzip-stored JSON, PDF, and offers anything else as a download', async () => {
    const erin = (await ctx.kvs.users.create('erin')).token;
    const s = await ctx.createStore('previews', erin);
    const html =
      '<h1>Hello from HTML</h1><script>document.body.append("SCRIPT RAN")</script><img src="http://example.invalid/x.png" alt="">';
    await put(s.id, 'page.html', html, { 'content-type': 'text/html; charset=utf-8' }, erin);
    await put(s.id, 'notes.txt', 'Grüße aus openkvs', { 'content-type': 'text/plain; charset=utf-8' }, erin);
    const state = gzipSync(JSON.stringify({ packed: true }));
    await put(s.id, 'state', state, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, erin);
    await put(s.id, 'doc.pdf', minimalPdf(), { 'content-type': 'application/pdf' }, erin);
    const bin = Buffer.from([0, 1, 2, 254, 255]);
    await put(s.id, 'data.bin', bin, { 'content-type': 'application/octet-stream' }, erin);

    await openPage();
    await signIn(erin);
    const open = (key: string) => page.goto(`${origin}/#/stores/${s.id}/records/${key}`);

    await open('page.html');
    const frame = page.locator('iframe[title="HTML preview (sandboxed)"]');
    await frame.waitFor();
    expect(await frame.getAttribute('sandbox')).toBe('');
    await page
      .frameLocator('iframe[title="HTML preview (sandboxed)"]')
      .getByRole('heading', { name: 'Hello from HTML' })
      .waitFor();
    expect(await page.frameLocator('iframe').getByText('SCRIPT RAN').count()).toBe(0);
    // Chromium says why: the sandbox stopped the script, the policies the image from another host
    // (the console's inherited one and the preview's own may each report it).
    const blockedScript = /Blocked script execution in 'about:srcdoc'.*sandboxed/;
    const blockedImage = /Loading the image 'http:\/\/example\.invalid\/x\.png' violates .*img-src/;
    await poll(() => watched.errors.filter((e) => blockedScript.test(e)).length).toBe(1);
    await poll(() => watched.errors.filter((e) => blockedImage.test(e)).length).toBeGreaterThanOrEqual(1);
    expect(watched.errors.filter((e) => blockedImage.test(e)).length).toBeLessThanOrEqual(2);
    await screenshot(page, 'record-html');
    await page.getByRole('button', { name: 'Source' }).click();
    await poll(text('pre.source')).toContain('<script>document.body.append("SCRIPT RAN")</script>');

    await open('notes.txt');
    await poll(text('pre.source')).toBe('Grüße aus openkvs');

    await open('state');
    await poll(text('.json-tree')).toContain('"packed": true');
    const facts = await page.locator('dl.facts').textContent();
    expect(facts).toContain('gzip');
    expect(facts).toContain(`${state.length} bytes stored, 15 bytes decoded`);

    await open('doc.pdf');
    const pdf = page.locator('iframe[title="PDF record doc.pdf"]');
    await pdf.waitFor();
    expect(await pdf.getAttribute('src')).toMatch(/^blob:/);
    // Chromium's own PDF viewer opened in the frame (the page's policy let it).
    await poll(() => page.frames().some((f) => f.url().startsWith('chrome-extension://'))).toBe(true);
    await page.waitForTimeout(1000); // for the screenshot: the viewer draws the page a moment later
    await screenshot(page, 'record-pdf');

    await open('data.bin');
    await page.getByText('No preview for application/octet-stream').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download' }).click()]);
    expect(download.suggestedFilename()).toBe('data.bin');
    expect((await readFile(await download.path())).equals(bin)).toBe(true);

    // A record too large to load for a preview is fetched only when downloaded.
    const big = Buffer.alloc(26 * 1024 * 1024, 'openkvs ');
    await put(s.id, 'big.txt', big, { 'content-type': 'text/plain' }, erin);
    await open('big.txt');
    await page.getByText('This record is 26 MiB, too large to show here. Download it instead.').waitFor();
    const [bigDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download' }).click(),
    ]);
    expect(bigDownload.suggestedFilename()).toBe('big.txt');
    expect((await readFile(await bigDownload.path())).equals(big)).toBe(true);
    expectCleanSession([blockedScript, blockedImage]);
  });

  it('works at phone width and from the keyboard alone', async () => {
    const fay = (await ctx.kvs.users.create('fay')).token;
    const s = await ctx.createStore('phone-store', fay);
    await put(s.id, 'INPUT', JSON.stringify({ url: 'https://example.com' }), { 'content-type': 'application/json' }, fay);
    await openPage(390, 844);
    token = fay;
    await page.goto(`${origin}/`);
    await page.getByLabel('API token').waitFor();
    await tabTo(page, { selector: '#token' });
    await page.keyboard.type(fay);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Key-value stores' }).waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(page, 'phone-stores');

    await tabTo(page, /^phone-store$/);
    await page.keyboard.press('Enter');
    const heading = page.getByRole('heading', { level: 1, name: 'phone-store' });
    await heading.waitFor();
    // The new page's heading has the focus, so the keyboard starts from the top of it.
    await poll(() => heading.evaluate(isFocused)).toBe(true);
    await page.getByRole('link', { name: 'INPUT' }).waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(page, 'phone-store');

    await tabTo(page, /^Delete store$/);
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Delete this store?' }).waitFor();
    await page.keyboard.press('Escape');
    await poll(() => page.getByRole('dialog').count()).toBe(0);
    expect((await ctx.request({ url: `/v2/key-value-stores/${s.id}`, token: fay })).statusCode).toBe(200);
    expectCleanSession();
  });
});

describe('the console route', () => {
  it('serves the page with a nonce-based policy that allows nothing from other hosts', async () => {
    const res = await ctx.request({ url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    const csp = String(res.headers['content-security-policy']);
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    expect(res.body).toContain(`nonce="${nonce}"`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    // No directive names another host.
    expect(csp).not.toMatch(/https?:|\*/);
    const again = await ctx.request({ url: '/' });
    expect(again.headers['content-security-policy']).not.toBe(csp);
  });

  it('serves the assets the page names, cached for good, and nothing else', async () => {
    const page = (await ctx.request({ url: '/' })).body;
    const script = /src="(\/assets\/main-\w+\.js)"/.exec(page)?.[1];
    const style = /href="(\/assets\/main-\w+\.css)"/.exec(page)?.[1];
    expect(script && style).toBeTruthy();
    const js = await ctx.request({ url: script });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.body.length).toBeGreaterThan(1000);
    const css = await ctx.request({ url: style });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    for (const url of [
      '/assets/missing.js',
      '/assets/..%2Fpackage.json',
      '/assets/%2e%2e%2findex.html',
      '/assets/main.exe',
      '/index.html',
    ]) {
      const res = await ctx.request({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.type, url).toBe('page-not-found');
    }
    expect((await ctx.request({ method: 'HEAD', url: script })).statusCode).toBe(200);
  });
});
