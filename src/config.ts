import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { AccountAccess } from './domain/access.js';
import { CLOUD_RATE_LIMITS, type RateLimits } from './model.js';
import type { Durability, StorageSpec } from './storage/open.js';

export interface ServeConfig {
  host: string;
  port: number;
  storage: StorageSpec;
  /** Origin used in signed links; undefined means the listening address. */
  publicUrl: string | undefined;
  adminToken: string | undefined;
  maxRecordBytes: number;
  accountAccess: AccountAccess;
  logLevel: string;
  /** Per-store request rates, or undefined when off (the default). */
  rateLimits: RateLimits | undefined;
  /** Origins allowed to call the API from browsers: `*`, a list, or false for none. */
  corsOrigins: '*' | string[] | false;
  /** Unnamed stores not modified for this many days are deleted; 0 keeps them forever. */
  unnamedRetentionDays: number;
  /** How long a stopping server lets open connections finish before cutting them; 0 cuts at once. */
  shutdownTimeoutMs: number;
  /** Processes serving the port: 1 is this process alone; more run under a primary (cli/cluster-primary.ts). */
  workers: number;
}

/** A configuration value that cannot be used; the message is the one line the operator sees. */
export class ConfigError extends Error {}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 8910,
  storage: 'sqlite:./data/openkvs.sqlite',
  maxRecordBytes: 104_857_600,
  defaultAccess: 'ANYONE_WITH_ID_CAN_READ',
  logLevel: 'info',
  pgPoolSize: 10,
  rateLimit: 'off',
  rateLimitRecords: CLOUD_RATE_LIMITS.recordOpsPerSecond,
  rateLimitOther: CLOUD_RATE_LIMITS.otherPerSecond,
  corsOrigins: '*',
  unnamedRetentionDays: 7,
  durability: 'normal',
  shutdownTimeout: 10,
  workers: 1,
} as const;

/** Raw values by option name, as strings from flags or the environment. */
export type RawConfig = Partial<Record<keyof typeof ENV_NAMES, string>>;

/** Each option's environment variable. */
export const ENV_NAMES = {
  host: 'OPENKVS_HOST',
  port: 'OPENKVS_PORT',
  storage: 'OPENKVS_STORAGE',
  publicUrl: 'OPENKVS_PUBLIC_URL',
  adminToken: 'OPENKVS_ADMIN_TOKEN',
  maxRecordBytes: 'OPENKVS_MAX_RECORD_BYTES',
  defaultAccess: 'OPENKVS_DEFAULT_ACCESS',
  logLevel: 'OPENKVS_LOG_LEVEL',
  pgPoolSize: 'OPENKVS_PG_POOL_SIZE',
  rateLimit: 'OPENKVS_RATE_LIMIT',
  rateLimitRecords: 'OPENKVS_RATE_LIMIT_RECORDS',
  rateLimitOther: 'OPENKVS_RATE_LIMIT_OTHER',
  corsOrigins: 'OPENKVS_CORS_ORIGINS',
  unnamedRetentionDays: 'OPENKVS_UNNAMED_RETENTION_DAYS',
  durability: 'OPENKVS_DURABILITY',
  shutdownTimeout: 'OPENKVS_SHUTDOWN_TIMEOUT',
  workers: 'OPENKVS_WORKERS',
} as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function parseDurability(value: string): Durability {
  if (value !== 'normal' && value !== 'fsync') throw new ConfigError('--durability: must be normal or fsync');
  return value;
}

export function parseStorage(value: string, poolSize?: number, durability: Durability = 'normal'): StorageSpec {
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length);
    if (path === '')
      throw new ConfigError('--storage: "sqlite:" needs a file path, e.g. sqlite:./data/openkvs.sqlite or sqlite::memory:');
    return { kind: 'sqlite', path, durability };
  }
  if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value, poolSize };
  throw new ConfigError(`--storage: "${value}" is neither sqlite:<path> nor postgres://…`);
}

