import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { freshSchema } from '../helpers/postgres.js';
import { sleep } from '../helpers/time.js';
import { storeRow } from './suite.js';

describe('postgres: deleting a queue or its user while an add to it is in flight', () => {
  for (const what of ['user', 'queue'] as const) {
    it(`deleting the ${what} waits for the add and deletes its requests too`, async () => {
      const schema = await freshSchema();
      const driver = await PostgresDriver.connect({ url: schema.url, poolSize: 2, sweepIntervalMs: 0 });
      const other = postgres(schema.url, { max: 2, onnotice: () => undefined });
      try {
        const user = { id: newId(), username: 'adder', createdAt: Date.now() };
        await driver.createUser(user);
        const { store } = await driver.createStore(storeRow(user.id, null, 'queue'));
        // Another node's add, held open inside its transaction with the queue's row locked.
        let commit!: () => void;
        const committed = new Promise<void>((resolve) => {
          commit = resolve;
        });
        let added!: (pid: number) => void;
        const inFlight = new Promise<number>((resolve) => {
          added = resolve;
        });
        const add = other.begin(async (tx) => {
          await tx`SELECT openkvs_queue_add(${store.id}, ${['r1']}::text[], ${['k1']}::text[], ${['{}']}::text[],
            ${[2]}::bigint[], ${[null]}::bigint[], false, NULL, ${Date.now()}::bigint)`;
          const [row] = await tx`SELECT pg_backend_pid() AS pid`;
          added(row?.pid as number);
          await committed;
        });
        const pid = await inFlight;
        const deleting = what === 'user' ? driver.deleteUser(user.id) : driver.deleteStore(store.id);
        // The delete waits for a lock the add holds (polled, not timed): only then does the add commit.
        for (;;) {
          const [row] =
            await other`SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${pid}::int = ANY(pg_blocking_pids(pid))`;
          if ((row?.n as number) > 0) break;
          await sleep(10);
        }
        commit();
        await add;
        expect(await deleting).toBe(true);
        const [left] = await other`SELECT count(*)::int AS n FROM queue_requests WHERE store_id = ${store.id}`;
        expect(left?.n).toBe(0);
      } finally {
        await other.end();
        await driver.close();
        await schema.drop();
      }
    });
  }
});
