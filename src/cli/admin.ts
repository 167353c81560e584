import { createKvs, type Kvs } from '../domain/index.js';
import { ADMIN_USERNAME } from '../domain/users.js';
import type { StorageKind, UserRow } from '../model.js';
import type { StorageSpec } from '../storage/open.js';
import { openStorage } from '../storage/open.js';
import { plural } from './progress.js';

/** Runs `fn` with the domain on the given storage, closing it afterwards. */
export async function withKvs<T>(storage: StorageSpec, fn: (kvs: Kvs) => Promise<T>): Promise<T> {
  const driver = await openStorage(storage);
  const kvs = createKvs({ driver, publicUrl: () => '' });
  try {
    return await fn(kvs);
  } finally {
    await kvs.close();
    await driver.close();
  }
}

/** A command that cannot do what was asked; the message is the one line the operator sees. */
export class CliError extends Error {}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The user a command acts for. With `create` (commands that write), `admin` is created when missing,
 * as the first `serve` would: with `adminToken` as its token, or else a generated one, printed once.
 */
export async function commandUser(
  kvs: Kvs,
  username: string,
  print: (l: string) => void,
  create?: { adminToken: string | undefined },
): Promise<UserRow> {
  if (create && username === ADMIN_USERNAME) {
    const { adminToken } = create;
    const { token } = await kvs.users.bootstrapAdmin(adminToken);
    if (token) print(`Created the user admin. Admin API token (shown only this once, keep it safe): ${token}`);
  }
  const user = await kvs.users.byName(username);
  if (!user) throw new CliError(`no user named "${username}"`);
  return user;
}

export async function createUser(storage: StorageSpec, username: string, print: (l: string) => void): Promise<void> {
  await withKvs(storage, async (kvs) => {
    const { user, token } = await kvs.users.create(username);
    print(`Created user ${user.username} (id ${user.id}). API token:`);
    print(token);
  });
}

export async function listUsers(storage: StorageSpec, print: (l: string) => void): Promise<void> {
  await withKvs(storage, async (kvs) => {
    for (const u of await kvs.driver.listUsers()) print(`${u.username}\t${u.id}\t${iso(u.createdAt)}`);
  });
}

export async function deleteUser(storage: StorageSpec, username: string, print: (l: string) => void): Promise<void> {
  if (username === ADMIN_USERNAME) throw new CliError('the user admin cannot be deleted (revoke its tokens instead)');
  await withKvs(storage, async (kvs) => {
    const user = await kvs.users.byName(username);
    if (!user) throw new CliError(`no user named "${username}"`);
    const count = async (kind: StorageKind) =>
      (await kvs.driver.listStores({ userId: user.id, kind, offset: 0, limit: 1, desc: false, unnamed: true })).total;
    const stores = await count('kvs');
    const datasets = await count('dataset');
    if (!(await kvs.driver.deleteUser(user.id))) throw new CliError(`no user named "${username}"`);
    print(`Deleted user ${username} with ${plural(stores, 'store')}, ${plural(datasets, 'dataset')} and every token.`);
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

/** One line per token: id, label, creation time. Tokens are kept only as hashes; neither is shown. */
export async function listTokens(storage: StorageSpec, username: string, print: (l: string) => void): Promise<void> {
  await withKvs(storage, async (kvs) => {
    const user = await kvs.users.byName(username);
    if (!user) throw new CliError(`no user named "${username}"`);
    for (const t of await kvs.driver.listTokens(user.id)) print(`${t.id}\t${t.label ?? '-'}\t${iso(t.createdAt)}`);
  });
}

/** Revokes a token given as itself, or by the id `tokens list` shows. */
export async function revokeToken(
  storage: StorageSpec,
  which: { token?: string; id?: string },
  print: (l: string) => void,
): Promise<void> {
  if ((which.token === undefined) === (which.id === undefined)) throw new CliError('give either a token or --id <id>');
  await withKvs(storage, async (kvs) => {
    if (which.token !== undefined) {
      if (!(await kvs.users.revoke(which.token))) throw new CliError('no such token (already revoked, or never issued)');
      print('Token revoked.');
      return;
    }
    for (const user of await kvs.driver.listUsers()) {
      const row = (await kvs.driver.listTokens(user.id)).find((t) => t.id === which.id);
      if (row && (await kvs.driver.revokeToken(row.hash))) {
        print(`Token ${row.id} of ${user.username} revoked.`);
        return;
      }
    }
    throw new CliError(`no token with id "${which.id}" (already revoked, or never issued)`);
  });
}
