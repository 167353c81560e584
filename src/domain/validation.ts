import { GENERAL_ACCESS, type GeneralAccess } from '../storage/driver.js';

/** apify-shared KEY_VALUE_STORE_KEY_REGEX. */
export const RECORD_KEY_REGEX = /^[a-zA-Z0-9!\-_.'()]{1,256}$/;
/** DNS-safe store names, at most 63 characters. */
export const STORE_NAME_REGEX = /^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
export const STORE_NAME_MAX = 63;
/** apify-shared APIFY_ID_REGEX. */
export const ID_REGEX = /^[a-zA-Z0-9]{17}$/;
/** Usernames follow the store-name rules (they appear in `username~name`). */
export const USERNAME_REGEX = STORE_NAME_REGEX;
export const TITLE_MAX = 1024;

export const STORE_NAME_RULE =
  "name can only contain letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-') but only in the middle of the string (e.g. 'my-value-1'), at most 63 characters";

export function isValidRecordKey(key: string): boolean {
  return RECORD_KEY_REGEX.test(key);
}

export function isValidStoreName(name: string): boolean {
  return name.length <= STORE_NAME_MAX && STORE_NAME_REGEX.test(name);
}

export function isGeneralAccess(value: unknown): value is GeneralAccess {
  return typeof value === 'string' && (GENERAL_ACCESS as readonly string[]).includes(value);
}
