import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_URL, type TestContext } from '../helpers/context.js';
import { type Browser, launchChromium, screenshot } from './browser.js';
import {
  expectClean,
  nextMillisecond,
  openTab,
  poll,
  renameAndDelete,
  signInWith,
  startConsole,
  stopConsole,
  type Tab,
} from './session.js';

let ctx: TestContext;
let origin: string;
let browser: Browser | undefined;
let tab: Tab;
let page: Page;
let token: string;

beforeAll(async () => {
  ({ ctx, origin } = await startConsole());
});
afterAll(() => stopConsole(browser, ctx));

afterEach(async () => {
  await page?.close();
});

/** Signs the test's user in on a new tab and opens the datasets page from the main navigation. */
async function signIn(width?: number, height?: number): Promise<void> {
  browser ??= await launchChromium();
  tab = await openTab(browser, width, height);
  page = tab.page;
  await signInWith(page, origin, token);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Datasets' }).click();
  await page.getByRole('heading', { level: 1, name: 'Datasets' }).waitFor();
}

async function createDataset(name?: string): Promise<{ id: string; name: string | null }> {
  const res = await ctx.request({ method: 'POST', url: `/v2/datasets${name ? `?name=${name}` : ''}`, token });
  expect([200, 201]).toContain(res.statusCode);
  return res.json().data;
}

async function push(id: string, items: unknown[]): Promise<void> {
  const res = await ctx.request({
    method: 'POST',
    url: `/v2/datasets/${id}/items`,
    token,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(items),
  });
  expect(res.statusCode).toBe(201);
}

const getDataset = (ref: string) => ctx.request({ url: `/v2/datasets/${ref}`, token });

/** Product-like items; the second has a key no other item has, every one a nested object and array. */
const products = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    n: i,
    title: `Item ${i}`,
    price: { value: i * 1.5, currency: 'EUR' },
    tags: ['new', `t${i % 3}`],
    ...(i === 1 ? { onlyHere: true } : {}),
  }));

/** Each format's content type (as the API answers it) and how its file starts. */
const FORMATS: Record<string, { type: RegExp; starts: (b: Buffer) => boolean }> = {
  json: { type: /^application\/json/, starts: (b) => b.toString('utf8').trimStart().startsWith('[') },
  jsonl: { type: /^application\/jsonl/, starts: (b) => b.toString('utf8').startsWith('{"n":0,') },
  csv: { type: /^text\/csv/, starts: (b) => /^(\uFEFF)?"?n"?,/.test(b.toString('utf8')) },
  xlsx: {
    type: /^application\/vnd\.openxmlformats-officedocument\.spreadsheetml\.sheet/,
    starts: (b) => b.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1')),
  },
  xml: {
    type: /^application\/xml/,
    starts: (b) =>
      b
        .toString('utf8')
        .replace(/^\uFEFF/, '')
        .startsWith('<?xml'),
  },
  html: { type: /^text\/html/, starts: (b) => /^(\uFEFF)?\s*</.test(b.toString('utf8')) && b.includes('Item 0') },
  rss: {
    type: /^application\/rss\+xml/,
    starts: (b) =>
      b
        .toString('utf8')
        .replace(/^\uFEFF/, '')
        .startsWith('<?xml') && b.includes('<rss'),
  },
};

