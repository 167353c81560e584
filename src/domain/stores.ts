import {
  InvalidRequestError,
  InvalidValueError,
  NameNotUniqueError,
  RecordNotFoundError,
  StoreSchemaInvalidError,
} from '../errors.js';
import type { GeneralAccess, StoreRow } from '../model.js';
import type { StoreStorage } from '../storage/driver.js';
import type { AccessPolicy, Caller, StoreRef } from './access.js';
import { newId, newSecret } from './ids.js';
import { storageContentSignature } from './signing.js';
import type { StatsBuffer } from './stats.js';
import type { Users } from './users.js';
import { isGeneralAccess, isValidStoreName, STORE_NAME_RULE, TITLE_MAX } from './validation.js';

/** How long the signed `keysPublicUrl` of a store object stays valid. */
export const KEYS_URL_TTL_MS = 14 * 24 * 3600 * 1000;

/** The store object of the API (`KeyValueStore`). */
export interface ApiStore {
  id: string;
  name: string | null;
  title: string | null;
  userId: string;
  username: string | null;
  createdAt: string;
  modifiedAt: string;
  accessedAt: string;
  actId: null;
  actRunId: null;
  consoleUrl: string;
  keysPublicUrl: string;
  recordsPublicUrl: string;
  schema: unknown;
  generalAccess: GeneralAccess;
  urlSigningSecretKey: string | null;
  stats: {
    readCount: number;
    writeCount: number;
    deleteCount: number;
    listCount: number;
    s3StorageBytes: number;
    storageBytes: number;
  };
}

export interface StoreListOptions {
  offset: number;
  limit: number;
  desc: boolean;
  unnamed: boolean;
  ownership?: 'ownedByMe' | 'sharedWithMe';
}

export interface StorePatchInput {
  name?: string | null;
  title?: string | null;
  generalAccess?: GeneralAccess;
}

export interface StoresDeps {
  driver: StoreStorage;
  users: Users;
  access: AccessPolicy;
  stats: StatsBuffer;
  publicUrl: () => string;
}

function validateName(name: string): void {
  if (!isValidStoreName(name)) throw new InvalidValueError(`Invalid value provided in store: ${STORE_NAME_RULE}`);
}

/** Validates a store schema: an object whose `collections`, if any, each name a `key` or a `keyPrefix`. */
export function validateSchema(schema: unknown): void {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new StoreSchemaInvalidError('The store schema must be a JSON object.');
  }
  const collections = (schema as { collections?: unknown }).collections;
  if (collections === undefined) return;
  if (typeof collections !== 'object' || collections === null || Array.isArray(collections)) {
    throw new StoreSchemaInvalidError('The "collections" of a store schema must be an object.');
  }
  for (const [name, c] of Object.entries(collections)) {
    const def = c as { key?: unknown; keyPrefix?: unknown } | null;
    const ok = typeof def === 'object' && def !== null && (typeof def.key === 'string' || typeof def.keyPrefix === 'string');
    if (!ok) throw new StoreSchemaInvalidError(`Collection "${name}" must define "key" or "keyPrefix" as a string.`);
  }
}

/** Reads an update body into a typed patch; anything malformed is a 400. */
export function parseStorePatch(body: unknown): StorePatchInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('PUT data must be a JSON object.');
  }
  const b = body as Record<string, unknown>;
  const patch: StorePatchInput = {};
  if ('name' in b) {
    if (b.name !== null && typeof b.name !== 'string')
      throw new InvalidValueError('Invalid value provided in store: name must be a string or null.');
    if (typeof b.name === 'string') validateName(b.name);
    patch.name = b.name as string | null;
  }
  if ('title' in b) {
    if (b.title !== null && (typeof b.title !== 'string' || b.title.length > TITLE_MAX)) {
      throw new InvalidValueError(
        `Invalid value provided in store: title must be a string of at most ${TITLE_MAX} characters or null.`,
      );
    }
    patch.title = b.title as string | null;
  }
  if ('generalAccess' in b && b.generalAccess !== null && b.generalAccess !== undefined) {
    if (!isGeneralAccess(b.generalAccess)) {
      throw new InvalidValueError(
        'Invalid value provided in store: generalAccess must be one of RESTRICTED, ANYONE_WITH_ID_CAN_READ, ANYONE_WITH_NAME_CAN_READ, FOLLOW_USER_SETTING.',
      );
    }
    patch.generalAccess = b.generalAccess;
  }
  return patch;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Store-level operations: list, get-or-create, get, update, delete. */
