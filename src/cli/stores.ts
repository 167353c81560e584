import type { Kvs } from '../domain/index.js';
import { ID_REGEX, isValidStoreName, STORE_NAME_RULE } from '../domain/validation.js';
import type { StorageKind, StoreRow, UserRow } from '../model.js';
import { CliError, commandUser, withKvs } from './admin.js';
import type { CliContext } from './options.js';

const PAGE = 1000;

/** Every store (or storage of another kind) of a user, named and unnamed, oldest first. */
export async function* allStores(kvs: Kvs, user: UserRow, kind: StorageKind = 'kvs'): AsyncGenerator<StoreRow> {
  for (let offset = 0; ; offset += PAGE) {
    const { items } = await kvs.driver.listStores({ userId: user.id, kind, offset, limit: PAGE, desc: false, unnamed: true });
    yield* items;
    if (items.length < PAGE) return;
  }
}

/** A user's store (or storage of another kind) by name, or else by id. */
export async function findStore(
  kvs: Kvs,
  user: UserRow,
  nameOrId: string,
  kind: StorageKind = 'kvs',
): Promise<StoreRow | undefined> {
  const byName = await kvs.driver.getStoreByName(user.id, nameOrId, kind);
  if (byName) return byName;
  const byId = ID_REGEX.test(nameOrId) ? await kvs.driver.getStore(nameOrId) : undefined;
  return byId?.userId === user.id && byId.kind === kind ? byId : undefined;
}

/** One line per store: id, name (`-` when unnamed), stored bytes, last modification. */
export async function listStores(ctx: CliContext, username: string, print: (l: string) => void): Promise<void> {
  await withKvs(ctx.storage, async (kvs) => {
    const user = await commandUser(kvs, username, print);
    for await (const s of allStores(kvs, user)) {
      const stats = kvs.stats.merge(s).stats;
      print(`${s.id}\t${s.name ?? '-'}\t${stats.storageBytes}\t${new Date(s.modifiedAt).toISOString()}`);
    }
  });
}

/** Creates a store (unnamed without a name) and prints its id as the last line. */
export async function createStore(
  ctx: CliContext,
  username: string,
  name: string | undefined,
  print: (l: string) => void,
): Promise<void> {
  if (name !== undefined && !isValidStoreName(name)) throw new CliError(`invalid store name "${name}": ${STORE_NAME_RULE}`);
  await withKvs(ctx.storage, async (kvs) => {
    const user = await commandUser(kvs, username, print, { adminToken: ctx.adminToken });
    const { store, created } = await kvs.stores.getOrCreate(user, name, undefined);
    if (!created) throw new CliError(`${username} already has a store named "${name}" (id ${store.id})`);
    print(name === undefined ? `Created an unnamed store of ${username}:` : `Created store "${name}" of ${username}:`);
    print(store.id);
  });
}

/** Deletes a store, named or by id, with all its records. */
export async function deleteStore(ctx: CliContext, username: string, nameOrId: string, print: (l: string) => void) {
  await withKvs(ctx.storage, async (kvs) => {
    const user = await commandUser(kvs, username, print);
    const store = await findStore(kvs, user, nameOrId);
    if (!store) throw new CliError(`${username} has no store named or with the id "${nameOrId}"`);
    if (!(await kvs.driver.deleteStore(store.id))) throw new CliError(`the store "${nameOrId}" is already gone`);
    kvs.stats.forget(store.id);
    print(`Deleted store ${store.name === null ? store.id : `"${store.name}" (id ${store.id})`} of ${username}.`);
  });
}
