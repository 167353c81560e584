import { InvalidTokenError, InvalidValueError } from '../errors.js';
import type { TokenRow, UserRow } from '../model.js';
import type { AccountStorage } from '../storage/driver.js';
import { hashToken, newId, newToken, safeEqual } from './ids.js';
import { USERNAME_REGEX } from './validation.js';

export const ADMIN_USERNAME = 'admin';

export interface IssuedToken {
  token: string;
  row: TokenRow;
}

/** Users and their API tokens. Tokens are kept only as SHA-256 hashes. */
export class Users {
  readonly #driver: AccountStorage;
  readonly #names = new Map<string, string>();

  constructor(driver: AccountStorage) {
    this.#driver = driver;
  }

  async create(username: string): Promise<{ user: UserRow; token: string }> {
    if (username.length > 63 || !USERNAME_REGEX.test(username)) {
      throw new InvalidValueError(
        `Invalid username "${username}": use letters, digits and inner hyphens, at most 63 characters.`,
      );
    }
    const user: UserRow = { id: newId(), username, createdAt: Date.now() };
    if (!(await this.#driver.createUser(user))) throw new InvalidValueError(`User "${username}" already exists.`);
    const { token } = await this.addToken(user.id);
    return { user, token };
  }

  async byName(username: string): Promise<UserRow | undefined> {
    return this.#driver.getUserByName(username);
  }

  /** The username of a user id, cached (usernames never change). */
  async usernameOf(userId: string): Promise<string | null> {
    const cached = this.#names.get(userId);
    if (cached !== undefined) return cached;
    const user = await this.#driver.getUserById(userId);
    if (!user) return null;
    this.#names.set(userId, user.username);
    return user.username;
  }

  async addToken(userId: string, label: string | null = null, token = newToken()): Promise<IssuedToken> {
    const row: TokenRow = { id: newId(), userId, hash: hashToken(token), label, createdAt: Date.now() };
    await this.#driver.addToken(row);
    return { token, row };
  }

  async revoke(token: string): Promise<boolean> {
    return this.#driver.revokeToken(hashToken(token));
  }

  /** The user a token belongs to; a malformed, unknown or revoked token is a 401. */
  async authenticate(token: string): Promise<UserRow> {
    if (token.length === 0 || token.length > 512) throw new InvalidTokenError();
    const hash = hashToken(token);
    const row = await this.#driver.findToken(hash);
    // The lookup is by hash; the comparison below keeps the check constant-time all the same.
    if (!row || !safeEqual(row.hash, hash)) throw new InvalidTokenError();
    const user = await this.#driver.getUserById(row.userId);
    if (!user) throw new InvalidTokenError();
    return user;
  }

  /**
   * Makes sure the user `admin` exists. With `adminToken`, that string is a valid admin token;
   * otherwise, on the very first start, a token is generated and returned (shown once).
   */
  async bootstrapAdmin(adminToken?: string): Promise<{ created: boolean; token?: string }> {
    let admin = await this.#driver.getUserByName(ADMIN_USERNAME);
    let created = false;
    if (!admin) {
      const user: UserRow = { id: newId(), username: ADMIN_USERNAME, createdAt: Date.now() };
      created = await this.#driver.createUser(user);
      admin = await this.#driver.getUserByName(ADMIN_USERNAME);
      if (!admin) throw new Error('could not create the admin user');
    }
    if (adminToken !== undefined) {
      let existing = await this.#driver.findToken(hashToken(adminToken));
      if (!existing) {
        try {
          await this.addToken(admin.id, 'admin (OPENKVS_ADMIN_TOKEN)', adminToken);
        } catch (err) {
          // Another node starting at the same moment added it first.
          existing = await this.#driver.findToken(hashToken(adminToken));
          if (!existing) throw err;
        }
      }
      if (existing && existing.userId !== admin.id) throw new Error('the admin token given is already a token of another user');
      return { created };
    }
    if (created) return { created, token: (await this.addToken(admin.id, 'admin (generated)')).token };
    return { created };
  }
}
