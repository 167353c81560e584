/**
 * Import/export benchmark: how fast does `openkvs import` load a Crawlee storage folder, and
 * `openkvs export` write one, against the baseline of the same records written in process through
 * the domain (`kvs.records.put`, no files)? The target is 5,000 records/s for 100,000 records.
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node dist-bench/bench/cli-import.js [--records 100000] [--metadata] [--keep]
 *
 * `--metadata` also writes a memory-storage metadata file per record (what `writeMetadata` does).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createKvs } from '../src/domain/index.js';
import { SqliteDriver } from '../src/storage/sqlite/index.js';

const { values: opts } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    metadata: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const n = Number(opts.records);
const TARGET = 5000;
/** The built command (`npm run build`), as an operator runs it. */
const CLI = fileURLToPath(new URL('../../dist/bin/openkvs.js', import.meta.url));
const CONTENT_TYPE = 'application/json; charset=utf-8';

const dir = mkdtempSync(join(os.tmpdir(), 'openkvs-bench-cli-'));
const keyOf = (i: number) => `record-${String(i).padStart(7, '0')}`;
const recordValue = (i: number) =>
  Buffer.from(JSON.stringify({ i, url: `https://example.com/page/${i}`, title: 'x'.repeat(80) }));

/** Records per second of `fn`, run once. */
async function rate(fn: () => Promise<void> | void): Promise<{ seconds: number; perSecond: number }> {
  const start = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, perSecond: n / seconds };
}

function cli(args: string[]): void {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0) throw new Error(`openkvs ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
}

try {
  const folder = join(dir, 'in', 'key_value_stores', 'bench');
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < n; i++) {
    const key = keyOf(i);
    writeFileSync(join(folder, `${key}.json`), recordValue(i));
    if (opts.metadata) {
      const meta = JSON.stringify({ extension: 'json', key, contentType: CONTENT_TYPE });
      writeFileSync(join(folder, `${key}.__metadata__.json`), JSON.stringify(meta));
    }
  }

  // Baseline: the same records through the domain in process, from memory, one after the other.
  const baseline = await rate(async () => {
    const driver = new SqliteDriver({ path: join(dir, 'baseline.sqlite') });
    const kvs = createKvs({ driver, publicUrl: () => '' });
    const user = (await kvs.users.create('bench')).user;
    const { store: api } = await kvs.stores.getOrCreate(user, 'bench', undefined);
    const store = (await driver.getStore(api.id))!;
    for (let i = 0; i < n; i++) {
      const value = recordValue(i);
      await kvs.records.put(store, keyOf(i), {
        contentType: CONTENT_TYPE,
        contentEncoding: null,
        body: (async function* () {
          yield value;
        })(),
        decodedSize: () => value.length,
        etag: () => 'baseline',
      });
    }
    await kvs.close();
    await driver.close();
  });
  const storage = `sqlite:${join(dir, 'cli.sqlite')}`;
  const imported = await rate(() => cli(['import', join(dir, 'in'), '--storage', storage]));
  const exported = await rate(() => cli(['export', join(dir, 'out'), '--storage', storage]));

  const rows = [
    ['in process through the domain (baseline)', baseline],
    ['openkvs import (whole command)', imported],
    ['openkvs export (whole command)', exported],
  ] as const;
  console.log(`${n.toLocaleString('en')} records of ~150 bytes${opts.metadata ? ', with a metadata file each' : ''}`);
  for (const [name, r] of rows) {
    const ratio = (r.perSecond / baseline.perSecond).toFixed(2);
    console.log(
      `${name.padEnd(42)} ${r.seconds.toFixed(1).padStart(6)} s ${Math.round(r.perSecond).toLocaleString('en').padStart(8)} records/s  ×${ratio}`,
    );
  }
  console.log(
    `import target ${TARGET.toLocaleString('en')} records/s: ${imported.perSecond >= TARGET ? 'met' : 'NOT met'} ` +
      `(×${(imported.perSecond / TARGET).toFixed(2)})`,
  );
} finally {
  if (opts.keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
