/**
 * apify-client 2.25.0, unmodified, against a real `openkvs serve`: every DatasetCollectionClient
 * and DatasetClient method, and every option of listItems. The download formats are in
 * apify-client-dataset-formats.test.ts.
 */
import type { ApifyClient, Dataset } from 'apify-client';
import { DownloadItemsFormat } from 'apify-client';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, clientFor } from './client.js';
import { fetchRaw, json } from './http.js';
import { pathAndQuery, type Recorder, startRecorder } from './recorder.js';
import { type CompatServer, startOpenkvs } from './server.js';

let server: CompatServer;
let alice: ApifyClient;

/** `item` without the fields named. */
const without = (item: object, fields: string[]) => Object.fromEntries(Object.entries(item).filter(([k]) => !fields.includes(k)));

/** A new unnamed dataset of alice's holding `items` (pushed as one array). */
async function datasetWith(items: Record<string, unknown>[]): Promise<string> {
  const { id } = await alice.datasets().getOrCreate();
  if (items.length > 0) await alice.dataset(id).pushItems(items);
  return id;
}

beforeAll(async () => {
  server = await startOpenkvs(['alice', 'lister']);
  alice = clientFor(server.origin, server.token('alice'));
});
afterAll(() => server?.close());

describe('datasets()', () => {
  it('getOrCreate(name) twice gives the same dataset; getOrCreate() makes a new unnamed one each time', async () => {
    const first = await alice.datasets().getOrCreate('twice');
    const second = await alice.datasets().getOrCreate('twice');
    expect(first.id).toMatch(/^[a-zA-Z0-9]{17}$/);
    expect(second.id).toBe(first.id);
    expect(second).toMatchObject({ name: 'twice', itemCount: 0, cleanItemCount: 0 });
    expect(typeof first.userId).toBe('string');
    for (const at of [first.createdAt, first.modifiedAt, first.accessedAt]) expect(at).toBeInstanceOf(Date);
    expect(typeof first.urlSigningSecretKey).toBe('string');
    expect(typeof (first as Dataset & { consoleUrl?: unknown }).consoleUrl).toBe('string');

    const a = await alice.datasets().getOrCreate();
    const b = await alice.datasets().getOrCreate();
    expect(a.name ?? null).toBeNull();
    expect(b.id).not.toBe(a.id);
    expect([a.id, b.id]).not.toContain(first.id);
  });

  it('a dataset and a key-value store may share a name; neither answers for the other', async () => {
    const dataset = await alice.datasets().getOrCreate('shared-name');
    const store = await alice.keyValueStores().getOrCreate('shared-name');
    expect(store.id).not.toBe(dataset.id);
    expect((await alice.dataset('~shared-name').get())?.id).toBe(dataset.id);
    expect((await alice.keyValueStore('~shared-name').get())?.id).toBe(store.id);
    expect(await alice.dataset(store.id).get()).toBeUndefined();
    expect(await alice.keyValueStore(dataset.id).get()).toBeUndefined();
  });

  describe('list', () => {
    let lister: ApifyClient;
    let named: Dataset[] = [];
    let all: Dataset[] = [];
    const ids = (list: { id: string }[]) => list.map((d) => d.id);

    beforeAll(async () => {
      // Created one after another, so that createdAt (then id) orders them as made.
      lister = clientFor(server.origin, server.token('lister'));
      for (const name of ['list-a', null, 'list-b', null, 'list-c', null, 'list-d'])
        all.push(await lister.datasets().getOrCreate(name ?? undefined));
      all = [...all].sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime() || (x.id < y.id ? -1 : 1));
      named = all.filter((d) => d.name);
      // Key-value stores of the same user are not datasets, even under a dataset's name.
      await lister.keyValueStores().getOrCreate('list-a');
      await lister.keyValueStores().getOrCreate();
    });

    it('lists the named datasets only by default, oldest first, with total/offset/limit/count/desc', async () => {
      const page = await lister.datasets().list();
      expect(ids(page.items)).toEqual(ids(named));
      expect(page).toMatchObject({ total: 4, offset: 0, count: 4, desc: false });
      expect(page.items.map((d) => d.name)).toEqual(['list-a', 'list-b', 'list-c', 'list-d']);
      expect(page.items[0]).toMatchObject({ itemCount: 0, cleanItemCount: 0 });
    });

    it('offset, limit and desc page through them', async () => {
      const page = await lister.datasets().list({ offset: 1, limit: 2 });
      expect(ids(page.items)).toEqual(ids(named.slice(1, 3)));
      expect(page).toMatchObject({ total: 4, offset: 1, limit: 2, count: 2, desc: false });
      const desc = await lister.datasets().list({ desc: true, offset: 1, limit: 2 });
      expect(ids(desc.items)).toEqual(ids([...named].reverse().slice(1, 3)));
      expect(desc).toMatchObject({ total: 4, offset: 1, limit: 2, count: 2, desc: true });
    });

    it('unnamed: true adds the unnamed datasets; the async iteration honours offset, limit and desc', async () => {
      const page = await lister.datasets().list({ unnamed: true });
      expect(ids(page.items)).toEqual(ids(all));
      expect(page).toMatchObject({ total: 7, count: 7 });
      const seen: string[] = [];
      for await (const d of lister.datasets().list({ unnamed: true, desc: true, offset: 2, limit: 4 })) seen.push(d.id);
      expect(seen).toEqual(ids([...all].reverse().slice(2, 6)));
    });

    it("the key-value store list shows the user's stores and no dataset", async () => {
      const stores = await lister.keyValueStores().list({ unnamed: true });
      expect(stores.total).toBe(2);
      expect(ids(stores.items)).not.toEqual(expect.arrayContaining([all[0]!.id]));
      for (const s of stores.items) expect(ids(all)).not.toContain(s.id);
    });
  });
});

