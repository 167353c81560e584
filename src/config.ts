import type { AccountAccess } from './domain/access.js';
import type { StorageSpec } from './storage/open.js';

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
} as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function parseStorage(value: string, poolSize?: number): StorageSpec {
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length);
    if (path === '')
      throw new ConfigError('--storage: "sqlite:" needs a file path, e.g. sqlite:./data/openkvs.sqlite or sqlite::memory:');
    return { kind: 'sqlite', path };
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

/**
 * The effective serve configuration: flags over environment over defaults. Throws `ConfigError`
 * with a one-line reason for any bad value.
 */
export function resolveServeConfig(flags: RawConfig, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const pick = (k: keyof typeof ENV_NAMES): string | undefined => {
    const v = flags[k] ?? env[ENV_NAMES[k]];
    return v === undefined || v === '' ? undefined : v;
  };
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
  return {
    host: pick('host') ?? DEFAULTS.host,
    port: parseInteger('port', pick('port') ?? String(DEFAULTS.port), 0, 65535),
    storage: parseStorage(
      pick('storage') ?? DEFAULTS.storage,
      parseInteger('pg-pool-size', pick('pgPoolSize') ?? String(DEFAULTS.pgPoolSize), 1, 1000),
    ),
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
  };
}
