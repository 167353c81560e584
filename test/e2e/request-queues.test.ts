import { createHash } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from '../helpers/context.js';
import { type Browser, isFocused, launchChromium, screenshot } from './browser.js';
import { expectClean, openTab, poll, renameAndDelete, signInWith, startConsole, stopConsole, type Tab } from './session.js';

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

/** Signs the test's user in on a new tab and opens the request queues from the main navigation. */
async function signIn(width?: number, height?: number): Promise<void> {
  browser ??= await launchChromium();
  tab = await openTab(browser, width, height);
  page = tab.page;
  await signInWith(page, origin, token);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Request queues' }).click();
  await page.getByRole('heading', { level: 1, name: 'Request queues' }).waitFor();
}

const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

async function createQueue(name?: string): Promise<{ id: string; name: string | null }> {
  const res = await ctx.request({ method: 'POST', url: `/v2/request-queues${name ? `?name=${name}` : ''}`, token });
  expect([200, 201]).toContain(res.statusCode);
  return res.json().data;
}

const getQueue = (ref: string) => ctx.request({ url: `/v2/request-queues/${ref}`, token });

interface Draft {
  url: string;
  uniqueKey: string;
  method?: string;
  userData?: Record<string, unknown>;
}

async function add(queueId: string, request: Draft, forefront = false): Promise<string> {
  const res = await ctx.request({
    method: 'POST',
    url: `/v2/request-queues/${queueId}/requests${forefront ? '?forefront=1' : ''}`,
    token,
    ...json(request),
  });
  expect(res.statusCode).toBe(201);
  return res.json().data.requestId;
}

async function getRequest(queueId: string, requestId: string): Promise<Record<string, unknown>> {
  const res = await ctx.request({ url: `/v2/request-queues/${queueId}/requests/${requestId}`, token });
  expect(res.statusCode).toBe(200);
  return res.json().data;
}

async function markHandled(queueId: string, requestId: string): Promise<void> {
  const request = await getRequest(queueId, requestId);
  const res = await ctx.request({
    method: 'PUT',
    url: `/v2/request-queues/${queueId}/requests/${requestId}`,
    token,
    ...json({ ...request, handledAt: new Date().toISOString() }),
  });
  expect(res.statusCode).toBe(200);
}

/** The ids of a page of `GET …/requests`, as the API answers it, and the cursor of the next page. */
async function apiPage(queueId: string, query: string): Promise<{ ids: string[]; nextCursor?: string }> {
  const res = await ctx.request({ url: `/v2/request-queues/${queueId}/requests?${query}`, token });
  expect(res.statusCode).toBe(200);
  const data = res.json().data as { items: { id: string }[]; nextCursor?: string };
  return { ids: data.items.map((r) => r.id), nextCursor: data.nextCursor };
}

const page_ = (n: number) => `https://shop.example/products/${String(n).padStart(3, '0')}`;
const product = (n: number): Draft => ({
  url: page_(n),
  uniqueKey: page_(n),
  method: 'GET',
  userData: { label: 'DETAIL', n, tags: ['shop', `p${n % 3}`] },
});

/** The request id Crawlee computes for a unique key (and openkvs with it). */
const requestIdOf = (uniqueKey: string) =>
  createHash('sha256').update(uniqueKey).digest('base64').replace(/[+/=]/g, '').slice(0, 15);

/** The ids of the rows of a table, from the ID under each URL. */
const rowIds = (table: string) => page.locator(`table.${table} tbody td[data-label="URL"] .id`).allTextContents();

