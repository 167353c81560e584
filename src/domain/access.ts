import {
  InsufficientPermissionsError,
  InvalidTokenError,
  RecordNotFoundError,
  RecordOrTokenNotFoundError,
  TokenNotProvidedError,
} from '../errors.js';
import type { GeneralAccess, StorageKind, StoreRow, UserRow } from '../model.js';
import type {
  LookedUpRecord,
  RequestLookup,
  RequestLookupStorage,
  RequestRows,
  StoreLookup,
  StoreStorage,
} from '../storage/driver.js';
import { hashToken, safeEqual } from './ids.js';
import type { Users } from './users.js';
import { ID_REGEX } from './validation.js';

/** Who is calling: a user authenticated by token, or nobody. */
export type Caller = { user: UserRow } | { user: undefined };

/**
 * The `{storeId}` / `{datasetId}` path parameter: an id, `~name` (the caller's) or `username~name`,
 * of a storage of one kind (`storage`): a storage of another kind is not found.
 */
export type StoreRef = ({ kind: 'id'; id: string } | { kind: 'name'; username: string; name: string }) & { storage: StorageKind };

export function parseStoreRef(param: string, storage: StorageKind): StoreRef {
  const tilde = param.indexOf('~');
  if (tilde === -1) return { kind: 'id', id: param, storage };
  return { kind: 'name', username: param.slice(0, tilde), name: param.slice(tilde + 1), storage };
}

/** What the API calls each kind in its messages. */
export const KIND_LABEL: Record<StorageKind, string> = { kvs: 'Key-value store', dataset: 'Dataset', queue: 'Request queue' };

export type AccessMode = 'read' | 'write';

/**
 * Checks a signature given with a read. `undefined` means no signature came with the request.
 */
export type SignatureCheck = (store: StoreRow) => boolean | undefined;

export interface ResolvedStore {
  store: StoreRow;
  /** Whether the caller may write (and so see the signing secret). */
  canWrite: boolean;
}

/** A store found by `AccessPolicy.lookup`, with who asked and, when asked for, the record. */
export interface LookedUp extends ResolvedStore {
  caller: Caller;
  record?: LookedUpRecord;
}

export interface LookupOptions {
  signature?: SignatureCheck;
  /** Finds this record of the store in the same lookup (only ever returned when access is granted). */
  record?: { key: string; withValue: boolean };
  /** The store's counters are answered: read the row as it is now (see `RequestLookup.fresh`). */
  fresh?: boolean;
}

/** The longest token looked up; anything longer is refused without a lookup. */
const MAX_TOKEN_LENGTH = 512;

/** The account setting that `FOLLOW_USER_SETTING` stands for. */
export type AccountAccess = Extract<GeneralAccess, 'RESTRICTED' | 'ANYONE_WITH_ID_CAN_READ'>;

/** Finds the store a request names and decides whether the caller may read or write it. */
export class AccessPolicy {
  readonly #driver: StoreStorage & RequestLookupStorage;
  readonly #users: Users;
  readonly #accountAccess: AccountAccess;

  constructor(driver: StoreStorage & RequestLookupStorage, users: Users, accountAccess: AccountAccess) {
    this.#driver = driver;
    this.#users = users;
    this.#accountAccess = accountAccess;
  }

  effectiveAccess(store: StoreRow): GeneralAccess {
    return store.generalAccess === 'FOLLOW_USER_SETTING' ? this.#accountAccess : store.generalAccess;
  }

