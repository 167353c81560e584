import {
  InsufficientPermissionsError,
  RecordNotFoundError,
  RecordOrTokenNotFoundError,
  TokenNotProvidedError,
} from '../errors.js';
import type { GeneralAccess, StorageDriver, StoreRow, UserRow } from '../storage/driver.js';
import type { Users } from './users.js';
import { ID_REGEX } from './validation.js';

/** Who is calling: a user authenticated by token, or nobody. */
export type Caller = { user: UserRow } | { user: undefined };

/** The `{storeId}` path parameter: an id, `~name` (the caller's store) or `username~name`. */
export type StoreRef = { kind: 'id'; id: string } | { kind: 'name'; username: string; name: string };

export function parseStoreRef(param: string): StoreRef {
  const tilde = param.indexOf('~');
  if (tilde === -1) return { kind: 'id', id: param };
  return { kind: 'name', username: param.slice(0, tilde), name: param.slice(tilde + 1) };
}

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

/** The account setting that `FOLLOW_USER_SETTING` stands for. */
export type AccountAccess = Extract<GeneralAccess, 'RESTRICTED' | 'ANYONE_WITH_ID_CAN_READ'>;

/** Finds the store a request names and decides whether the caller may read or write it. */
export class AccessPolicy {
  readonly #driver: StorageDriver;
  readonly #users: Users;
  readonly #accountAccess: AccountAccess;

  constructor(driver: StorageDriver, users: Users, accountAccess: AccountAccess) {
    this.#driver = driver;
    this.#users = users;
    this.#accountAccess = accountAccess;
  }

  effectiveAccess(store: StoreRow): GeneralAccess {
    return store.generalAccess === 'FOLLOW_USER_SETTING' ? this.#accountAccess : store.generalAccess;
  }

  /** The store a reference names, without any permission check. */
  async find(caller: Caller, ref: StoreRef): Promise<StoreRow | undefined> {
    if (ref.kind === 'id') return ID_REGEX.test(ref.id) ? this.#driver.getStore(ref.id) : undefined;
    let ownerId: string | undefined;
    if (ref.username === '') ownerId = caller.user?.id;
    else if (ref.username === caller.user?.username) ownerId = caller.user.id;
    else ownerId = (await this.#users.byName(ref.username))?.id;
    if (!ownerId || ref.name === '') return undefined;
    return this.#driver.getStoreByName(ownerId, ref.name);
  }

  async resolve(caller: Caller, ref: StoreRef, mode: AccessMode, signature?: SignatureCheck): Promise<ResolvedStore> {
    if (mode === 'write' && !caller.user) throw new TokenNotProvidedError();
    const store = await this.find(caller, ref);
    if (!store) throw caller.user ? new RecordNotFoundError() : new RecordOrTokenNotFoundError();
    if (caller.user && store.userId === caller.user.id) return { store, canWrite: true };
    if (mode === 'write') throw new InsufficientPermissionsError();
    const access = this.effectiveAccess(store);
    const open = access === 'ANYONE_WITH_NAME_CAN_READ' || (access === 'ANYONE_WITH_ID_CAN_READ' && ref.kind === 'id');
    if (open) return { store, canWrite: false };
    const signed = signature?.(store);
    if (signed === true) return { store, canWrite: false };
    if (signed === false || caller.user) throw new InsufficientPermissionsError();
    throw new RecordOrTokenNotFoundError();
  }
}