describe('the request queues pages in Chromium', () => {
  it('lists, pages and creates queues, renames and restricts one, deletes one after a confirmation', async () => {
    token = (await ctx.kvs.users.create('quinn')).token;
    for (let i = 0; i < 20; i++) await createQueue(`crawl-${String(i).padStart(2, '0')}`);
    const filled = await createQueue('filled');
    for (let i = 0; i < 3; i++) await add(filled.id, product(i));
    await markHandled(filled.id, await add(filled.id, product(3)));
    await createQueue();
    await signIn();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Request queues' }).getAttribute('aria-current')).toBe('page');
    expect(await nav.getByRole('link', { name: 'Datasets' }).getAttribute('aria-current')).toBeNull();
    expect(page.url()).toBe(`${origin}/#/request-queues`);

    // Newest first: `filled` is on the first page, with its total, handled and pending counts; the
    // unnamed one is left out. (Queues created in the same millisecond may come in either order.)
    const pager = page.getByRole('navigation', { name: 'Request queues pages' });
    await poll(() => pager.textContent()).toContain('1–20 of 21');
    expect(await page.locator('thead th').allTextContents()).toEqual([
      'Name',
      'Access',
      'Created',
      'Modified',
      'Requests',
      'Handled',
      'Pending',
      'Size',
    ]);
    const first = page.locator('tbody tr', { hasText: filled.id });
    expect(await first.locator('td[data-label="Name"]').textContent()).toBe(`filled${filled.id}`);
    expect(await first.locator('td[data-label="Requests"]').textContent()).toBe('4');
    expect(await first.locator('td[data-label="Handled"]').textContent()).toBe('1');
    expect(await first.locator('td[data-label="Pending"]').textContent()).toBe('3');
    expect(await first.locator('td[data-label="Access"]').textContent()).toBe('Server default');
    expect(await page.locator('tbody tr', { hasText: 'crawl-19' }).locator('td[data-label="Requests"]').textContent()).toBe('0');
    const names = () => page.locator('tbody td[data-label="Name"] a').allTextContents();
    const firstPage = await names();
    await pager.getByRole('button', { name: 'Next' }).click();
    await poll(() => pager.textContent()).toContain('21–21 of 21');
    const [last] = await names();
    expect(last).toMatch(/^crawl-0\d$/);
    expect(firstPage).not.toContain(last);
    await pager.getByRole('button', { name: 'Previous' }).click();
    await poll(() => pager.textContent()).toContain('1–20 of 21');
    await page.getByLabel('Include unnamed request queues').check();
    await poll(() => pager.textContent()).toContain('1–20 of 22');
    await page.getByRole('link', { name: 'Unnamed request queue' }).waitFor();
    await page.getByLabel('Filter by name or ID').fill('crawl-1');
    await poll(() => pager.textContent()).toContain('1–10 of 10');
    await page.getByLabel('Filter by name or ID').fill(filled.id);
    await poll(() => pager.textContent()).toContain('1–1 of 1');
    await page.getByLabel('Filter by name or ID').fill('');

    // Create by name, then an unnamed one (empty name).
    await page.getByLabel('New request queue name').fill('frontier');
    await page.getByRole('button', { name: 'Create request queue' }).click();
    await page.getByRole('heading', { level: 1, name: 'frontier' }).waitFor();
    await page.getByText('Created request queue frontier.').waitFor();
    const frontier = (await getQueue('~frontier')).json().data;
    expect(frontier).toMatchObject({ name: 'frontier', totalRequestCount: 0 });
    expect(page.url()).toBe(`${origin}/#/request-queues/${frontier.id}`);
    await page.getByText('No requests yet.').waitFor();
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Request queues' }).click();
    await page.getByLabel('New request queue name').fill('frontier');
    await page.getByRole('button', { name: 'Create request queue' }).click();
    await page.getByText('A request queue named frontier already exists; opened it.').waitFor();
    expect(page.url()).toBe(`${origin}/#/request-queues/${frontier.id}`);
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Request queues' }).click();
    await page.getByRole('button', { name: 'Create request queue' }).click();
    await page.getByRole('heading', { level: 1, name: 'Unnamed request queue' }).waitFor();
    const unnamedList = await ctx.request({ url: '/v2/request-queues?unnamed=1&desc=1&limit=1', token });
    expect(unnamedList.json().data.items[0].name).toBeNull();
    expect(page.url()).toBe(`${origin}/#/request-queues/${unnamedList.json().data.items[0].id}`);

    // Rename, title and access in one PUT; then delete, cancelling once.
    await renameAndDelete(
      {
        page,
        origin,
        route: 'request-queues',
        noun: 'request queue',
        listHeading: 'Request queues',
        contents: 'every request in it',
        get: getQueue,
      },
      frontier.id,
      'frontier-2026',
      'Frontier of the 2026 crawl',
    );
    await page.getByRole('link', { name: 'filled' }).waitFor();
    expect(await page.getByRole('link', { name: 'frontier-2026' }).count()).toBe(0);
    expectClean(tab, origin, token);
  });

  it('shows the counts, the head, every request paged and filtered, a request as JSON; adds a request', async () => {
    token = (await ctx.kvs.users.create('rhea')).token;
    const q = await createQueue('shop');
    const ids: string[] = [];
    for (let i = 0; i < 119; i++) ids.push(await add(q.id, product(i)));
    // Forefront: first in the head although added last.
    const urgent = await add(q.id, { url: 'https://shop.example/sale', uniqueKey: 'sale', method: 'POST' }, true);
    for (const id of ids.slice(0, 10)) await markHandled(q.id, id);
    // Another client locks the next 5 pending ones: the head leaves them out, the locked filter has them.
    const lock = await ctx.request({
      method: 'POST',
      url: `/v2/request-queues/${q.id}/head/lock?lockSecs=600&limit=5&clientKey=crawler-a`,
      token,
    });
    expect(lock.statusCode).toBe(201);
    const locked = (lock.json().data.items as { id: string }[]).map((r) => r.id);
    expect(locked).toEqual([urgent, ...ids.slice(10, 14)]);
    const multiple = (await getQueue(q.id)).json().data.hadMultipleClients as boolean;

    await signIn();
    await page.getByRole('link', { name: 'shop' }).click();
    await page.getByRole('heading', { level: 1, name: 'shop' }).waitFor();
    const facts = page.locator('dl.facts');
    await poll(() => facts.textContent()).toContain('Requests120');
    expect(await facts.textContent()).toContain('Handled10');
    expect(await facts.textContent()).toContain('Pending110');

    // The head: pending requests that no client holds, in queue order; 25 at first, then 10.
    const head = page.locator('table.head');
    await head.waitFor();
    const headIds = ids.slice(14, 39);
    await poll(() => rowIds('head')).toEqual(headIds);
    const headRow = head.locator('tbody tr').first().locator('td');
    expect(await headRow.allTextContents()).toEqual(['1', `${page_(14)}${ids[14]}`, 'GET', '0']);
    await page.getByLabel('Requests in the head').selectOption('10');
    await poll(() => rowIds('head')).toEqual(headIds.slice(0, 10));

    // Every request in id order, 50 a page, paged by cursor; the same pages the API gives.
    const pager = page.getByRole('navigation', { name: 'Requests pages' });
    const p1 = await apiPage(q.id, 'limit=50');
    const p2 = await apiPage(q.id, `limit=50&cursor=${encodeURIComponent(p1.nextCursor ?? '')}`);
    const p3 = await apiPage(q.id, `limit=50&cursor=${encodeURIComponent(p2.nextCursor ?? '')}`);
    expect([...p1.ids, ...p2.ids, ...p3.ids].sort()).toEqual([urgent, ...ids].sort());
    await poll(() => pager.textContent()).toContain('1–50 of 120');
    await poll(() => rowIds('requests')).toEqual(p1.ids);
    expect(await pager.getByRole('button', { name: 'Previous' }).isDisabled()).toBe(true);
    await pager.getByRole('button', { name: 'Next' }).click();
    await poll(() => pager.textContent()).toContain('51–100 of 120');
    await poll(() => rowIds('requests')).toEqual(p2.ids);
    await pager.getByRole('button', { name: 'Next' }).click();
    await poll(() => pager.textContent()).toContain('101–120 of 120');
    await poll(() => rowIds('requests')).toEqual(p3.ids);
    expect(await pager.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await pager.getByRole('button', { name: 'Previous' }).click();
    await poll(() => pager.textContent()).toContain('51–100 of 120');
    await poll(() => rowIds('requests')).toEqual(p2.ids);

    // A handled request says when; the others are pending.
    const requests = page.locator('table.requests');
    await page.getByLabel('Requests per page').selectOption('500');
    await poll(() => pager.textContent()).toContain('1–120 of 120');
    const handledRow = requests.locator('tbody tr', { hasText: ids[0] });
    expect(await handledRow.locator('td[data-label="State"]').textContent()).toMatch(/^Handled /);
    expect(await requests.locator('tbody tr', { hasText: ids[20] }).locator('td[data-label="State"]').textContent()).toBe(
      'Pending',
    );
    expect(await requests.locator('tbody tr', { hasText: urgent }).locator('td[data-label="Method"]').textContent()).toBe('POST');

    // The filters: pending (not handled) and locked (a live lock), each as the API lists them.
    await page.getByLabel('Which requests').selectOption('Pending');
    await poll(() => pager.textContent()).toContain('1–110 of 110');
    await poll(() => rowIds('requests')).toEqual((await apiPage(q.id, 'limit=500&filter=pending')).ids);
    await page.getByLabel('Which requests').selectOption('Locked');
    await poll(() => pager.textContent()).toBe('Previous1–5Next');
    expect([...(await rowIds('requests'))].sort()).toEqual([...locked].sort());
    await poll(() => rowIds('requests')).toEqual((await apiPage(q.id, 'limit=500&filter=locked')).ids);
    expect(await requests.locator('td[data-label="State"]').allTextContents()).toEqual(Array(5).fill('Pending, locked'));
    await screenshot(page, 'queue');
    // The console reads the head and the lists as no client: it never makes a queue look shared.
    expect((await getQueue(q.id)).json().data.hadMultipleClients).toBe(multiple);
    expect(await facts.textContent()).toContain(multiple ? 'ClientsMore than one' : 'ClientsOne at most');
    await page.getByLabel('Requests per page').selectOption('20');
    await page.getByLabel('Which requests').selectOption('All');
    await poll(() => pager.textContent()).toContain('1–20 of 120');

    // A request: its fields, and its JSON as the API answers it.
    const target = ids[14] as string;
    await page
      .locator('table.head')
      .getByRole('link', { name: page_(14) })
      .click();
    await page.getByRole('heading', { level: 1, name: page_(14) }).waitFor();
    expect(page.url()).toBe(`${origin}/#/request-queues/${q.id}/requests/${target}`);
    expect(await page.locator('dl.facts').textContent()).toBe(`ID${target}Unique key${page_(14)}MethodGETRetries0StatePending`);
    const tree = page.locator('.json-tree');
    await poll(() => tree.textContent()).toContain('"label": "DETAIL",');
    expect(await tree.textContent()).toContain('"n": 14');
    await page.getByRole('button', { name: 'Collapse all' }).click();
    await poll(() => tree.locator('details[open]').count()).toBe(0);
    await page.getByRole('button', { name: 'Raw' }).click();
    expect(JSON.parse((await page.locator('pre.source').textContent()) ?? '')).toEqual(await getRequest(q.id, target));
    await screenshot(page, 'queue-request');
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'shop' }).click();
    await page.getByRole('heading', { level: 1, name: 'shop' }).waitFor();

    // A handled request's page says when it was handled; one that is gone says so.
    await page.goto(`${origin}/#/request-queues/${q.id}/requests/${ids[0]}`);
    await poll(() => page.locator('dl.facts').textContent()).toMatch(/StateHandled /);
    await page.goto(`${origin}/#/request-queues/${q.id}/requests/nosuchrequest01`);
    await page.getByText('This request does not exist (any more).').waitFor();

    // Adding a request: new, then the same unique key again; the counts and the head follow.
    await page.goto(`${origin}/#/request-queues/${q.id}`);
    await page.getByLabel('URL').fill('https://shop.example/new');
    await page.getByLabel('Method').selectOption('GET');
    await page.getByRole('button', { name: 'Add request' }).click();
    const added = requestIdOf('https://shop.example/new');
    await page.getByText(`Added request ${added}.`).waitFor();
    await poll(() => facts.textContent()).toContain('Requests121');
    expect(await getRequest(q.id, added)).toMatchObject({
      url: 'https://shop.example/new',
      uniqueKey: 'https://shop.example/new',
    });
    await page.getByLabel('URL').fill('https://shop.example/other');
    await page.getByLabel('Unique key').fill(page_(0));
    await page.getByRole('button', { name: 'Add request' }).click();
    await page.getByText(`A request with the unique key ${page_(0)} is already in the queue (handled).`).waitFor();
    expect((await getQueue(q.id)).json().data.totalRequestCount).toBe(121);
    // Refresh reads what a crawler changed meanwhile.
    await markHandled(q.id, ids[14] as string);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await poll(() => facts.textContent()).toContain('Handled11');
    await poll(() => rowIds('head')).toEqual(ids.slice(15, 40));
    // The one error: the browser's note on the 404 of the request that does not exist.
    expectClean(tab, origin, token, [/status of 404 \(Not Found\)/]);
  });

  it('fits a phone screen: the head and the requests become cards', async () => {
    token = (await ctx.kvs.users.create('sid')).token;
    const q = await createQueue('phone-queue');
    for (let i = 0; i < 3; i++) await add(q.id, product(i));
    await signIn(390, 844);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.getByRole('link', { name: 'phone-queue' }).focus();
    await page.keyboard.press('Enter');
    const heading = page.getByRole('heading', { level: 1, name: 'phone-queue' });
    await heading.waitFor();
    await poll(() => heading.evaluate(isFocused)).toBe(true);
    await page.locator('table.requests').waitFor();
    const card = page.locator('table.head tbody tr').first();
    expect(await card.locator('td[data-label="URL"] a').textContent()).toBe(page_(0));
    expect(await card.locator('td[data-label="Method"]').isVisible()).toBe(true);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(page, 'phone-queue');
    expectClean(tab, origin, token);
  });
});
