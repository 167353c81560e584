import { type Command, Option } from 'commander';
import {
  CONFIG_ENV,
  CONFIG_FILE_NAME,
  type ConfigFile,
  DEFAULTS,
  ENV_NAMES,
  loadConfigFile,
  type RawConfig,
  resolveServeConfig,
} from '../config.js';
import type { StorageSpec } from '../storage/open.js';

/** Options every command that opens the storage takes. */
export interface StorageOptions {
  storage?: string;
  config?: string;
}

export interface TransferOptions {
  dir: string;
  /** The user whose stores these are. */
  user: string;
  /**
   * Only these stores (folder names for import, names or ids for export). With no stores, datasets
   * or queues named, everything; with any, only what is named.
   */
  stores: string[];
  /** Only these datasets, as `stores`. */
  datasets: string[];
  /** Only these request queues, as `stores`. */
  queues: string[];
  /**
   * Import: add items to datasets that already have some, and requests to queues that already
   * have some (otherwise refused).
   */
  append?: boolean;
}

export interface Output {
  /** A line of the result, on standard output. */
  print(line: string): void;
  /** A line about something skipped, on standard error. */
  warn(line: string): void;
}

/** Parts of a summary line: `a`, `a and b`, `a, b and c`. */
export const listed = (parts: string[]) =>
  parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}` : (parts[0] ?? '');

/** What the administration commands need of the configuration. */
export interface CliContext {
  storage: StorageSpec;
  /** `OPENKVS_ADMIN_TOKEN` or the file's `adminToken`: admin's token, should a command create admin. */
  adminToken: string | undefined;
  maxRecordBytes: number;
  file: ConfigFile | undefined;
}

export const configOption = () =>
  new Option('--config <path>', `configuration file (env ${CONFIG_ENV}, default ./${CONFIG_FILE_NAME} if present)`);

export const storageOption = () =>
  new Option('--storage <url>', `storage: sqlite:<path>, sqlite::memory: or postgres://… (env ${ENV_NAMES.storage})`);

export const userOption = () => new Option('--user <name>', 'the user whose stores these are').default('admin');

/** Adds `--storage` and `--config`. */
export function withStorage(cmd: Command): Command {
  return cmd.addOption(storageOption()).addOption(configOption());
}

/**
 * The configuration an administration command works with: `--storage` over the environment over
 * the configuration file over the defaults, validated the way `serve` validates it.
 */
export function cliContext(opts: StorageOptions, env: NodeJS.ProcessEnv = process.env): CliContext {
  const file = loadConfigFile(opts.config, env);
  // Only the options these commands use are read, so that a bad value of another (say the port)
  // does not stop them.
  const used = ['storage', 'pgPoolSize', 'adminToken', 'maxRecordBytes', 'durability'] as const;
  const usedEnv: NodeJS.ProcessEnv = {};
  const usedFile: RawConfig = {};
  for (const k of used) {
    usedEnv[ENV_NAMES[k]] = env[ENV_NAMES[k]];
    usedFile[k] = file?.values[k];
  }
  const config = resolveServeConfig({ storage: opts.storage }, usedEnv, usedFile);
  return { storage: config.storage, adminToken: config.adminToken, maxRecordBytes: config.maxRecordBytes, file };
}

/** The serve flags, each with its environment variable and default in the help text. */
export function addServeOptions(cmd: Command): Command {
  return cmd
    .option('--host <host>', `address to listen on (env ${ENV_NAMES.host}, default ${DEFAULTS.host})`)
    .option('--port <port>', `port to listen on, 0 for any free port (env ${ENV_NAMES.port}, default ${DEFAULTS.port})`)
    .addOption(storageOption())
    .option('--public-url <url>', `origin used in signed links (env ${ENV_NAMES.publicUrl}, default the listening address)`)
    .option('--admin-token <token>', `token of the user admin (env ${ENV_NAMES.adminToken})`)
    .option(
      '--max-record-bytes <n>',
      `largest record accepted (env ${ENV_NAMES.maxRecordBytes}, default ${DEFAULTS.maxRecordBytes})`,
    )
    .option(
      '--default-access <value>',
      `what FOLLOW_USER_SETTING means: ANYONE_WITH_ID_CAN_READ or RESTRICTED (env ${ENV_NAMES.defaultAccess}, default ${DEFAULTS.defaultAccess})`,
    )
    .option(
      '--durability <normal|fsync>',
      `SQLite: normal (committed to the write-ahead log, survives a killed process) or fsync (every commit fsynced before the answer, concurrent writes grouped into one commit) (env ${ENV_NAMES.durability}, default ${DEFAULTS.durability})`,
    )
    .option('--pg-pool-size <n>', `PostgreSQL connections per node (env ${ENV_NAMES.pgPoolSize}, default ${DEFAULTS.pgPoolSize})`)
    .option('--rate-limit <on|off>', `per-store rate limits (env ${ENV_NAMES.rateLimit}, default ${DEFAULTS.rateLimit})`)
    .option(
      '--rate-limit-records <n>',
      `record operations per second per store when on (env ${ENV_NAMES.rateLimitRecords}, default ${DEFAULTS.rateLimitRecords})`,
    )
    .option(
      '--rate-limit-other <n>',
      `other requests per second per store when on (env ${ENV_NAMES.rateLimitOther}, default ${DEFAULTS.rateLimitOther})`,
    )
    .option(
      '--cors-origins <list>',
      `origins allowed to call the API from browsers: *, none or a comma-separated list (env ${ENV_NAMES.corsOrigins}, default ${DEFAULTS.corsOrigins})`,
    )
    .option(
      '--unnamed-retention-days <n>',
      `delete unnamed stores not modified for this many days, 0 to keep them (env ${ENV_NAMES.unnamedRetentionDays}, default ${DEFAULTS.unnamedRetentionDays})`,
    )
    .option(
      '--shutdown-timeout <seconds>',
      `on SIGTERM, how long requests in flight may finish before their connections are cut, 0 at once (env ${ENV_NAMES.shutdownTimeout}, default ${DEFAULTS.shutdownTimeout})`,
    )
    .option(
      '--workers <n|auto>',
      `processes serving the port, auto for one per CPU; PostgreSQL's pool is per worker (env ${ENV_NAMES.workers}, default ${DEFAULTS.workers})`,
    )
    .option(
      '--log-level <level>',
      `fatal, error, warn, info, debug, trace or silent (env ${ENV_NAMES.logLevel}, default ${DEFAULTS.logLevel})`,
    )
    .addOption(configOption());
}