function parseInteger(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new ConfigError(`--${name}: "${value}" is not a whole number`);
  const n = Number(value.trim());
  if (n < min || n > max) throw new ConfigError(`--${name}: ${n} is outside ${min}..${max}`);
  return n;
}

/** Seconds, whole or with up to three decimals (milliseconds), as milliseconds. */
function parseSeconds(name: string, value: string, max: number): number {
  if (!/^\d+(\.\d{1,3})?$/.test(value.trim()))
    throw new ConfigError(`--${name}: "${value}" is not a number of seconds (such as 10 or 2.5)`);
  const seconds = Number(value.trim());
  if (seconds > max) throw new ConfigError(`--${name}: ${seconds} is outside 0..${max} seconds`);
  return Math.round(seconds * 1000);
}

/** Most workers accepted: far past any machine's cores, low enough that a typo does not fork thousands. */
const MAX_WORKERS = 256;

/** A number of worker processes, or `auto`: the CPUs this process may use. */
function parseWorkers(value: string, storage: StorageSpec): number {
  const workers = value.trim() === 'auto' ? availableParallelism() : parseInteger('workers', value, 1, MAX_WORKERS);
  // Each worker would open a database of its own, invisible to the others.
  if (workers > 1 && storage.kind === 'sqlite' && storage.path === ':memory:') {
    throw new ConfigError('--workers: sqlite::memory: lives in one process; give a file (sqlite:<path>) or PostgreSQL');
  }
  return workers;
}

/** `*`, `none`, or a comma-separated list of origins such as `https://app.example.com`. */
function parseCorsOrigins(value: string): '*' | string[] | false {
  const v = value.trim();
  if (v === '*') return '*';
  if (v === 'none') return false;
  const origins = v.split(',').map((o) => o.trim());
  for (const o of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(o))
      throw new ConfigError(`--cors-origins: "${o}" is not an origin (scheme://host[:port]), * or none`);
  }
  return origins;
}

function parsePublicUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`--public-url: "${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('--public-url: must be http:// or https://');
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/** Where an option's value came from, in the order they win. */
export type ConfigSource = 'flag' | 'environment' | 'file' | 'default';

/**
 * Each option's value and where it came from: the first non-empty of flag, environment variable and
 * configuration file; `undefined` (source `default`) when none gives one.
 */
export function pickConfig(
  flags: RawConfig,
  env: NodeJS.ProcessEnv = process.env,
  file: RawConfig = {},
): Record<keyof typeof ENV_NAMES, { value: string | undefined; source: ConfigSource }> {
  const out = {} as Record<keyof typeof ENV_NAMES, { value: string | undefined; source: ConfigSource }>;
  for (const k of Object.keys(ENV_NAMES) as (keyof typeof ENV_NAMES)[]) {
    const candidates: [string | undefined, ConfigSource][] = [
      [flags[k], 'flag'],
      [env[ENV_NAMES[k]], 'environment'],
      [file[k], 'file'],
    ];
    const hit = candidates.find(([v]) => v !== undefined && v !== '');
    out[k] = hit ? { value: hit[0], source: hit[1] } : { value: undefined, source: 'default' };
  }
  return out;
}

/**
 * The effective serve configuration: flags over environment over configuration file (`file`, as read
 * by `loadConfigFile`) over defaults. Throws `ConfigError` with a one-line reason for any bad value.
 */
export function resolveServeConfig(flags: RawConfig, env: NodeJS.ProcessEnv = process.env, file: RawConfig = {}): ServeConfig {
  const picked = pickConfig(flags, env, file);
  const pick = (k: keyof typeof ENV_NAMES): string | undefined => picked[k].value;
  const access = pick('defaultAccess') ?? DEFAULTS.defaultAccess;
  if (access !== 'ANYONE_WITH_ID_CAN_READ' && access !== 'RESTRICTED') {
    throw new ConfigError('--default-access: must be ANYONE_WITH_ID_CAN_READ or RESTRICTED');
  }
  const logLevel = pick('logLevel') ?? DEFAULTS.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level: must be one of ${LOG_LEVELS.join(', ')}`);
  const adminToken = pick('adminToken');
  if (adminToken !== undefined && !/^[\x21-\x7e]{1,512}$/.test(adminToken)) {
    throw new ConfigError('--admin-token: must be 1 to 512 printable characters without spaces');
  }
  const publicUrl = pick('publicUrl');
  const rateLimit = pick('rateLimit') ?? DEFAULTS.rateLimit;
  if (rateLimit !== 'on' && rateLimit !== 'off') throw new ConfigError('--rate-limit: must be on or off');
  const storage = parseStorage(
    pick('storage') ?? DEFAULTS.storage,
    parseInteger('pg-pool-size', pick('pgPoolSize') ?? String(DEFAULTS.pgPoolSize), 1, 1000),
    parseDurability(pick('durability') ?? DEFAULTS.durability),
  );
  const rateLimits: RateLimits = {
    recordOpsPerSecond: parseInteger('rate-limit-records', pick('rateLimitRecords') ?? String(DEFAULTS.rateLimitRecords), 1, 1e9),
    otherPerSecond: parseInteger('rate-limit-other', pick('rateLimitOther') ?? String(DEFAULTS.rateLimitOther), 1, 1e9),
  };
  return {
    host: pick('host') ?? DEFAULTS.host,
    port: parseInteger('port', pick('port') ?? String(DEFAULTS.port), 0, 65535),
    storage,
    publicUrl: publicUrl === undefined ? undefined : parsePublicUrl(publicUrl),
    adminToken,
    maxRecordBytes: parseInteger(
      'max-record-bytes',
      pick('maxRecordBytes') ?? String(DEFAULTS.maxRecordBytes),
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    accountAccess: access,
    logLevel,
    rateLimits: rateLimit === 'on' ? rateLimits : undefined,
    corsOrigins: parseCorsOrigins(pick('corsOrigins') ?? DEFAULTS.corsOrigins),
    unnamedRetentionDays: parseInteger(
      'unnamed-retention-days',
      pick('unnamedRetentionDays') ?? String(DEFAULTS.unnamedRetentionDays),
      0,
      36_500,
    ),
    shutdownTimeoutMs: parseSeconds('shutdown-timeout', pick('shutdownTimeout') ?? String(DEFAULTS.shutdownTimeout), 86_400),
    workers: parseWorkers(pick('workers') ?? String(DEFAULTS.workers), storage),
  };
}

/** The configuration file looked for in the working directory. */
export const CONFIG_FILE_NAME = 'openkvs.config.json';
/** The environment variable naming a configuration file (like `--config`). */
export const CONFIG_ENV = 'OPENKVS_CONFIG';

export interface ConfigFile {
  /** Absolute path of the file read. */
  path: string;
  values: RawConfig;
}

/**
 * Reads the configuration file: `explicit` (`--config`), else `$OPENKVS_CONFIG`, else
 * `openkvs.config.json` in `cwd` if there is one. A file named explicitly must exist. The file is a
 * JSON object whose keys are the option names of `ENV_NAMES` (`host`, `port`, `storage`, `publicUrl`,
 * …) with string, number or boolean values.
 */
export function loadConfigFile(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): ConfigFile | undefined {
  const named = explicit || env[CONFIG_ENV] || undefined;
  const path = resolve(cwd, named ?? CONFIG_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (named === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`--config: cannot read ${path}: ${(err as Error).message}`);
  }
  return { path, values: parseConfigFile(text, path) };
}

/** Checks a configuration file's text and turns its values into the strings flags would give. */
export function parseConfigFile(text: string, path: string): RawConfig {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError(`${path}: must be a JSON object`);
  const values: RawConfig = {};
  for (const [key, value] of Object.entries(data)) {
    if (!Object.hasOwn(ENV_NAMES, key)) {
      throw new ConfigError(`${path}: unknown option "${key}" (known: ${Object.keys(ENV_NAMES).join(', ')})`);
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new ConfigError(`${path}: "${key}" must be a string or a number`);
    }
    values[key as keyof typeof ENV_NAMES] = String(value);
  }
  return values;
}
