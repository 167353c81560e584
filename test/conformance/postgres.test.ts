import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { freshSchema } from '../helpers/postgres.js';
import { describeDatasetConformance } from './datasets.js';
import { describeQueueConformance } from './queues.js';
import { describeDriverConformance } from './suite.js';

describeDriverConformance('postgres', async () => {
  const schema = await freshSchema();
  return { driver: await PostgresDriver.connect({ url: schema.url, poolSize: 4, sweepIntervalMs: 0 }), cleanup: schema.drop };
});

describeDatasetConformance('postgres (several nodes)', async () => {
  const schema = await freshSchema();
  const connect = () => PostgresDriver.connect({ url: schema.url, poolSize: 4, sweepIntervalMs: 0 });
  return { driver: await connect(), another: connect, cleanup: schema.drop };
});

describeQueueConformance('postgres (several nodes)', async () => {
  const schema = await freshSchema();
  const connect = () => PostgresDriver.connect({ url: schema.url, poolSize: 4, sweepIntervalMs: 0 });
  return { driver: await connect(), another: connect, cleanup: schema.drop };
});