  /** The store a reference names, without any permission check. */
  async find(caller: Caller, ref: StoreRef): Promise<StoreRow | undefined> {
    if (ref.kind === 'id') {
      const store = ID_REGEX.test(ref.id) ? await this.#driver.getStore(ref.id) : undefined;
      return store?.kind === ref.storage ? store : undefined;
    }
    let ownerId: string | undefined;
    if (ref.username === '') ownerId = caller.user?.id;
    else if (ref.username === caller.user?.username) ownerId = caller.user.id;
    else ownerId = (await this.#users.byName(ref.username))?.id;
    if (!ownerId || ref.name === '') return undefined;
    return this.#driver.getStoreByName(ownerId, ref.name, ref.storage);
  }

  async resolve(caller: Caller, ref: StoreRef, mode: AccessMode, signature?: SignatureCheck): Promise<ResolvedStore> {
    if (mode === 'write' && !caller.user) throw new TokenNotProvidedError();
    return this.#decide(caller, ref, await this.find(caller, ref), mode, signature);
  }

  /**
   * Authenticates the token a request presents and resolves the store (and record) it names, all in
   * one storage lookup: the hot path of record requests. Same answers as `Users.authenticate`
   * followed by `resolve`: a malformed, unknown or revoked token is a 401, never anonymous access.
   * Synchronous when the storage answers synchronously (SQLite): no chain of promises per request.
   * A refusal is thrown, or rejects the promise.
   */
  lookup(token: string | undefined, ref: StoreRef, mode: AccessMode, options: LookupOptions = {}): LookedUp | Promise<LookedUp> {
    const lookup = requestLookup(token, ref, mode, options);
    const rows = this.#driver.lookupRequest(lookup);
    if (rows instanceof Promise) return rows.then((r) => this.#conclude(lookup, ref, mode, r, options.signature));
    return this.#conclude(lookup, ref, mode, rows, options.signature);
  }

  /**
   * The storage lookup of a write whose access check travels with it (`RecordStorage.putRecordFor`):
   * throws, before any storage is asked, what `lookup` would throw before its lookup.
   */
  writeLookup(token: string | undefined, ref: StoreRef): RequestLookup {
    return requestLookup(token, ref, 'write', {});
  }

  /** Decides a write from the rows found for `writeLookup`'s lookup: the same answers, in the same order, as `lookup`. */
  decideWrite(lookup: RequestLookup, ref: StoreRef, rows: RequestRows): LookedUp {
    return this.#conclude(lookup, ref, 'write', rows, undefined);
  }

  #conclude(lookup: RequestLookup, ref: StoreRef, mode: AccessMode, rows: RequestRows, signature?: SignatureCheck): LookedUp {
    const tokenHash = lookup.tokenHash;
    let caller: Caller = { user: undefined };
    if (tokenHash !== undefined) {
      // The lookup is by hash; the comparison keeps the check constant-time all the same.
      if (!rows.token || !safeEqual(rows.token.hash, tokenHash) || !rows.user) throw new InvalidTokenError();
      caller = { user: rows.user };
    }
    const resolved = this.#decide(caller, ref, rows.store, mode, signature);
    return { store: resolved.store, canWrite: resolved.canWrite, caller, record: rows.record };
  }

  #decide(
    caller: Caller,
    ref: StoreRef,
    store: StoreRow | undefined,
    mode: AccessMode,
    signature?: SignatureCheck,
  ): ResolvedStore {
    if (!store) {
      const label = KIND_LABEL[ref.storage];
      throw caller.user ? new RecordNotFoundError(`${label} was not found.`) : new RecordOrTokenNotFoundError(label);
    }
    if (caller.user && store.userId === caller.user.id) return { store, canWrite: true };
    if (mode === 'write') throw insufficient(ref);
    const access = this.effectiveAccess(store);
    const open = access === 'ANYONE_WITH_NAME_CAN_READ' || (access === 'ANYONE_WITH_ID_CAN_READ' && ref.kind === 'id');
    if (open) return { store, canWrite: false };
    const signed = signature?.(store);
    if (signed === true) return { store, canWrite: false };
    if (signed === false || caller.user) throw insufficient(ref);
    throw new RecordOrTokenNotFoundError(KIND_LABEL[ref.storage]);
  }
}

function insufficient(ref: StoreRef): InsufficientPermissionsError {
  if (ref.storage === 'kvs') return new InsufficientPermissionsError();
  return new InsufficientPermissionsError(
    `Insufficient permissions for the ${KIND_LABEL[ref.storage].toLowerCase()}. Make sure you're passing a correct API token and that it has the required permissions.`,
  );
}

/** The lookup of a request, after the checks that need none (a write without a token, a token of impossible length). */
function requestLookup(token: string | undefined, ref: StoreRef, mode: AccessMode, options: LookupOptions): RequestLookup {
  if (token === undefined && mode === 'write') throw new TokenNotProvidedError();
  if (token !== undefined && (token.length === 0 || token.length > MAX_TOKEN_LENGTH)) throw new InvalidTokenError();
  const store = storeLookup(ref);
  return {
    tokenHash: token === undefined ? undefined : hashToken(token),
    kind: ref.storage,
    store,
    record: store ? options.record : undefined,
    fresh: options.fresh,
  };
}

/** What the storage looks up for a store reference; undefined when it cannot name any store. */
function storeLookup(ref: StoreRef): StoreLookup | undefined {
  if (ref.kind === 'id') return ID_REGEX.test(ref.id) ? { id: ref.id } : undefined;
  if (ref.name === '') return undefined;
  return ref.username === '' ? { name: ref.name, owner: 'caller' } : { name: ref.name, ownerName: ref.username };
}
