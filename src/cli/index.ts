#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, loadConfigFile, type RawConfig, resolveServeConfig } from '../config.js';
import { ApiError } from '../errors.js';
import { StorageTemporaryError } from '../storage/errors.js';
import { StorageOpenError } from '../storage/open.js';
import { CliError, createToken, createUser, deleteUser, listTokens, listUsers, revokeToken } from './admin.js';
import { WORKER_CONFIG_ENV } from './cluster-messages.js';
import { effectiveConfig, formatConfig } from './config-command.js';
import { addServeOptions, cliContext, type Output, type StorageOptions, userOption, withStorage } from './options.js';
import { startServer } from './serve.js';
import { createStore, deleteStore, listStores } from './stores.js';

const print = (line: string) => process.stdout.write(`${line}\n`);
const output: Output = { print, warn: (line) => process.stderr.write(`${line}\n`) };

function fail(err: unknown): never {
  const known =
    err instanceof ConfigError ||
    err instanceof CliError ||
    err instanceof ApiError ||
    err instanceof StorageOpenError ||
    err instanceof StorageTemporaryError;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`openkvs: ${known ? message : `error: ${message}`}\n`);
  process.exit(1);
}

/** Runs an administration command with the storage its options, environment and configuration file name. */
const run =
  <O extends StorageOptions, A extends unknown[]>(
    fn: (ctx: ReturnType<typeof cliContext>, opts: O, ...args: A) => Promise<void>,
  ) =>
  async (...args: [...A, O, Command]) => {
    const opts = args[args.length - 2] as O;
    try {
      await fn(cliContext(opts), opts, ...(args.slice(0, -2) as A));
    } catch (err) {
      fail(err);
    }
  };

const collect = (value: string, previous: string[]) => [...previous, value];

const program = new Command('openkvs')
  .description('A self-hostable key-value store server speaking the Apify API v2 key-value store endpoints.')
  .showHelpAfterError();