describe('dataset(id)', () => {
  it('get() by id, by "~name" and by "username/name" return the same dataset; a missing one is undefined', async () => {
    const created = await alice.datasets().getOrCreate('by-name');
    await alice.dataset(created.id).pushItems([{ a: 1 }, {}, { b: 2 }]);
    for (const ref of [created.id, '~by-name', 'alice/by-name', 'alice~by-name']) {
      const got = await alice.dataset(ref).get();
      expect(got, ref).toMatchObject({ id: created.id, name: 'by-name', itemCount: 3, cleanItemCount: 2 });
    }
    expect(await alice.dataset('aaaaaaaaaaaaaaaaa').get()).toBeUndefined();
    expect(await alice.dataset('~no-such-dataset').get()).toBeUndefined();
    expect(await alice.dataset('alice/no-such-dataset').get()).toBeUndefined();
  });

  it('update() renames, titles and restricts, and get() shows it; a name taken by another dataset is refused', async () => {
    const { id } = await alice.datasets().getOrCreate('before-rename');
    await alice.datasets().getOrCreate('taken');
    await alice.keyValueStores().getOrCreate('store-name');
    const updated = await alice.dataset(id).update({ name: 'after-rename', title: 'My results', generalAccess: 'RESTRICTED' });
    expect(updated).toMatchObject({ id, name: 'after-rename', title: 'My results', generalAccess: 'RESTRICTED' });
    expect(await alice.dataset(id).get()).toMatchObject({
      name: 'after-rename',
      title: 'My results',
      generalAccess: 'RESTRICTED',
    });
    expect((await alice.dataset('alice/after-rename').get())?.id).toBe(id);
    expect(await alice.dataset('~before-rename').get()).toBeUndefined();

    const err = await apiError(alice.dataset(id).update({ name: 'taken' }));
    expect(err).toMatchObject({ statusCode: 400, type: 'name-not-unique' });
    expect((await alice.dataset(id).get())?.name).toBe('after-rename');
    // Names are unique per kind: a key-value store's name is free for a dataset.
    expect(await alice.dataset(id).update({ name: 'store-name' })).toMatchObject({ id, name: 'store-name' });
  });

  it('delete() removes the dataset and its items; deleting it again still resolves', async () => {
    const { id } = await alice.datasets().getOrCreate('to-delete');
    await alice.dataset(id).pushItems([{ a: 1 }, { a: 2 }]);
    await alice.dataset(id).delete();
    expect(await alice.dataset(id).get()).toBeUndefined();
    expect(await apiError(alice.dataset(id).listItems())).toMatchObject({ statusCode: 404, type: 'record-not-found' });
    await expect(alice.dataset(id).delete()).resolves.toBeUndefined();
    const again = await alice.datasets().getOrCreate('to-delete');
    expect(again.id).not.toBe(id);
    expect(again.itemCount).toBe(0);
  });

  it('getStatistics() answers for a dataset and is undefined for a missing one', async () => {
    const id = await datasetWith([{ price: 1 }, { price: 2 }]);
    const stats = await alice.dataset(id).getStatistics();
    expect(stats).toBeDefined();
    expect(stats).toHaveProperty('fieldStatistics');
    expect(await alice.dataset('aaaaaaaaaaaaaaaaa').getStatistics()).toBeUndefined();
  });

  it('a client without a token reads a dataset readable by id, cannot push, and never sees the signing key', async () => {
    const anonymous = clientFor(server.origin);
    const id = await datasetWith([{ open: true }]);
    expect((await anonymous.dataset(id).listItems()).items).toEqual([{ open: true }]);
    const seen = await anonymous.dataset(id).get();
    expect(seen?.id).toBe(id);
    expect(seen?.urlSigningSecretKey ?? null).toBeNull();
    expect(await apiError(anonymous.dataset(id).pushItems({ mine: true }))).toMatchObject({
      statusCode: 401,
      type: 'token-not-provided',
    });
    await alice.dataset(id).update({ generalAccess: 'RESTRICTED' });
    expect(await anonymous.dataset(id).get()).toBeUndefined();
    expect((await apiError(anonymous.dataset(id).listItems())).statusCode).toBe(404);
  });
});

