import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { type Browser, type Watched, watch } from './browser.js';
import { buildConsole } from './fixtures.js';

/** `expect.poll` with room for a busy machine (its default gives up after one second). */
export const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000 });

/** The console built from the current sources, served by an in-process openkvs on a free port. */
export async function startConsole(): Promise<{ ctx: TestContext; origin: string }> {
  buildConsole();
  const ctx = await createTestContext();
  return { ctx, origin: await ctx.listen() };
}

/** Closes what a test file started (either may not have started). */
export async function stopConsole(browser: Browser | undefined, ctx: TestContext | undefined): Promise<void> {
  await browser?.close();
  await ctx?.close();
}

export interface Tab {
  page: Page;
  watched: Watched;
}

/** A new tab (so a new sessionStorage) of the given size, watched from its first request. */
export async function openTab(browser: Browser, width = 1280, height = 860): Promise<Tab> {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width, height });
  return { page, watched: watch(page) };
}

/** Signs in through the form and waits for the first page, the key-value stores. */
export async function signInWith(page: Page, origin: string, token: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Key-value stores' }).waitFor();
}

/**
 * What every page must hold to: every request to openkvs itself, the token in no URL, no errors
 * (CSP violations included) but the `expected` ones.
 */
export function expectClean(tab: Tab, origin: string, token: string, expected: RegExp[] = []): void {
  // Chromium's own PDF viewer loads from chrome-extension:// and chrome://; the network is http(s) and ws(s).
  const elsewhere = tab.watched.requests.filter((u) => /^(https?|wss?):/.test(u) && !u.startsWith(`${origin}/`));
  expect(elsewhere).toEqual([]);
  expect(tab.watched.requests.filter((u) => u.includes(token))).toEqual([]);
  expect(tab.watched.errors.filter((e) => !expected.some((re) => re.test(e)))).toEqual([]);
}

/**
 * Resolves once the clock has moved past `since`. Lists are ordered by createdAt (then by the random
 * id), so storages a test makes one after another must not share a millisecond.
 */
export async function nextMillisecond(since = Date.now()): Promise<void> {
  while (Date.now() <= since) await new Promise((resolve) => setImmediate(resolve));
}

/** A storage page of the console, and what its kind is called there. */
export interface StorageUi {
  page: Page;
  origin: string;
  /** The hash route of the kind: `datasets`, `request-queues`. */
  route: string;
  /** `dataset`, `request queue`. */
  noun: string;
  /** The list's heading: `Datasets`, `Request queues`. */
  listHeading: string;
  /** What the delete dialog says goes with it: `every item in it`. */
  contents: string;
  /** GET of the storage through the API. */
  get(id: string): Promise<{ statusCode: number; json(): { data: Record<string, unknown> } }>;
}

/**
 * Renames a storage with a title and RESTRICTED access in one save, then deletes it: cancelling
 * the dialog keeps it, confirming deletes it and goes back to the list. Checked through the API.
 */
export async function renameAndDelete(ui: StorageUi, id: string, name: string, title: string): Promise<void> {
  const { page } = ui;
  const Noun = `${ui.noun[0]?.toUpperCase()}${ui.noun.slice(1)}`;
  await page.goto(`${ui.origin}/#/${ui.route}/${id}`);
  await page.getByLabel(`${Noun} name`, { exact: true }).fill(name);
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('General access').selectOption('RESTRICTED');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
  expect((await ui.get(id)).json().data).toMatchObject({ name, title, generalAccess: 'RESTRICTED' });
  expect(await page.locator('dl.facts').textContent()).toContain(title);

  await page.getByRole('button', { name: `Delete ${ui.noun}` }).click();
  const dialog = page.getByRole('dialog', { name: `Delete this ${ui.noun}?` });
  expect(await dialog.textContent()).toContain(ui.contents);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await poll(() => page.getByRole('dialog').count()).toBe(0);
  expect((await ui.get(id)).statusCode).toBe(200);
  await page.getByRole('button', { name: `Delete ${ui.noun}` }).click();
  await dialog.getByRole('button', { name: `Delete ${ui.noun}` }).click();
  await page.getByRole('heading', { level: 1, name: ui.listHeading }).waitFor();
  await page.getByText(`Deleted ${ui.noun} ${name}.`).waitFor();
  expect((await ui.get(id)).statusCode).toBe(404);
}
