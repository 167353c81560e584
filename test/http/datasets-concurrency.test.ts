/**
 * Concurrent pushers in process, on the driver of the project (both run): 20 clients push 50 times
 * each, all at once, while readers read the whole dataset. Afterwards every push's items are
 * contiguous and in order, each client's pushes in the order it made them, nothing is lost or
 * duplicated, and itemCount and cleanItemCount are exact. Every read made meanwhile saw whole
 * pushes only (a push is atomic).
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

const CLIENTS = 20;
const PUSHES = 50;
const READERS = 4;

let ctx: TestContext;
let id: string;

beforeAll(async () => {
  ctx = await createTestContext();
  const res = await ctx.request({ method: 'POST', url: '/v2/datasets?name=crowded', token: ctx.alice });
  expect(res.statusCode).toBe(201);
  id = res.json().data.id;
});
afterAll(() => ctx.close());

/** Push `p` of client `c`: 1 to 4 items; every fifth push starts with an item of hidden fields only. */
function itemsOf(c: number, p: number): Record<string, unknown>[] {
  const n = 1 + ((c * 7 + p) % 4);
  return Array.from({ length: n }, (_, i) =>
    i === 0 && p % 5 === 0 ? { '#c': c, '#p': p, '#i': i } : { c, p, i, pad: 'x'.repeat((c * 31 + p * 17 + i) % 200) },
  );
}

/** Which push an item belongs to, hidden or not. */
function tagOf(item: Record<string, unknown>): { c: number; p: number; i: number } {
  const c = (item.c ?? item['#c']) as number;
  const p = (item.p ?? item['#p']) as number;
  const i = (item.i ?? item['#i']) as number;
  return { c, p, i };
}

/** The ways a client names the dataset: all three reach the same one. */
const refs = () => [id, '~crowded', 'alice~crowded'];

async function pushAs(c: number, p: number): Promise<void> {
  const items = itemsOf(c, p);
  const text = JSON.stringify(items.length === 1 ? items[0] : items);
  const gzip = (c + p) % 3 === 0;
  const res = await ctx.request({
    method: 'POST',
    url: `/v2/datasets/${refs()[c % 3]}/items`,
    token: ctx.alice,
    headers: { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
    payload: gzip ? gzipSync(text) : text,
  });
  expect(res.statusCode, res.body).toBe(201);
}

async function readAll(): Promise<Record<string, unknown>[]> {
  const res = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}/items`, token: ctx.alice });
  expect(res.statusCode).toBe(200);
  const items = res.json() as Record<string, unknown>[];
  expect(res.headers['x-apify-pagination-total']).toBe(String(items.length));
  return items;
}

/** The problems with a read: items of a push that is not whole or not contiguous, or out of order. */
function problemsOf(items: Record<string, unknown>[]): string[] {
  const problems: string[] = [];
  const starts = new Map<string, number>();
  const seen = new Set<string>();
  for (let at = 0; at < items.length; ) {
    const { c, p, i } = tagOf(items[at] as Record<string, unknown>);
    const n = itemsOf(c, p).length;
    if (i !== 0) {
      problems.push(`position ${at}: item ${i} of push ${c}/${p} does not follow the push's earlier items`);
      at++;
      continue;
    }
    if (seen.has(`${c}/${p}`)) problems.push(`push ${c}/${p} appears twice`);
    seen.add(`${c}/${p}`);
    const got = items.slice(at, at + n);
    if (JSON.stringify(got) !== JSON.stringify(itemsOf(c, p)))
      problems.push(`position ${at}: push ${c}/${p} is not whole and contiguous: ${JSON.stringify(got).slice(0, 200)}`);
    starts.set(`${c}/${p}`, at);
    at += n;
  }
  // A client pushes one after the other: its pushes land in that order.
  for (let c = 0; c < CLIENTS; c++) {
    let last = -1;
    for (let p = 0; p < PUSHES; p++) {
      const start = starts.get(`${c}/${p}`);
      if (start === undefined) continue;
      if (start < last) problems.push(`client ${c}: push ${p} landed before push ${p - 1}`);
      last = start;
    }
  }
  return problems;
}

