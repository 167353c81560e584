import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { freshSchema } from '../helpers/postgres.js';
import { describeDriverConformance } from './suite.js';

describeDriverConformance('postgres', async () => {
  const schema = await freshSchema();
  return { driver: await PostgresDriver.connect({ url: schema.url, poolSize: 4, sweepIntervalMs: 0 }), cleanup: schema.drop };
});
