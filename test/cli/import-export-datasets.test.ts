import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryStorage } from '@crawlee/memory-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreRow } from '../../src/model.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { openStorage, type StorageSpec } from '../../src/storage/open.js';
import { storeRow } from '../conformance/suite.js';
import { onCleanup } from '../helpers/cli.js';
import { freshSchema } from '../helpers/postgres.js';
import { cleanupAll, ensureBuilt, lastLine, runCli, tempDir } from './helpers.js';

/** The storage of the drivers' run (a SQLite file, a PostgreSQL schema); every command runs on it as its own process. */
let cwd: string;
let storage: string;
let spec: StorageSpec;

afterAll(cleanupAll);

/** Standard error without the progress lines a slow run writes every two seconds. */
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '' && !/^(import|export): \d+\/\d+ /.test(l));

const cli = (args: string[]) => runCli([...args, '--storage', storage], { cwd, timeoutMs: 120_000 });

/** The storage as the commands left it, opened in this process for the checks. */
async function withDriver<T>(fn: (driver: StorageDriver) => Promise<T>): Promise<T> {
  const driver = await openStorage(spec);
  try {
    return await fn(driver);
  } finally {
    await driver.close();
  }
}

async function datasetOf(username: string, name: string): Promise<StoreRow | undefined> {
  return withDriver(async (d) => {
    const user = await d.getUserByName(username);
    return user && d.getStoreByName(user.id, name, 'dataset');
  });
}

async function itemsOf(datasetId: string): Promise<string[]> {
  return withDriver(async (d) => {
    const items: string[] = [];
    for (
      let page = await d.readItems(datasetId, 0, 1000);
      page.length > 0;
      page = await d.readItems(datasetId, items.length, 1000)
    ) {
      items.push(...page);
    }
    return items;
  });
}

/** Items of every shape a scraper writes: nesting, escapes, extreme numbers, hidden fields, integer-like keys. */
const VARIED: Record<string, unknown>[] = [
  { url: 'https://example.com/1', title: 'héllo — “quotes”', price: 12.5, tags: ['a', 'b'], nested: { deep: [1, { x: null }] } },
  { '#debug': { retries: 2 }, '#hidden': true },
  {},
  { big: 1.5e300, tiny: 5e-324, negativeZero: -0, unsafe: 2 ** 53 + 2, fraction: 0.1 + 0.2 },
  { text: 'line\nbreak\ttab "q" \\ \u2028 🙂 \u0001', empty: '', list: [], object: {} },
  { b: 1, 10: 'an integer-like key', 2: 'JavaScript puts these first' },
];
const product = (i: number): Record<string, unknown> =>
  i % 100 === 0 ? { '#only-hidden': i } : { i, url: `https://example.com/p/${i}`, title: `Product ${i}`, price: i / 4 };
/** More than two pushes and two pages of 1,000. */
const PRODUCTS = 2100;
const isClean = (item: Record<string, unknown>) => Object.keys(item).some((k) => !k.startsWith('#'));

/** Writes datasets with @crawlee/memory-storage as Crawlee does (a JSON array text per push) and waits until they are on disk. */
async function writeWithCrawlee(writeMetadata: boolean): Promise<string> {
  const dir = tempDir();
  const local = new MemoryStorage({ localDataDirectory: dir, persistStorage: true, writeMetadata });
  const { id: defaultId } = await local.datasets().getOrCreate('default');
  await local.dataset(defaultId).pushItems(JSON.stringify(VARIED));
  const { id: productsId } = await local.datasets().getOrCreate('products');
  const products = Array.from({ length: PRODUCTS }, (_, i) => product(i));
  for (let i = 0; i < PRODUCTS; i += 700) await local.dataset(productsId).pushItems(JSON.stringify(products.slice(i, i + 700)));
  await local.teardown();
  return dir;
}