addServeOptions(program.command('serve', { isDefault: true }).description('run the HTTP server')).action(
  async (opts: RawConfig & { config?: string }) => {
    try {
      // A worker of `--workers N` runs with the configuration its primary resolved (cluster-primary.ts);
      // the cluster code is loaded only then, so that a single process starts without it.
      if (process.env[WORKER_CONFIG_ENV]) {
        const worker = await import('./cluster-worker.js');
        if (worker.isClusterWorker()) return await worker.runWorker();
      }
      const file = loadConfigFile(opts.config);
      const config = resolveServeConfig(opts, process.env, file?.values);
      if (config.workers > 1) return await (await import('./cluster-primary.js')).runPrimary(config, print);
      const server = await startServer(config);
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
  },
);

addServeOptions(
  program
    .command('config')
    .description(
      'print the configuration serve would run with (flags > environment > configuration file > defaults), secrets masked',
    ),
)
  .option('--json', 'print it as JSON')
  .action((opts: RawConfig & { config?: string; json?: boolean }) => {
    try {
      const config = effectiveConfig(opts);
      if (opts.json) print(JSON.stringify(config, null, 2));
      else for (const line of formatConfig(config)) print(line);
    } catch (err) {
      fail(err);
    }
  });

const users = program.command('users').description('manage users');
withStorage(users.command('create <name>'))
  .description('create a user and print their first API token (the last line of output)')
  .action(run((ctx, _o, name: string) => createUser(ctx.storage, name, print)));
withStorage(users.command('list'))
  .description('list users: name, id, creation time (tab-separated)')
  .action(run((ctx) => listUsers(ctx.storage, print)));
withStorage(users.command('delete <name>'))
  .description('delete a user with all their stores and tokens')
  .action(run((ctx, _o, name: string) => deleteUser(ctx.storage, name, print)));

const tokens = program.command('tokens').description('manage API tokens');
withStorage(tokens.command('create <user>'))
  .description('add an API token to a user and print it (the last line of output)')
  .option('--label <text>', 'a note to recognise the token by')
  .action(run((ctx, o: StorageOptions & { label?: string }, user: string) => createToken(ctx.storage, user, o.label, print)));
withStorage(tokens.command('list <user>'))
  .description("list a user's tokens: id, label, creation time (tab-separated); tokens themselves are never shown")
  .action(run((ctx, _o, user: string) => listTokens(ctx.storage, user, print)));
withStorage(tokens.command('revoke [token]'))
  .description('revoke an API token, given as itself or by the id that tokens list shows')
  .option('--id <id>', 'the id of the token to revoke')
  .action(
    run((ctx, o: StorageOptions & { id?: string }, token: string | undefined) =>
      revokeToken(ctx.storage, { token, id: o.id }, print),
    ),
  );

type UserOptions = StorageOptions & { user: string };
const stores = program.command('stores').description("manage a user's key-value stores");
withStorage(stores.command('list'))
  .description('list the stores of a user: id, name (- when unnamed), bytes stored, last modification (tab-separated)')
  .addOption(userOption())
  .action(run((ctx, o: UserOptions) => listStores(ctx, o.user, print)));
withStorage(stores.command('create [name]'))
  .description('create a store (unnamed without a name) and print its id (the last line of output)')
  .addOption(userOption())
  .action(run((ctx, o: UserOptions, name: string | undefined) => createStore(ctx, o.user, name, print)));
withStorage(stores.command('delete <store>'))
  .description('delete a store, given by name or id, with all its records')
  .addOption(userOption())
  .action(run((ctx, o: UserOptions, store: string) => deleteStore(ctx, o.user, store, print)));

type TransferCliOptions = UserOptions & { store: string[]; dataset: string[]; queue: string[]; append?: boolean };
// None given: everything; any given: only what they name.
const ALL = 'all when none of --store, --dataset, --queue is given';
const storeOption = (what: string) => new Option('--store <name>', what).argParser(collect).default([], ALL);
const datasetOption = (what: string) => new Option('--dataset <name>', what).argParser(collect).default([], ALL);
const queueOption = (what: string) => new Option('--queue <name>', what).argParser(collect).default([], ALL);
const transfer = (dir: string, o: TransferCliOptions) => ({
  dir,
  user: o.user,
  stores: o.store,
  datasets: o.dataset,
  queues: o.queue,
  append: o.append,
});

withStorage(program.command('import <dir>'))
  .description(
    'import DIR/key_value_stores/<store>/<key>.<ext>, DIR/datasets/<dataset>/000000001.json… and ' +
      'DIR/request_queues/<queue>/<request id>.json (the local storage of Crawlee and the Apify CLI) into stores, ' +
      'datasets and request queues named after the folders; with --store, --dataset or --queue, only those',
  )
  .addOption(userOption())
  .addOption(storeOption('import only this store folder (repeatable)'))
  .addOption(datasetOption('import only this dataset folder (repeatable)'))
  .addOption(queueOption('import only this request queue folder (repeatable)'))
  .option(
    '--append',
    'add the items after those of a dataset that already has some, and to a request queue that has requests the ones it lacks (refused otherwise)',
  )
  .action(
    run(async (ctx, o: TransferCliOptions, dir: string) =>
      // Loaded when used: `serve` starts without the import and export code (and progress bars).
      (await import('./import.js')).importStorage(ctx, transfer(dir, o), output),
    ),
  );
withStorage(program.command('export <dir>'))
  .description(
    'export stores to DIR/key_value_stores/<name or id>/<key>.<ext>, datasets to DIR/datasets/<name or id>/000000001.json… ' +
      'and request queues to DIR/request_queues/<name or id>/<request id>.json, the layout Crawlee and the Apify CLI read; ' +
      'with --store, --dataset or --queue, only those',
  )
  .addOption(userOption())
  .addOption(storeOption('export only this store, by name or id (repeatable)'))
  .addOption(datasetOption('export only this dataset, by name or id (repeatable)'))
  .addOption(queueOption('export only this request queue, by name or id (repeatable)'))
  .action(
    run(async (ctx, o: TransferCliOptions, dir: string) =>
      (await import('./export.js')).exportStorage(ctx, transfer(dir, o), output),
    ),
  );

program.parseAsync(process.argv).catch(fail);
