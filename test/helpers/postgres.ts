import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';

/** The run's PostgreSQL server (started by test/setup/global.ts). */
export function pgUrl(): string {
  return inject('pgUrl');
}

/**
 * A URL on a new, empty schema of the run's PostgreSQL server, so that each test context starts
 * from nothing; `drop` removes the schema.
 */
export async function freshSchema(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = pgUrl();
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = new URL(base);
  url.searchParams.set('search_path', schema);
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(base, { max: 1, onnotice: () => undefined });
      await sql.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      await sql.end();
    },
  };
}