describe('pushItems', () => {
  it('takes an object, an array of objects, a JSON string of either; itemCount counts every item', async () => {
    const { id } = await alice.datasets().getOrCreate();
    const ds = alice.dataset(id);
    await ds.pushItems({ n: 1 });
    await ds.pushItems([{ n: 2 }, { n: 3 }]);
    await ds.pushItems('{"n":4}');
    await ds.pushItems('[{"n":5},{"n":6}]');
    expect((await ds.listItems()).items).toEqual([1, 2, 3, 4, 5, 6].map((n) => ({ n })));
    expect(await ds.get()).toMatchObject({ itemCount: 6, cleanItemCount: 6 });
  });

  it('stores each item as the JSON text it was pushed as: number formatting, key order, unicode, big integers', async () => {
    const { id } = await alice.datasets().getOrCreate();
    const ds = alice.dataset(id);
    const raw = [
      '{"price":1.0,"b":2,"a":"Žluťoučký kůň 🐎 \\u00e9","big":12345678901234567890,"huge":1E400}',
      '{"z": [1.50, 2e3, -0.0], "y":{"nested":true,"empty":{}}}',
      // Valid JSON that a JSON column type would refuse or rewrite: NUL, a lone surrogate, U+2028.
      '{"text":"line\\nbreak \\"quoted\\" \\/ slash","null":null,"nul":"a\\u0000b","lone":"\\ud83d","sep":"\u2028"}',
    ];
    // Whitespace between the array elements belongs to no item.
    await ds.pushItems(`[\n  ${raw[0]},\n  ${raw[1]}\n]`);
    await ds.pushItems(raw[2]!);

    const page = await ds.listItems();
    expect(Object.keys(page.items[0]!)).toEqual(['price', 'b', 'a', 'big', 'huge']);
    expect(Object.keys(page.items[1]!)).toEqual(['z', 'y']);
    expect(page.items[0]).toMatchObject({ price: 1, a: 'Žluťoučký kůň 🐎 é' });

    const jsonl = await ds.downloadItems(DownloadItemsFormat.JSONL);
    expect(jsonl.toString('utf8')).toBe(`${raw.join('\n')}\n`);
    const asJson = (await ds.downloadItems(DownloadItemsFormat.JSON)).toString('utf8');
    for (const text of raw) expect(asJson).toContain(text);
    expect(JSON.parse(asJson)).toEqual(raw.map((t) => JSON.parse(t)));
  });

  it('refuses anything but an object or an array of objects with 400 invalid-value, storing nothing', async () => {
    const id = await datasetWith([{ kept: 1 }]);
    const ds = alice.dataset(id);
    for (const bad of ['[1,2]', '"text"', 'not json', '[{"a":1},2]', '[{"a":1},{"b":', '42', 'null']) {
      const err = await apiError(ds.pushItems(bad));
      expect(err, bad).toMatchObject({ statusCode: 400, type: 'invalid-value' });
      expect(err.message.length, bad).toBeGreaterThan(10);
    }
    // apify-client sends an array of strings as a JSON array of strings: not objects either.
    expect(await apiError(ds.pushItems(['{"a":1}']))).toMatchObject({ statusCode: 400, type: 'invalid-value' });
    expect((await ds.get())?.itemCount).toBe(1);
    expect((await ds.listItems()).items).toEqual([{ kept: 1 }]);
  });

  it("takes a body of exactly 9 MiB (Crawlee's MAX_PAYLOAD_SIZE_BYTES) and refuses one byte more with 413", async () => {
    const ds = alice.dataset(await datasetWith([]));
    const ofSize = (bytes: number) => {
      const head = '[{"pad":"';
      const tail = '"}]';
      return `${head}${'x'.repeat(bytes - head.length - tail.length)}${tail}`;
    };
    const limit = 9 * 1024 * 1024;
    const tooLarge = await apiError(ds.pushItems(ofSize(limit + 1)));
    expect(tooLarge.statusCode).toBe(413);
    expect((await ds.get())?.itemCount).toBe(0);
    await ds.pushItems(ofSize(limit));
    expect((await ds.get())?.itemCount).toBe(1);
  });
});

