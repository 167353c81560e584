import { InvalidRequestError, InvalidValueError, NameNotUniqueError, RecordNotFoundError } from '../errors.js';
import type { GeneralAccess, StorageKind, StoreRow } from '../model.js';
import type { StoreStorage } from '../storage/driver.js';
import { type AccessPolicy, type Caller, KIND_LABEL, type StoreRef } from './access.js';
import { newId, newSecret } from './ids.js';
import { storageContentSignature } from './signing.js';
import type { StatsBuffer } from './stats.js';
import type { Users } from './users.js';
import { isGeneralAccess, isValidStoreName, STORE_NAME_RULE, TITLE_MAX } from './validation.js';

/** How long the signed public URLs of a storage object (`keysPublicUrl`, `itemsPublicUrl`) stay valid. */
export const KEYS_URL_TTL_MS = 14 * 24 * 3600 * 1000;

/** What a storage object of the API is made from: the row (pending counts merged in) and its context. */
export interface PresentContext {
  store: StoreRow;
  canWrite: boolean;
  username: string | null;
  /** The public origin, without a trailing `/`. */
  base: string;
  /** A storage-content signature of the store, valid for `KEYS_URL_TTL_MS` (for its public URLs). */
  contentSignature(): string;
}

/** What differs between the kinds of storage at this level: the kind, and the API object of one. */
export interface StorageKindSpec<Api> {
  kind: StorageKind;
  present(ctx: PresentContext): Api;
  /** Checks a schema given at creation (400 when unusable); without it, a schema is refused. */
  validateSchema?(schema: unknown): void;
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** The fields every storage object of the API starts with, whatever its kind. */
export type CommonFields = ReturnType<typeof commonFields>;

export function commonFields({ store, username }: PresentContext) {
  return {
    id: store.id,
    name: store.name,
    title: store.title,
    userId: store.userId,
    username,
    createdAt: iso(store.createdAt),
    modifiedAt: iso(store.modifiedAt),
    accessedAt: iso(store.accessedAt),
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

/** Storage-level operations of one kind (key-value stores, datasets): list, get-or-create, get, update, delete. */
export class Stores<Api> {
  readonly #d: StoresDeps;
  readonly #spec: StorageKindSpec<Api>;

  constructor(deps: StoresDeps, spec: StorageKindSpec<Api>) {
    this.#d = deps;
    this.#spec = spec;
  }

  get kind(): StorageKind {
    return this.#spec.kind;
  }

  /** Shapes a storage for the API; the signing secret only for callers who may write. */
  async toApi(row: StoreRow, canWrite: boolean): Promise<Api> {
    const store = this.#d.stats.merge(row);
    return this.#spec.present({
      store,
      canWrite,
      username: await this.#d.users.usernameOf(store.userId),
      base: this.#d.publicUrl(),
      contentSignature: () => storageContentSignature(store.urlSigningSecretKey, store.id, Date.now() + KEYS_URL_TTL_MS),
    });
  }

  async list(user: { id: string }, o: StoreListOptions) {
    const { total, items } =
      o.ownership === 'sharedWithMe'
        ? { total: 0, items: [] as StoreRow[] }
        : await this.#d.driver.listStores({
            userId: user.id,
            kind: this.#spec.kind,
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
  async getOrCreate(user: { id: string }, name: string | undefined, schema: unknown): Promise<{ store: Api; created: boolean }> {
    if (name !== undefined) validateName(name);
    if (schema !== undefined && schema !== null) {
      if (!this.#spec.validateSchema)
        throw new InvalidValueError(`A ${KIND_LABEL[this.#spec.kind].toLowerCase()} takes no schema here.`);
      this.#spec.validateSchema(schema);
    }
    const now = Date.now();
    const { store, created } = await this.#d.driver.createStore({
      id: newId(),
      kind: this.#spec.kind,
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
      itemCount: 0,
      cleanItemCount: 0,
      handledCount: 0,
      hadMultipleClients: false,
    });
    if (!created) this.#d.stats.access(store.id);
    return { store: await this.toApi(store, true), created };
  }

  async get(token: string | undefined, ref: StoreRef): Promise<Api> {
    const { store, canWrite } = await this.#d.access.lookup(token, ref, 'read', { fresh: true });
    this.#d.stats.access(store.id);
    return this.toApi(store, canWrite);
  }

  async update(caller: Caller, ref: StoreRef, patch: StorePatchInput): Promise<Api> {
    const { store } = await this.#d.access.resolve(caller, ref, 'write');
    const result = await this.#d.driver.updateStore(store.id, { ...patch, modifiedAt: Date.now() });
    if (!result.ok) {
      if (result.reason === 'name-conflict')
        throw new NameNotUniqueError(patch.name ?? '', KIND_LABEL[this.#spec.kind].toLowerCase());
      throw new RecordNotFoundError(`${KIND_LABEL[this.#spec.kind]} was not found.`);
    }
    return this.toApi(result.store, true);
  }

  async delete(caller: Caller, ref: StoreRef): Promise<void> {
    const { store } = await this.#d.access.resolve(caller, ref, 'write');
    if (!(await this.#d.driver.deleteStore(store.id)))
      throw new RecordNotFoundError(`${KIND_LABEL[this.#spec.kind]} was not found.`);
    this.#d.stats.forget(store.id);
  }
}
