#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, DEFAULTS, ENV_NAMES, parseStorage, type RawConfig, resolveServeConfig } from '../config.js';
import { ApiError } from '../errors.js';
import { StorageOpenError } from '../storage/open.js';
import { CliError, createToken, createUser, listUsers, revokeToken } from './admin.js';
import { startServer } from './serve.js';

const print = (line: string) => process.stdout.write(`${line}\n`);

function fail(err: unknown): never {
  const known =
    err instanceof ConfigError || err instanceof CliError || err instanceof ApiError || err instanceof StorageOpenError;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`openkvs: ${known ? message : `error: ${message}`}\n`);
  process.exit(1);
}

const storageOption = () =>
  new Option('--storage <url>', `storage: sqlite:<path>, sqlite::memory: or postgres://… (env ${ENV_NAMES.storage})`);

function storageOf(opts: { storage?: string }) {
  return parseStorage(opts.storage ?? process.env[ENV_NAMES.storage] ?? DEFAULTS.storage);
}

const program = new Command('openkvs')
  .description('A self-hostable key-value store server speaking the Apify API v2 key-value store endpoints.')
  .showHelpAfterError();

program
  .command('serve', { isDefault: true })
  .description('run the HTTP server')
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
  .option('--pg-pool-size <n>', `PostgreSQL connections per node (env ${ENV_NAMES.pgPoolSize}, default ${DEFAULTS.pgPoolSize})`)
  .option(
    '--log-level <level>',
    `fatal, error, warn, info, debug, trace or silent (env ${ENV_NAMES.logLevel}, default ${DEFAULTS.logLevel})`,
  )
  .action(async (opts: RawConfig) => {
    try {
      const server = await startServer(resolveServeConfig(opts));
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        print(`openkvs: ${signal} received, finishing requests in flight`);
        server.close().then(
          () => process.exit(0),
          (err) => fail(err),
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    } catch (err) {
      fail(err);
    }
  });

const users = program.command('users').description('manage users');
users
  .command('create <name>')
  .description('create a user and print their first API token (the last line of output)')
  .addOption(storageOption())
  .action((name: string, opts: { storage?: string }) => createUser(storageOf(opts), name, print).catch(fail));
users
  .command('list')
  .description('list users')
  .addOption(storageOption())
  .action((opts: { storage?: string }) => listUsers(storageOf(opts), print).catch(fail));

const tokens = program.command('tokens').description('manage API tokens');
tokens
  .command('create <user>')
  .description('add an API token to a user and print it (the last line of output)')
  .option('--label <text>', 'a note to recognise the token by')
  .addOption(storageOption())
  .action((user: string, opts: { storage?: string; label?: string }) =>
    createToken(storageOf(opts), user, opts.label, print).catch(fail),
  );
tokens
  .command('revoke <token>')
  .description('revoke an API token')
  .addOption(storageOption())
  .action((token: string, opts: { storage?: string }) => revokeToken(storageOf(opts), token, print).catch(fail));

program.parseAsync(process.argv).catch(fail);