/** Every file under `dir`, as relative paths. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe.each(['sqlite', 'postgres'] as const)('on %s', (driver) => {
  beforeAll(async () => {
    ensureBuilt();
    cwd = tempDir();
    if (driver === 'sqlite') {
      const path = join(cwd, 'kvs.sqlite');
      storage = `sqlite:${path}`;
      spec = { kind: 'sqlite', path };
    } else {
      const schema = await freshSchema();
      onCleanup(schema.drop);
      storage = schema.url;
      spec = { kind: 'postgres', url: schema.url };
    }
    const bob = await runCli(['users', 'create', 'bob', '--storage', storage], { cwd });
    expect(bob.code, bob.stderr).toBe(0);
  });

  describe('datasets in the Crawlee layout', () => {
    let crawlee: string;
    let exported: string;

    it('import stores each item as Crawlee pushes it, in file order, with exact counts', async () => {
      crawlee = await writeWithCrawlee(true);
      const result = await cli(['import', crawlee]);
      expect(result.code, result.stderr).toBe(0);
      expect(warnings(result.stderr)).toEqual([]);
      expect(lastLine(result.stdout)).toMatch(new RegExp(`^Imported ${VARIED.length + PRODUCTS} items into 2 datasets in `));

      for (const [name, items] of [
        ['default', VARIED],
        ['products', Array.from({ length: PRODUCTS }, (_, i) => product(i))],
      ] as const) {
        const dataset = (await datasetOf('admin', name))!;
        expect(dataset, name).toBeDefined();
        expect(dataset.itemCount, name).toBe(items.length);
        expect(dataset.cleanItemCount, name).toBe(items.filter(isClean).length);
        // What Crawlee's Dataset.pushData sends the API for each item: JSON.stringify(item).
        expect(await itemsOf(dataset.id), name).toEqual(items.map((item) => JSON.stringify(item)));
      }
    });

    it('export writes the folders byte for byte as Crawlee wrote them; only the metadata ids and times are openkvs’s', async () => {
      exported = tempDir();
      const result = await cli(['export', exported, '--dataset', 'default', '--dataset', 'products']);
      expect(result.code, result.stderr).toBe(0);
      expect(warnings(result.stderr)).toEqual([]);
      expect(lastLine(result.stdout)).toMatch(new RegExp(`^Exported ${VARIED.length + PRODUCTS} items of 2 datasets in `));

      const source = join(crawlee, 'datasets');
      const target = join(exported, 'datasets');
      expect(filesUnder(target)).toEqual(filesUnder(source));
      for (const file of filesUnder(source)) {
        if (file.endsWith('__metadata__.json')) continue;
        expect(readFileSync(join(target, file)).equals(readFileSync(join(source, file))), file).toBe(true);
      }
      for (const name of ['default', 'products']) {
        const dataset = (await datasetOf('admin', name))!;
        const theirs = JSON.parse(readFileSync(join(source, name, '__metadata__.json'), 'utf8'));
        const iso = (ms: number) => new Date(ms).toISOString();
        const ours = {
          ...theirs,
          id: dataset.id,
          accessedAt: iso(dataset.accessedAt),
          createdAt: iso(dataset.createdAt),
          modifiedAt: iso(dataset.modifiedAt),
        };
        expect(readFileSync(join(target, name, '__metadata__.json'), 'utf8'), name).toBe(JSON.stringify(ours, null, '\t'));
      }
    });

    it('memory-storage reads the exported datasets', async () => {
      const local = new MemoryStorage({ localDataDirectory: exported, persistStorage: false });
      const products = await local.dataset('products').listItems({ limit: 5000 });
      expect(products.total).toBe(PRODUCTS);
      expect(products.items).toEqual(Array.from({ length: PRODUCTS }, (_, i) => product(i)));
      const varied = await local.dataset('default').listItems();
      expect(varied.items).toEqual(JSON.parse(JSON.stringify(VARIED)));
    });

    it('with memory-storage’s default settings (no metadata files) the item files are the same bytes too', async () => {
      const dir = await writeWithCrawlee(false);
      const imported = await cli(['import', dir, '--user', 'bob']);
      expect(imported.code, imported.stderr).toBe(0);
      const out = tempDir();
      const result = await cli(['export', out, '--user', 'bob']);
      expect(result.code, result.stderr).toBe(0);
      const source = join(dir, 'datasets');
      const target = join(out, 'datasets');
      // Export always writes the dataset's metadata, as it does the store's.
      expect(filesUnder(target)).toEqual(
        [...filesUnder(source), 'default/__metadata__.json', 'products/__metadata__.json'].sort(),
      );
      for (const file of filesUnder(source)) {
        expect(readFileSync(join(target, file)).equals(readFileSync(join(source, file))), file).toBe(true);
      }
    });
  });

  describe('import', () => {
    it('refuses a dataset that already has items, writing nothing; --append adds after them', async () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'datasets', 'twice'), { recursive: true });
      mkdirSync(join(dir, 'key_value_stores', 'beside'), { recursive: true });
      writeFileSync(join(dir, 'key_value_stores', 'beside', 'k.txt'), 'v');
      writeFileSync(join(dir, 'datasets', 'twice', '000000001.json'), '{"n":1}');
      writeFileSync(join(dir, 'datasets', 'twice', '000000002.json'), '{"n":2}');
      expect((await cli(['import', dir])).code).toBe(0);

      const again = await cli(['import', dir]);
      expect(again.code).not.toBe(0);
      expect(again.stderr.trim().split('\n')).toHaveLength(1);
      expect(again.stderr).toMatch(/"twice" already has 2 items.*--append/);
      const dataset = (await datasetOf('admin', 'twice'))!;
      expect(dataset.itemCount).toBe(2);

      const appended = await cli(['import', dir, '--append', '--dataset', 'twice']);
      expect(appended.code, appended.stderr).toBe(0);
      expect(lastLine(appended.stdout)).toMatch(/^Imported 2 items into 1 dataset in /);
      expect(await itemsOf(dataset.id)).toEqual(['{"n":1}', '{"n":2}', '{"n":1}', '{"n":2}']);
    });

    it('--store and --dataset import only what they name', async () => {
      const dir = tempDir();
      for (const name of ['picked', 'left']) {
        mkdirSync(join(dir, 'datasets', name), { recursive: true });
        writeFileSync(join(dir, 'datasets', name, '000000001.json'), `{"from":"${name}"}`);
        mkdirSync(join(dir, 'key_value_stores', `store-${name}`), { recursive: true });
        writeFileSync(join(dir, 'key_value_stores', `store-${name}`, 'k.txt'), name);
      }
      const onlyDataset = await cli(['import', dir, '--user', 'bob', '--dataset', 'picked']);
      expect(onlyDataset.code, onlyDataset.stderr).toBe(0);
      expect(lastLine(onlyDataset.stdout)).toMatch(/^Imported 1 items into 1 dataset in /);
      expect(await datasetOf('bob', 'picked')).toBeDefined();
      expect(await datasetOf('bob', 'left')).toBeUndefined();

      const onlyStore = await cli(['import', dir, '--user', 'bob', '--store', 'store-picked']);
      expect(onlyStore.code, onlyStore.stderr).toBe(0);
      expect(lastLine(onlyStore.stdout)).toMatch(/^Imported 1 records into 1 store in /);
      expect(await datasetOf('bob', 'left')).toBeUndefined();

      const missing = await cli(['import', dir, '--dataset', 'no-such-folder']);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/no dataset folder .*no-such-folder/);
    });

    it('reports and skips files that are not items, and notes a gap in the numbers', async () => {
      const dir = tempDir();
      const folder = join(dir, 'datasets', 'messy');
      mkdirSync(folder, { recursive: true });
      mkdirSync(join(dir, 'datasets', 'Not_A_Name'));
      writeFileSync(join(folder, '000000001.json'), '{ "a" : 1.0 , "big" : 12345678901234567890 }\n');
      writeFileSync(join(folder, '000000002.json'), '[{"an":"array"}]');
      writeFileSync(join(folder, '000000003.json'), '{not json');
      writeFileSync(join(folder, '000000005.json'), '\ufeff{"after":"a gap","#h":1}');
      // As deep as a push takes, and one level deeper.
      writeFileSync(join(folder, '000000006.json'), `{"a":${'['.repeat(127)}${']'.repeat(127)}}`);
      writeFileSync(join(folder, '000000007.json'), `{"a":${'['.repeat(128)}${']'.repeat(128)}}`);
      writeFileSync(join(folder, '1.json'), '{"x":1}');
      writeFileSync(join(folder, 'notes.txt'), 'hello');
      writeFileSync(join(folder, '__metadata__.json'), '{"id":"x","name":"messy","itemCount":5}');

      const result = await cli(['import', dir]);
      expect(result.code, result.stderr).toBe(0);
      const lines = warnings(result.stderr);
      expect(lines).toHaveLength(7);
      expect(result.stderr).toMatch(/skipped .*Not_A_Name: "Not_A_Name" is not a valid dataset name/);
      expect(result.stderr).toMatch(/skipped .*1\.json: not an item file/);
      expect(result.stderr).toMatch(/skipped .*notes\.txt: not an item file/);
      expect(result.stderr).toMatch(/000000004\.json: missing; the items are imported in file order/);
      expect(result.stderr).toMatch(/skipped .*000000002\.json: not a JSON object/);
      expect(result.stderr).toMatch(/skipped .*000000003\.json: not JSON/);
      expect(result.stderr).toMatch(/skipped .*000000007\.json: JSON nested deeper than 128 levels/);
      expect(lastLine(result.stdout)).toMatch(
        /^Imported 3 items into 1 dataset in .*; skipped 6 \(listed on standard error\)\.$/,
      );

      const dataset = (await datasetOf('admin', 'messy'))!;
      // Numbers, key order and spelling as written; only the whitespace outside strings is gone.
      expect(await itemsOf(dataset.id)).toEqual([
        '{"a":1.0,"big":12345678901234567890}',
        '{"after":"a gap","#h":1}',
        `{"a":${'['.repeat(127)}${']'.repeat(127)}}`,
      ]);
      expect(dataset.cleanItemCount).toBe(3);
    });

    it('fails with one line when DIR has no key_value_stores, datasets or request_queues', async () => {
      const result = await cli(['import', tempDir()]);
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/key_value_stores, datasets or request_queues/);
    });
  });

  describe('export', () => {
    let unnamed: StoreRow;
    // Pushed by a client that is not JavaScript: tokens JavaScript would write differently.
    const texts = ['{"id":12345678901234567890,"price":1.50,"name":"caf\\u00e9"}', '{"z":1,"a":{"nested":[]}}'];

    beforeAll(async () => {
      unnamed = await withDriver(async (d) => {
        const user = (await d.getUserByName('bob'))!;
        const now = Date.now();
        const { store } = await d.createStore(storeRow(user.id, null, 'dataset'));
        expect(await d.pushItems(store.id, texts, 2, now)).toBe('ok');
        return store;
      });
    });

    it('writes an unnamed dataset, picked by id, to a folder named after it, its items’ tokens as stored', async () => {
      const dir = tempDir();
      const result = await cli(['export', dir, '--user', 'bob', '--dataset', unnamed.id]);
      expect(result.code, result.stderr).toBe(0);
      expect(readdirSync(join(dir, 'datasets'))).toEqual([unnamed.id]);
      expect(readdirSync(dir)).toEqual(['datasets']);
      const folder = join(dir, 'datasets', unnamed.id);
      expect(readFileSync(join(folder, '000000001.json'), 'utf8')).toBe(
        '{\n\t"id": 12345678901234567890,\n\t"price": 1.50,\n\t"name": "caf\\u00e9"\n}',
      );
      expect(readFileSync(join(folder, '000000002.json'), 'utf8')).toBe('{\n\t"z": 1,\n\t"a": {\n\t\t"nested": []\n\t}\n}');
      const metadata = JSON.parse(readFileSync(join(folder, '__metadata__.json'), 'utf8'));
      expect(metadata).toMatchObject({ id: unnamed.id, itemCount: 2 });
      expect('name' in metadata).toBe(false);

      // Crawlee reads it by the folder's name, and gets what a client reading the dataset would parse.
      const local = new MemoryStorage({ localDataDirectory: dir, persistStorage: false });
      expect((await local.dataset(unnamed.id).listItems()).items).toEqual(texts.map((t) => JSON.parse(t)));
    });

    it('refuses a dataset folder that already has files, and writes nothing', async () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'datasets', 'products'), { recursive: true });
      writeFileSync(join(dir, 'datasets', 'products', 'stale.json'), '{}');
      const result = await cli(['export', dir]);
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/products/);
      expect(readdirSync(dir)).toEqual(['datasets']);
      expect(readdirSync(join(dir, 'datasets'))).toEqual(['products']);

      const missing = await cli(['export', tempDir(), '--dataset', 'no-such-dataset']);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/no dataset named or with the id "no-such-dataset"/);
    });
  });
});