export class Stores {
  readonly #d: StoresDeps;

  constructor(deps: StoresDeps) {
    this.#d = deps;
  }

  /** Shapes a store for the API; the signing secret only for callers who may write. */
  async toApi(row: StoreRow, canWrite: boolean): Promise<ApiStore> {
    const store = this.#d.stats.merge(row);
    const base = this.#d.publicUrl();
    const expiresAt = Date.now() + KEYS_URL_TTL_MS;
    const signature = storageContentSignature(store.urlSigningSecretKey, store.id, expiresAt);
    return {
      id: store.id,
      name: store.name,
      title: store.title,
      userId: store.userId,
      username: await this.#d.users.usernameOf(store.userId),
      createdAt: iso(store.createdAt),
      modifiedAt: iso(store.modifiedAt),
      accessedAt: iso(store.accessedAt),
      actId: null,
      actRunId: null,
      consoleUrl: `${base}/v2/key-value-stores/${store.id}`,
      keysPublicUrl: `${base}/v2/key-value-stores/${store.id}/keys?signature=${signature}`,
      recordsPublicUrl: `${base}/v2/key-value-stores/${store.id}/records?signature=${signature}`,
      schema: store.schema === null ? null : JSON.parse(store.schema),
      generalAccess: store.generalAccess,
      urlSigningSecretKey: canWrite ? store.urlSigningSecretKey : null,
      stats: {
        readCount: store.stats.readCount,
        writeCount: store.stats.writeCount,
        deleteCount: store.stats.deleteCount,
        listCount: store.stats.listCount,
        s3StorageBytes: store.stats.storageBytes,
        storageBytes: store.stats.storageBytes,
      },
    };
  }

  async list(user: { id: string }, o: StoreListOptions) {
    const { total, items } =
      o.ownership === 'sharedWithMe'
        ? { total: 0, items: [] as StoreRow[] }
        : await this.#d.driver.listStores({
            userId: user.id,
            offset: o.offset,
            limit: o.limit,
            desc: o.desc,
            unnamed: o.unnamed,
          });
    return {
      total,
      offset: o.offset,
      limit: o.limit,
      desc: o.desc,
      count: items.length,
      unnamed: o.unnamed,
      items: await Promise.all(items.map((s) => this.toApi(s, true))),
    };
  }

  /** Get-or-create: an existing store of that name comes back with `created: false`. */
  async getOrCreate(
    user: { id: string },
    name: string | undefined,
    schema: unknown,
  ): Promise<{ store: ApiStore; created: boolean }> {
    if (name !== undefined) validateName(name);
    if (schema !== undefined && schema !== null) validateSchema(schema);
    const now = Date.now();
    const { store, created } = await this.#d.driver.createStore({
      id: newId(),
      userId: user.id,
      name: name ?? null,
      title: null,
      createdAt: now,
      modifiedAt: now,
      accessedAt: now,
      generalAccess: 'FOLLOW_USER_SETTING',
      schema: schema === undefined || schema === null ? null : JSON.stringify(schema),
      urlSigningSecretKey: newSecret(),
      stats: { readCount: 0, writeCount: 0, deleteCount: 0, listCount: 0, storageBytes: 0 },
    });
    if (!created) this.#d.stats.access(store.id);
    return { store: await this.toApi(store, true), created };
  }

  async get(token: string | undefined, ref: StoreRef): Promise<ApiStore> {
    const { store, canWrite } = await this.#d.access.lookup(token, ref, 'read', { fresh: true });
    this.#d.stats.access(store.id);
    return this.toApi(store, canWrite);
  }

  async update(caller: Caller, ref: StoreRef, patch: StorePatchInput): Promise<ApiStore> {
    const { store } = await this.#d.access.resolve(caller, ref, 'write');
    const result = await this.#d.driver.updateStore(store.id, { ...patch, modifiedAt: Date.now() });
    if (!result.ok) {
      if (result.reason === 'name-conflict') throw new NameNotUniqueError(patch.name ?? '');
      throw new RecordNotFoundError();
    }
    return this.toApi(result.store, true);
  }

  async delete(caller: Caller, ref: StoreRef): Promise<void> {
    const { store } = await this.#d.access.resolve(caller, ref, 'write');
    if (!(await this.#d.driver.deleteStore(store.id))) throw new RecordNotFoundError();
    this.#d.stats.forget(store.id);
  }
}