describe('listItems', () => {
  /** Items with hidden fields, empty items, nested objects and arrays. */
  const products = [
    { id: 0, name: 'Zero', price: 10, tags: ['a', 'b'], address: { city: 'Praha', zip: '11000' }, '#debug': { ms: 12 } },
    { id: 1, name: 'One', price: 20.5, tags: ['c'], address: { city: 'Brno' } },
    {},
    { id: 3, name: 'Three', price: 0, '#debug': 'x' },
    { id: 4, name: 'Four, "quoted"\nline', price: null },
    {},
    { id: 6, name: 'Šest 🐎', price: 7 },
  ];
  const withoutHidden = products.map((p) => without(p, ['#debug']));
  let id: string;

  beforeAll(async () => {
    id = await datasetWith(products);
  });

  it('returns every item with total, offset, count, limit and desc; cleanItemCount leaves out the empty ones', async () => {
    const page = await alice.dataset(id).listItems();
    expect(page.items).toEqual(products);
    expect(page).toMatchObject({ total: 7, offset: 0, count: 7, desc: false });
    // No limit asked: the header still holds a number, at least the total.
    expect(page.limit).toBeGreaterThanOrEqual(7);
    expect(await alice.dataset(id).get()).toMatchObject({ itemCount: 7, cleanItemCount: 5 });
  });

  it('answers the X-Apify-Pagination-* headers', async () => {
    const res = await fetchRaw(`${server.origin}/v2/datasets/${id}/items?offset=2&limit=3&desc=1`, {
      headers: { authorization: `Bearer ${server.token('alice')}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'x-apify-pagination-offset': '2',
      'x-apify-pagination-limit': '3',
      'x-apify-pagination-count': '3',
      'x-apify-pagination-total': '7',
      'x-apify-pagination-desc': 'true',
    });
    expect(json(res)).toEqual([...products].reverse().slice(2, 5));
  });

  it('limit=0 is no limit, as the API treats it (so says apify-client, which drops it from listItems)', async () => {
    const all = await alice.dataset(id).downloadItems(DownloadItemsFormat.JSON, { limit: 0 });
    expect(JSON.parse(all.toString('utf8'))).toEqual(products);
  });

  it('offset and limit', async () => {
    const page = await alice.dataset(id).listItems({ offset: 2, limit: 3 });
    expect(page.items).toEqual(products.slice(2, 5));
    expect(page).toMatchObject({ total: 7, offset: 2, limit: 3, count: 3, desc: false });
    const past = await alice.dataset(id).listItems({ offset: 10 });
    expect(past).toMatchObject({ items: [], total: 7, offset: 10, count: 0 });
  });

  it('desc, with offset and limit counted from the newest', async () => {
    const all = await alice.dataset(id).listItems({ desc: true });
    expect(all.items).toEqual([...products].reverse());
    expect(all.desc).toBe(true);
    const page = await alice.dataset(id).listItems({ desc: true, offset: 1, limit: 2 });
    expect(page.items).toEqual([{}, { id: 4, name: 'Four, "quoted"\nline', price: null }]);
    expect(page).toMatchObject({ total: 7, offset: 1, limit: 2, count: 2, desc: true });
  });

  it('fields picks those fields, in the order asked', async () => {
    const { items } = await alice.dataset(id).listItems({ fields: ['price', 'name'] });
    expect(items).toEqual(products.map((p) => ('id' in p ? { price: p.price, name: p.name } : {})));
    expect(Object.keys(items[0]!)).toEqual(['price', 'name']);
  });

  it('omit drops fields; with fields and omit naming the same field, omit wins', async () => {
    const { items } = await alice.dataset(id).listItems({ omit: ['tags', 'address', '#debug'] });
    expect(items).toEqual(products.map((p) => without(p, ['tags', 'address', '#debug'])));
    const both = await alice.dataset(id).listItems({ fields: ['name', 'price'], omit: ['price'], limit: 2 });
    expect(both.items).toEqual([{ name: 'Zero' }, { name: 'One' }]);
  });

  it('skipHidden drops the fields starting with #', async () => {
    const { items } = await alice.dataset(id).listItems({ skipHidden: true });
    expect(items).toEqual(withoutHidden);
  });

  it('skipEmpty drops empty items after paging, so a page may hold fewer than limit', async () => {
    const all = await alice.dataset(id).listItems({ skipEmpty: true });
    expect(all.items).toEqual(products.filter((p) => Object.keys(p).length > 0));
    expect(all).toMatchObject({ total: 7, count: 5 });
    const page = await alice.dataset(id).listItems({ skipEmpty: true, offset: 1, limit: 3 });
    expect(page.items).toEqual([products[1], products[3]]);
    expect(page).toMatchObject({ total: 7, offset: 1, limit: 3, count: 2 });
  });

  it('clean is skipHidden and skipEmpty together', async () => {
    const { items } = await alice.dataset(id).listItems({ clean: true });
    expect(items).toEqual(withoutHidden.filter((p) => Object.keys(p).length > 0));
  });

  it('flatten turns the nested objects of the fields named into dotted keys', async () => {
    const { items } = await alice.dataset(id).listItems({ flatten: ['address'], limit: 2 });
    expect(items).toEqual([
      { ...without(products[0]!, ['address']), 'address.city': 'Praha', 'address.zip': '11000' },
      { ...without(products[1]!, ['address']), 'address.city': 'Brno' },
    ]);
  });

  describe('unwind', () => {
    const orders = [
      {
        order: 1,
        lines: [
          { sku: 'A', qty: 1 },
          { sku: 'B', qty: 2 },
        ],
      },
      { order: 2, lines: { sku: 'C', qty: 3 } },
      { order: 3 },
      { order: 4, lines: 'none' },
    ];
    let ordersId: string;
    beforeAll(async () => {
      ordersId = await datasetWith(orders);
    });

    it('makes one item per array element merged into its parent, merges an object, keeps the rest as it is', async () => {
      const { items } = await alice.dataset(ordersId).listItems({ unwind: 'lines' });
      expect(items).toEqual([
        { order: 1, sku: 'A', qty: 1 },
        { order: 1, sku: 'B', qty: 2 },
        { order: 2, sku: 'C', qty: 3 },
        { order: 3 },
        { order: 4, lines: 'none' },
      ]);
    });

    it('pages by stored item, and desc does not reverse the unwound elements', async () => {
      const first = await alice.dataset(ordersId).listItems({ unwind: ['lines'], limit: 1 });
      expect(first.items).toEqual([
        { order: 1, sku: 'A', qty: 1 },
        { order: 1, sku: 'B', qty: 2 },
      ]);
      expect(first).toMatchObject({ total: 4, offset: 0, limit: 1, count: 2 });
      const desc = await alice.dataset(ordersId).listItems({ unwind: 'lines', desc: true, offset: 2 });
      expect(desc.items).toEqual([
        { order: 2, sku: 'C', qty: 3 },
        { order: 1, sku: 'A', qty: 1 },
        { order: 1, sku: 'B', qty: 2 },
      ]);
    });
  });

  it('chunkSize: the async iteration fetches pages of that size, honouring offset and limit', async () => {
    const recorder: Recorder = await startRecorder(server.origin);
    try {
      const viaRecorder = clientFor(recorder.origin, server.token('alice'));
      const seen: unknown[] = [];
      for await (const item of viaRecorder.dataset(id).listItems({ chunkSize: 2, offset: 1, limit: 5 })) seen.push(item);
      expect(seen).toEqual(products.slice(1, 6));
      // apify-client sends chunkSize along: openkvs ignores it, as the API does.
      const path = `/v2/datasets/${id}/items`;
      expect(recorder.requests.map(pathAndQuery)).toEqual([
        { path, query: { chunkSize: '2', offset: '1', limit: '2' }, status: 200 },
        { path, query: { chunkSize: '2', offset: '3', limit: '2' }, status: 200 },
        { path, query: { chunkSize: '2', offset: '5', limit: '1' }, status: 200 },
      ]);
      const everything: unknown[] = [];
      for await (const item of viaRecorder.dataset(id).listItems({ chunkSize: 3 })) everything.push(item);
      expect(everything).toEqual(products);
    } finally {
      await recorder.close();
    }
  });

  it('view is refused with 400 while the dataset has no schema with views', async () => {
    const err = await apiError(alice.dataset(id).listItems({ view: 'overview' }));
    expect(err.statusCode).toBe(400);
  });

  it('view applies a view of the schema getOrCreate was given, in listItems and downloadItems', async () => {
    const schema = {
      actorSpecification: 1,
      fields: {},
      views: {
        overview: { title: 'Overview', transformation: { fields: ['name', 'price'] }, display: { component: 'table' } },
      },
    };
    const { id: withViews } = await alice.datasets().getOrCreate('with-views', { schema });
    await alice.dataset(withViews).pushItems(products);
    const { items } = await alice.dataset(withViews).listItems({ view: 'overview', limit: 2 });
    expect(items).toEqual([
      { name: 'Zero', price: 10 },
      { name: 'One', price: 20.5 },
    ]);
    expect(Object.keys(items[0]!)).toEqual(['name', 'price']);
    const csv = await alice.dataset(withViews).downloadItems(DownloadItemsFormat.CSV, { view: 'overview', limit: 1, bom: false });
    expect(parse(csv)).toEqual([
      ['name', 'price'],
      ['Zero', '10'],
    ]);
    expect((await apiError(alice.dataset(withViews).listItems({ view: 'detail' }))).statusCode).toBe(400);
  });
});

describe('createItemsPublicUrl', () => {
  const secret = [{ row: 1, '#note': 'hidden' }, { row: 2 }, {}, { row: 4 }];
  let restricted: string;

  beforeAll(async () => {
    restricted = await datasetWith(secret);
    await alice.dataset(restricted).update({ generalAccess: 'RESTRICTED' });
  });

  it('gives a link that reads a RESTRICTED dataset without a token, and only with its signature', async () => {
    const url = await alice.dataset(restricted).createItemsPublicUrl();
    expect(url).toMatch(new RegExp(`^${server.origin}/v2/datasets/${restricted}/items\\?signature=[\\w-]+$`));
    const res = await fetchRaw(url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(json(res)).toEqual(secret);
    const unsigned = await fetchRaw(url.replace(/\?.*$/, ''));
    expect(unsigned.status).toBe(404);
    expect(unsigned.body.toString()).not.toContain('hidden');
    // A signature is for the dataset it was made for.
    const other = await datasetWith([{ other: true }]);
    await alice.dataset(other).update({ generalAccess: 'RESTRICTED' });
    const borrowed = await fetchRaw(url.replace(restricted, other));
    expect(borrowed.status).toBeGreaterThanOrEqual(400);
    expect(borrowed.body.toString()).not.toContain('other');
  });

  it("the dataset's itemsPublicUrl opens its items without a token", async () => {
    const { itemsPublicUrl } = (await alice.dataset(restricted).get())!;
    expect(itemsPublicUrl.startsWith(`${server.origin}/v2/datasets/${restricted}/items?`)).toBe(true);
    const res = await fetchRaw(itemsPublicUrl);
    expect(res.status).toBe(200);
    expect(json(res)).toEqual(secret);
  });

  it('carries the listItems options into the link, and a format works on it too', async () => {
    const url = await alice.dataset(restricted).createItemsPublicUrl({ clean: true, desc: true, limit: 2, fields: ['row'] });
    const res = await fetchRaw(url);
    expect(res.status).toBe(200);
    expect(json(res)).toEqual([{ row: 4 }]);
    expect(res.headers).toMatchObject({ 'x-apify-pagination-total': '4', 'x-apify-pagination-limit': '2' });
    const csv = await fetchRaw(`${await alice.dataset(restricted).createItemsPublicUrl({ clean: true })}&format=csv&bom=0`);
    expect(csv.status).toBe(200);
    expect(parse(csv.body)).toEqual([['row'], ['1'], ['2'], ['4']]);
  });

  it('a token-less apify-client reads the items with the signature of that link', async () => {
    const signature = new URL(await alice.dataset(restricted).createItemsPublicUrl()).searchParams.get('signature') ?? '';
    const anonymous = clientFor(server.origin).dataset(restricted);
    expect((await anonymous.listItems({ signature, offset: 1 })).items).toEqual(secret.slice(1));
    const seen: unknown[] = [];
    for await (const item of anonymous.listItems({ signature, chunkSize: 1 })) seen.push(item);
    expect(seen).toEqual(secret);
    const xml = await anonymous.downloadItems(DownloadItemsFormat.XML, { signature });
    expect(xml.toString()).toContain('<row>4</row>');
    expect((await apiError(anonymous.listItems())).statusCode).toBe(404);
  });

  it('with expiresInSecs works until it expires; an expired link is refused', async () => {
    const lasting = await alice.dataset(restricted).createItemsPublicUrl({ expiresInSecs: 3600, limit: 1 });
    const res = await fetchRaw(lasting);
    expect(res.status).toBe(200);
    expect(json(res)).toEqual(secret.slice(0, 1));
    // apify-client signs expiresAt = now + expiresInSecs: a negative one is already past.
    const expired = await fetchRaw(await alice.dataset(restricted).createItemsPublicUrl({ expiresInSecs: -60 }));
    expect(expired.status).toBe(403);
    expect(json<{ error: { type: string } }>(expired).error.type).toBe('insufficient-permissions');
  });
});
