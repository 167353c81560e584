import type { TestProject } from 'vitest/node';
import { type Cluster, startCluster } from './postgres-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the PostgreSQL server the tests use. */
    pgUrl: string;
  }
}

let cluster: Cluster | undefined;

/**
 * Starts one throwaway PostgreSQL cluster for the whole run, unless OPENKVS_TEST_PG_URL names a
 * server to use instead. Tests get their own schema each (see test/helpers/postgres.ts).
 */
export async function setup(project: TestProject): Promise<void> {
  const given = process.env.OPENKVS_TEST_PG_URL;
  if (given) {
    project.provide('pgUrl', given);
    return;
  }
  cluster = await startCluster();
  project.provide('pgUrl', cluster.url);
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
