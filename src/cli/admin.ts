import { createKvs } from '../domain/index.js';
import type { StorageSpec } from '../storage/open.js';
import { openStorage } from '../storage/open.js';

/** Runs `fn` with the domain on the given storage, closing it afterwards. */
export async function withKvs<T>(storage: StorageSpec, fn: (kvs: ReturnType<typeof createKvs>) => Promise<T>): Promise<T> {
  const driver = await openStorage(storage);
  const kvs = createKvs({ driver, publicUrl: () => '' });
  try {
    return await fn(kvs);
  } finally {
    await kvs.close();
    await driver.close();
  }
}

export class CliError extends Error {}

export async function createUser(storage: StorageSpec, username: string, print: (l: string) => void): Promise<void> {
  await withKvs(storage, async (kvs) => {
    const { user, token } = await kvs.users.create(username);
    print(`Created user ${user.username} (id ${user.id}). API token:`);
    print(token);
  });
}

export async function listUsers(storage: StorageSpec, print: (l: string) => void): Promise<void> {
  await withKvs(storage, async (kvs) => {
    for (const u of await kvs.driver.listUsers()) print(`${u.username}\t${u.id}\t${new Date(u.createdAt).toISOString()}`);
  });
}

export async function createToken(storage: StorageSpec, username: string, label: string | undefined, print: (l: string) => void) {
  await withKvs(storage, async (kvs) => {
    const user = await kvs.users.byName(username);
    if (!user) throw new CliError(`no user named "${username}"`);
    const { token } = await kvs.users.addToken(user.id, label ?? null);
    print(`New API token for ${username}:`);
    print(token);
  });
}

export async function revokeToken(storage: StorageSpec, token: string, print: (l: string) => void): Promise<void> {
  await withKvs(storage, async (kvs) => {
    if (!(await kvs.users.revoke(token))) throw new CliError('no such token (already revoked, or never issued)');
    print('Token revoked.');
  });
}