describe('the datasets pages in Chromium', () => {
  it('lists, pages and creates datasets, renames and restricts one, deletes one after a confirmation', async () => {
    token = (await ctx.kvs.users.create('gil')).token;
    for (let i = 0; i < 20; i++) {
      await createDataset(`run-${String(i).padStart(2, '0')}`);
      await nextMillisecond();
    }
    const filled = await createDataset('filled');
    await push(filled.id, products(7));
    await nextMillisecond();
    await createDataset();
    await signIn();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Datasets' }).getAttribute('aria-current')).toBe('page');
    expect(await nav.getByRole('link', { name: 'Key-value stores' }).getAttribute('aria-current')).toBeNull();

    // Newest first: `filled` leads the first page, with its item count; the unnamed one is left out.
    const pager = page.getByRole('navigation', { name: 'Datasets pages' });
    await poll(() => pager.textContent()).toContain('1–20 of 21');
    const first = page.locator('tbody tr').first();
    expect(await first.locator('td[data-label="Name"]').textContent()).toContain('filled');
    expect(await first.locator('td[data-label="Items"]').textContent()).toBe('7');
    expect(await first.locator('td[data-label="Access"]').textContent()).toBe('Server default');
    await pager.getByRole('button', { name: 'Next' }).click();
    await poll(() => pager.textContent()).toContain('21–21 of 21');
    expect(await page.locator('tbody tr').first().textContent()).toContain('run-00');
    await page.getByLabel('Include unnamed datasets').check();
    await poll(() => pager.textContent()).toContain('1–20 of 22');
    await page.getByRole('link', { name: 'Unnamed dataset' }).waitFor();
    await page.getByLabel('Filter by name or ID').fill('run-1');
    await poll(() => pager.textContent()).toContain('1–10 of 10');
    await page.getByLabel('Filter by name or ID').fill('');

    // Create by name, then an unnamed one (empty name).
    await page.getByLabel('New dataset name').fill('scraped');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await page.getByRole('heading', { level: 1, name: 'scraped' }).waitFor();
    await page.getByText('Created dataset scraped.').waitFor();
    const scraped = (await getDataset('~scraped')).json().data;
    expect(scraped).toMatchObject({ name: 'scraped', itemCount: 0 });
    await page.getByText('No items yet.').waitFor();
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Datasets' }).click();
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await page.getByRole('heading', { level: 1, name: 'Unnamed dataset' }).waitFor();
    const unnamedList = await ctx.request({ url: '/v2/datasets?unnamed=1&desc=1&limit=1', token });
    const unnamedId = unnamedList.json().data.items[0].id as string;
    expect(unnamedList.json().data.items[0].name).toBeNull();
    expect(page.url()).toBe(`${origin}/#/datasets/${unnamedId}`);

    // Rename, title and access in one PUT; then delete, cancelling once.
    await renameAndDelete(
      {
        page,
        origin,
        route: 'datasets',
        noun: 'dataset',
        listHeading: 'Datasets',
        contents: 'every item in it',
        get: getDataset,
      },
      scraped.id,
      'scraped-2026',
      'Scraped in 2026',
    );
    await page.getByRole('link', { name: 'filled' }).waitFor();
    expect(await page.getByRole('link', { name: 'scraped-2026' }).count()).toBe(0);
    expectClean(tab, origin, token);
  });

  it('shows the items as a table and as JSON, pages them, downloads every format and copies the public URL', async () => {
    token = (await ctx.kvs.users.create('hal')).token;
    const ds = await createDataset('products');
    const items = products(120);
    await push(ds.id, items);
    await signIn();
    await page.getByRole('link', { name: 'products' }).click();
    await page.getByRole('heading', { level: 1, name: 'products' }).waitFor();
    expect(await page.locator('dl.facts').textContent()).toContain('Items120');

    // The table: a column per top-level key of the page, in first-seen order; nested values as compact JSON.
    const table = page.locator('table.items');
    await table.waitFor();
    expect(await table.locator('thead th').allTextContents()).toEqual(['#', 'n', 'title', 'price', 'tags', 'onlyHere']);
    const row = (i: number) => table.locator('tbody tr').nth(i).locator('td');
    expect(await row(0).allTextContents()).toEqual(['1', '0', 'Item 0', '{"value":0,"currency":"EUR"}', '["new","t0"]', '']);
    expect(await row(1).allTextContents()).toEqual([
      '2',
      '1',
      'Item 1',
      '{"value":1.5,"currency":"EUR"}',
      '["new","t1"]',
      'true',
    ]);

    // Paging by offset and limit; the total comes from X-Apify-Pagination-Total.
    const pager = page.getByRole('navigation', { name: 'Items pages' });
    await poll(() => pager.textContent()).toContain('1–50 of 120');
    await pager.getByRole('button', { name: 'Next' }).click();
    await poll(() => pager.textContent()).toContain('51–100 of 120');
    await poll(() => row(0).first().textContent()).toBe('51');
    expect(await row(0).nth(2).textContent()).toBe('Item 50');
    // This page has no item with `onlyHere`: no such column.
    expect(await table.locator('thead th').allTextContents()).toEqual(['#', 'n', 'title', 'price', 'tags']);
    await pager.getByRole('button', { name: 'Next' }).click();
    await poll(() => pager.textContent()).toContain('101–120 of 120');
    expect(await table.locator('tbody tr').count()).toBe(20);
    expect(await pager.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await page.getByLabel('Items per page').selectOption('20');
    await poll(() => pager.textContent()).toContain('1–20 of 120');
    expect(await table.locator('tbody tr').count()).toBe(20);
    await screenshot(page, 'dataset');

    // The same page as JSON: the tree, and the text as the server wrote it.
    await page.getByRole('button', { name: 'JSON', exact: true }).click();
    await poll(() => page.locator('.json-tree').textContent()).toContain('"title": "Item 0",');
    expect(await page.locator('.json-tree').textContent()).toContain('"currency": "EUR"');
    expect(await page.locator('.json-tree').textContent()).not.toContain('Item 20');
    await page.getByRole('button', { name: 'Raw' }).click();
    const raw = await page.locator('pre.source').textContent();
    const api = await ctx.request({ url: `/v2/datasets/${ds.id}/items?offset=0&limit=20&format=json`, token });
    expect(raw).toBe(api.body);
    await pager.getByRole('button', { name: 'Next' }).click();
    await poll(() => page.locator('pre.source').textContent()).toContain('"Item 20"');
    await page.getByRole('button', { name: 'Table' }).click();
    await poll(() => row(0).first().textContent()).toBe('21');

    // Downloads: every format fetched with the token in a header, saved under the dataset's name.
    for (const [format, expected] of Object.entries(FORMATS)) {
      const [download, response] = await Promise.all([
        page.waitForEvent('download'),
        page.waitForResponse((r) => r.url().includes(`format=${format}&`)),
        page.getByRole('button', { name: `Download as ${format.toUpperCase()}`, exact: true }).click(),
      ]);
      expect(response.url(), format).toContain('attachment=1');
      expect(response.headers()['content-type'], format).toMatch(expected.type);
      expect(download.suggestedFilename(), format).toBe(`products.${format}`);
      const bytes = await readFile(await download.path());
      expect(expected.starts(bytes), `${format}: ${bytes.subarray(0, 60).toString('latin1')}`).toBe(true);
      if (format === 'json') expect(JSON.parse(bytes.toString('utf8'))).toEqual(items);
      if (format === 'jsonl') expect(bytes.toString('utf8').trim().split('\n')).toHaveLength(120);
    }

    // The signed public URL opens the items without a token, though the dataset is restricted.
    const restrict = await ctx.request({
      method: 'PUT',
      url: `/v2/datasets/${ds.id}`,
      token,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ generalAccess: 'RESTRICTED' }),
    });
    expect(restrict.statusCode).toBe(200);
    // Without a token the API does not even tell that it exists.
    expect((await ctx.request({ url: `/v2/datasets/${ds.id}/items` })).statusCode).toBe(404);
    await tab.page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    await page.getByRole('button', { name: 'Copy public URL' }).click();
    await page.getByText('Copied the public URL of the items.').waitFor();
    const copied = String(await page.evaluate('navigator.clipboard.readText()'));
    expect(copied).toMatch(new RegExp(`^${PUBLIC_URL}/v2/datasets/${ds.id}/items\\?signature=[\\w-]+`));
    const viaSigned = await ctx.request({ url: copied.slice(PUBLIC_URL.length) });
    expect(viaSigned.statusCode).toBe(200);
    expect(viaSigned.json()).toEqual(items);
    expectClean(tab, origin, token);
  });

  it('fits a phone screen: the items become cards, one labelled value a line', async () => {
    token = (await ctx.kvs.users.create('ida')).token;
    const ds = await createDataset('phone-items');
    await push(ds.id, products(3));
    await signIn(390, 844);
    await page.goto(`${origin}/#/datasets/${ds.id}`);
    await page.locator('table.items').waitFor();
    const first = page.locator('table.items tbody tr').first();
    expect(await first.locator('td[data-label="price"]').textContent()).toBe('{"value":0,"currency":"EUR"}');
    // The key only the second item has takes no line in the first one's card.
    expect(await first.locator('td[data-label="onlyHere"]').isVisible()).toBe(false);
    expect(await page.locator('table.items tbody tr').nth(1).locator('td[data-label="onlyHere"]').isVisible()).toBe(true);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(page, 'phone-dataset');
    expectClean(tab, origin, token);
  });
});
