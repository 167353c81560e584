import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { DEAD_AFTER_MS } from '../../src/storage/sqlite/processes.js';
import { ORPHAN_AGE_MS } from '../../src/storage/sqlite/sweep.js';
import { cleanupAll, ensureBuilt, freePort, type ServeProcess, startServe, tempDir } from '../cli/helpers.js';
import { KeepAliveClient } from '../helpers/keep-alive.js';
import { Ledger } from '../helpers/ledger.js';
import { sleep } from '../helpers/time.js';
import { verifyStore } from '../helpers/verify-store.js';
import { inspectSqlite } from './sqlite-files.js';
import { runWorkload } from './workload.js';

/**
 * SIGKILL at random moments while writers PUT over keep-alive connections: after every restart
 * each acknowledged write is there byte for byte, each unacknowledged one whole or absent, the
 * file is sound, no value file is left without a row once the sweep may take the killed processes'
 * files, and the stats add up.
 */

const ROUNDS = 20;
const WORKERS = 6;
const TOKEN = 'crash-sqlite-admin-token-0123456789';
beforeAll(ensureBuilt);
afterAll(cleanupAll);

describe('SQLite: the server killed (SIGKILL) under concurrent writes, 20 times', () => {
  it('keeps every acknowledged write, byte for byte, with a sound file and no orphan value files', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const dbPath = join(cwd, 'data', 'crash.sqlite');
    const args = ['--storage', `sqlite:${dbPath}`, '--port', String(port), '--admin-token', TOKEN, '--log-level', 'warn'];
    let server: ServeProcess = await startServe(args, { cwd, port });
    const admin = new KeepAliveClient(server.origin, TOKEN, 1);
    const created = await admin.send('POST', '/v2/key-value-stores?name=crash');
    admin.close();
    expect(created.status).toBe(201);
    const storeId = (JSON.parse(created.body.toString()) as { data: { id: string } }).data.id;

    const ledger = new Ledger();
    const totals = { acked: 0, cutOff: 0, keptUnacked: 0, referencedFiles: 0, records: 0 };
    for (let round = 1; round <= ROUNDS; round++) {
      const client = new KeepAliveClient(server.origin, TOKEN, WORKERS);
      const acksBefore = ledger.acks;
      const unexpected: string[] = [];
      let cutOff = 0;
      const workload = runWorkload(client, ledger, {
        storeId,
        workers: WORKERS,
        tag: `r${round}`,
        onOutcome: (o) => {
          if (o.answer && o.answer.status !== 201) unexpected.push(`PUT ${o.key}: ${o.answer.status} ${o.answer.body}`);
          if (o.failure) cutOff++;
        },
      });
      await sleep(200 + Math.random() * 1500);
      server.child.kill('SIGKILL');
      workload.stop();
      await server.exited;
      await workload.done;
      client.close();

      const killed = inspectSqlite(dbPath);
      expect(killed.integrity, `round ${round}: integrity_check after the kill`).toEqual(['ok']);
      expect(killed.missing, `round ${round}: rows whose value file is missing after the kill`).toEqual([]);

      server = await startServe(args, { cwd, port });
      // The killed process's files stay until it is past the dead bound (see the end).
      const swept = inspectSqlite(dbPath, false);
      expect(swept.missing, `round ${round}: rows whose value file is missing after restart`).toEqual([]);

      const reader = new KeepAliveClient(server.origin, TOKEN, 16);
      const check = await verifyStore(reader, storeId, ledger);
      reader.close();
      expect(unexpected, `round ${round}: answers other than 201 before the kill`).toEqual([]);
      expect(check.problems, `round ${round}: after restart`).toEqual([]);
      expect(ledger.acks - acksBefore, `round ${round}: writes acknowledged before the kill`).toBeGreaterThan(0);

      totals.acked = ledger.acks;
      totals.cutOff += cutOff;
      totals.keptUnacked += check.unacknowledgedFound;
      totals.referencedFiles = swept.referenced;
      totals.records = check.present;
    }
    // Once the killed processes are past the dead bound and their files past the age bound, a sweep
    // leaves no value file without a row (the last server's own staging folder went at its exit).
    await server.stop();
    const later = new SqliteDriver({ path: dbPath, now: () => Date.now() + ORPHAN_AGE_MS + DEAD_AFTER_MS, sweepIntervalMs: 0 });
    const removed = await later.sweepOrphans();
    await later.close();
    const final = inspectSqlite(dbPath);
    expect(final.orphans, 'value files no row names, after the sweep').toEqual([]);
    expect(final.missing, 'rows whose value file is missing, after the sweep').toEqual([]);
    console.log(`[reliability] crash-sqlite: ${JSON.stringify({ rounds: ROUNDS, ...totals, swept: removed })}`);
    expect(totals.cutOff, 'requests cut off by the kills (the kills hit writes in flight)').toBeGreaterThan(ROUNDS);
  });
});