it(`${CLIENTS} clients × ${PUSHES} pushes at once: each push contiguous and in order, nothing lost or duplicated`, async () => {
  let pushing = true;
  let reads = 0;
  const readProblems: string[] = [];
  const readers = Array.from({ length: READERS }, async () => {
    while (pushing) {
      // In process, a read completes without leaving the microtask queue: let the pushes' I/O run.
      await new Promise((resolve) => setImmediate(resolve));
      const items = await readAll();
      reads++;
      // A read in the middle shows whole pushes only; a client's later pushes may be missing.
      const problems = problemsOf(items);
      if (problems.length > 0 && readProblems.length < 10)
        readProblems.push(`read ${reads} of ${items.length} items: ${problems.slice(0, 3).join('; ')}`);
    }
  });
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    for (let p = 0; p < PUSHES; p++) await pushAs(c, p);
  });
  try {
    await Promise.all(clients);
  } finally {
    pushing = false;
    await Promise.all(readers);
  }
  console.info(`${reads} reads while pushing`);
  expect(readProblems).toEqual([]);

  const all = await readAll();
  const expected = Array.from({ length: CLIENTS }, (_, c) => Array.from({ length: PUSHES }, (_, p) => itemsOf(c, p))).flat(2);
  expect(all).toHaveLength(expected.length);
  expect(problemsOf(all)).toEqual([]);
  const tags = new Set(all.map((item) => JSON.stringify(tagOf(item))));
  expect(tags.size, 'no item is duplicated').toBe(expected.length);

  const ds = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}`, token: ctx.alice });
  const clean = expected.filter((item) => Object.keys(item).some((k) => !k.startsWith('#'))).length;
  expect([ds.json().data.itemCount, ds.json().data.cleanItemCount]).toEqual([expected.length, clean]);

  // Pages at any offset agree with the whole read.
  const paged: unknown[] = [];
  for (let offset = 0; offset < expected.length; offset += 137) {
    const page = await ctx.request({
      method: 'GET',
      url: `/v2/datasets/${id}/items?offset=${offset}&limit=137`,
      token: ctx.alice,
    });
    paged.push(...page.json());
  }
  expect(paged).toEqual(all);
}, 120_000);

it('pushes racing a delete of their dataset: each is stored whole before it or refused after it, never half', async () => {
  const create = async (name: string) =>
    (await ctx.request({ method: 'POST', url: `/v2/datasets?name=${name}`, token: ctx.alice })).json().data.id as string;
  const doomed = await create('doomed');
  const other = await create('bystander');
  const push = (target: string, c: number, p: number) =>
    ctx.request({
      method: 'POST',
      url: `/v2/datasets/${target}/items`,
      token: ctx.alice,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(itemsOf(c, p)),
    });
  // The delete goes out once client 0 has had 10 pushes acknowledged, while the others are mid-way;
  // client 0 waits for it, so its later pushes come after it.
  let tenth: () => void = () => undefined;
  const tenthDone = new Promise<void>((resolve) => {
    tenth = resolve;
  });
  const deleted = tenthDone.then(() => ctx.request({ method: 'DELETE', url: `/v2/datasets/${doomed}`, token: ctx.alice }));
  const statuses: number[][] = Array.from({ length: 10 }, () => []);
  const clients = Array.from({ length: 10 }, async (_, c) => {
    for (let p = 0; p < 30; p++) {
      const [d, o] = await Promise.all([push(doomed, c, p), push(other, c, p)]);
      statuses[c]?.push(d.statusCode);
      if (d.statusCode !== 201) expect(d.json().error.type, d.body).toBe('record-not-found');
      expect(o.statusCode, o.body).toBe(201);
      if (c === 0 && p === 9) {
        tenth();
        await deleted;
      }
    }
  });
  await Promise.all(clients);
  expect((await deleted).statusCode).toBe(204);
  expect(statuses.flat().filter((s) => s !== 201 && s !== 404)).toEqual([]);
  expect(statuses[0], "client 0's pushes before the delete are stored, those after it refused").toEqual([
    ...new Array(10).fill(201),
    ...new Array(20).fill(404),
  ]);
  // Once refused, a client's pushes stay refused: the dataset does not come back.
  for (const s of statuses) expect(s.slice(s.indexOf(404)).every((x) => x === 404) || !s.includes(404)).toBe(true);

  // Nothing of the deleted dataset lingers, and the bystander holds every push, whole and in order.
  const gone = await ctx.request({ method: 'GET', url: `/v2/datasets/${doomed}/items`, token: ctx.alice });
  expect(gone.statusCode).toBe(404);
  const again = await create('doomed');
  expect(again).not.toBe(doomed);
  const fresh = await ctx.request({ method: 'GET', url: `/v2/datasets/${again}`, token: ctx.alice });
  expect(fresh.json().data.itemCount).toBe(0);
  const items = (await ctx.request({ method: 'GET', url: `/v2/datasets/${other}/items`, token: ctx.alice })).json();
  const expected = Array.from({ length: 10 }, (_, c) => Array.from({ length: 30 }, (_, p) => itemsOf(c, p))).flat(2);
  expect(items).toHaveLength(expected.length);
  expect(problemsOf(items)).toEqual([]);
}, 120_000);
