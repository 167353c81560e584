import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseStoreRef } from '../../domain/access.js';
import { itemWindow } from '../../domain/datasets/items.js';
import { type ItemQuery, parseItemTransform } from '../../domain/datasets/transform.js';
import type { Kvs } from '../../domain/index.js';
import { InvalidParameterError } from '../../errors.js';
import type { StoreRow } from '../../model.js';
import { readTextBody } from '../body.js';
import { requestToken } from '../caller.js';
import { boolParam, stringParam, toBool, toInt, toOptional, uintParam } from '../query.js';
import { binary, dataOf, errorResponses, header, noBody, storeIdParam } from '../schemas.js';
import { storageRoutes, TOKEN_ONLY } from '../storage-routes.js';
import { DATASET_FORMATS, formatItems, parseFormat } from './formats.js';

const TAGS = ['Datasets'];
const params = { type: 'object', properties: { datasetId: storeIdParam }, required: ['datasetId'] } as const;

/** What the API answers for `X-Apify-Pagination-Limit` when a read has no limit (apify-client reads it so). */
const NO_LIMIT = 999_999_999_999;

/** The query of an items read, as strings. */
type ItemsQuery = { [K in keyof ItemQuery]?: string } & {
  format?: string;
  offset?: string;
  limit?: string;
  desc?: string;
  attachment?: string;
  view?: string;
  signature?: string;
  bom?: string;
  delimiter?: string;
  skipHeaderRow?: string;
  xmlRoot?: string;
  xmlRow?: string;
  feedTitle?: string;
  feedDescription?: string;
};

const flag = (description: string) => ({ ...boolParam, description });
const list = (description: string) => ({ ...stringParam, description });

const itemsQuerySchema = {
  type: 'object',
  properties: {
    format: { ...stringParam, description: `${DATASET_FORMATS.join(', ')}; json when absent.` },
    offset: { ...uintParam, description: 'Items to skip: from the start, or from the end with `desc`.' },
    limit: { ...uintParam, description: 'At most this many items (default: all).' },
    desc: flag('Newest first.'),
    fields: list('Comma-separated fields to keep, in this order.'),
    outputFields: list('Comma-separated new names of the `fields`, position by position.'),
    omit: list('Comma-separated fields to leave out.'),
    unwind: list('Comma-separated fields whose arrays become one item per element (objects are merged).'),
    flatten: list('Comma-separated fields whose nested objects become `field.key` fields.'),
    clean: flag('`skipHidden` and `skipEmpty`.'),
    skipHidden: flag('Leave out fields starting with `#`.'),
    skipEmpty: flag('Leave out empty items (a page may then hold fewer than `limit`).'),
    simplified: flag('`fields=url,pageFunctionResult,errorInfo` and `unwind=pageFunctionResult`.'),
    skipFailedPages: flag('Leave out items with an `errorInfo` field.'),
    skipHeaderRow: flag('csv: no header row.'),
    attachment: flag('Answer with `Content-Disposition: attachment`.'),
    bom: flag('Start with a UTF-8 byte order mark (default: only csv).'),
    delimiter: { ...stringParam, description: 'csv: the delimiter, one character (default `,`).' },
    xmlRoot: { ...stringParam, description: 'xml: the root element (default `items`).' },
    xmlRow: { ...stringParam, description: 'xml: the element of each item (default `item`).' },
    feedTitle: { ...stringParam, description: 'rss: the channel title.' },
    feedDescription: { ...stringParam, description: 'rss: the channel description.' },
    view: { ...stringParam, description: "A view of the dataset's schema; refused when the schema has no such view." },
    signature: { ...stringParam, description: 'A storage-content signature (`itemsPublicUrl`, `createItemsPublicUrl`).' },
    token: { type: 'string' },
  },
} as const;

const paginationHeaders = {
  'X-Apify-Pagination-Offset': header('The offset asked for.'),
  'X-Apify-Pagination-Limit': header(`The limit asked for (${NO_LIMIT} without one).`),
  'X-Apify-Pagination-Count': header('Items read from the dataset for this answer (before skipEmpty and the like).'),
  'X-Apify-Pagination-Total': header("The dataset's item count."),
  'X-Apify-Pagination-Desc': header('`true` or `false`.'),
};

/** The view named by `view`, from the dataset's schema: its transformation's defaults, or a 400. */
function viewDefaults(store: StoreRow, view: string | undefined): ItemsQuery {
  if (view === undefined) return {};
  const schema = store.schema === null ? undefined : (JSON.parse(store.schema) as { views?: Record<string, unknown> });
  const found = schema?.views?.[view] as { transformation?: Record<string, unknown> } | undefined;
  if (!found || typeof found !== 'object')
    throw new InvalidParameterError(`The dataset has no view "${view}" (views come from the dataset schema).`);
  const t = found.transformation ?? {};
  const joined = (v: unknown) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string').join(',') : undefined);
  return { fields: joined(t.fields), omit: joined(t.omit), unwind: joined(t.unwind), flatten: joined(t.flatten) };
}

/** `Content-Disposition` of an attachment: the dataset's name (or id) with the format's extension. */
function attachmentName(store: StoreRow, extension: string): string {
  const base = (store.name ?? store.id).replace(/[^A-Za-z0-9._-]/g, '_');
  return `attachment; filename="dataset_${base}.${extension}"`;
}

async function sendItems(
  kvs: Kvs,
  publicUrl: () => string,
  req: FastifyRequest<{ Params: { datasetId: string }; Querystring: ItemsQuery }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const q = req.query;
  const format = parseFormat(q.format);
  const ref = parseStoreRef(req.params.datasetId, 'dataset');
  const store = await kvs.items.open(requestToken(req), ref, toOptional(q.signature));
  // The query's own transformation parameters win over the view's.
  const query: ItemsQuery = { ...viewDefaults(store, toOptional(q.view)), ...given(q) };
  const transform = parseItemTransform(query);
  // No limit, or 0, reads every item: the API treats 0 as none (apify-client drops a 0 for that reason).
  const asked = toInt(q.limit, 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = asked === 0 ? undefined : asked;
  const w = itemWindow(store.itemCount, toInt(q.offset, 0, 0, Number.MAX_SAFE_INTEGER), limit, toBool(q.desc));
  const out = formatItems(format, { pages: kvs.items.chunks(store, w), again: () => kvs.items.chunks(store, w) }, transform, {
    bom: toOptional(q.bom) === undefined ? undefined : toBool(q.bom),
    delimiter: q.delimiter,
    skipHeaderRow: toBool(q.skipHeaderRow),
    xmlRoot: toOptional(q.xmlRoot),
    xmlRow: toOptional(q.xmlRow),
    feedTitle: toOptional(q.feedTitle),
    feedDescription: toOptional(q.feedDescription),
    feedLink: `${publicUrl()}/v2/datasets/${store.id}/items`,
    datasetId: store.id,
    label: store.name ?? store.id,
  });
  // A HEAD reads no item.
  if (req.method === 'GET') kvs.items.countRead(store, w.to - w.from);
  reply
    .header('x-apify-pagination-offset', String(w.offset))
    .header('x-apify-pagination-limit', String(w.limit ?? NO_LIMIT))
    .header('x-apify-pagination-count', String(w.to - w.from))
    .header('x-apify-pagination-total', String(w.total))
    .header('x-apify-pagination-desc', String(w.desc))
    .type(out.contentType);
  if (toBool(q.attachment)) reply.header('content-disposition', attachmentName(store, out.extension));
  return reply.send(out.body);
}

/** The parameters given (empty counts as absent). */
function given(q: ItemsQuery): ItemsQuery {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (typeof v === 'string' && v !== '') out[k] = v;
  return out;
}

/** `/v2/datasets…`: the datasets, their items and statistics. */
export function datasetRoutes(app: FastifyInstance, kvs: Kvs, publicUrl: () => string): void {
  storageRoutes(
    app,
    kvs,
    kvs.datasets,
    {
      path: '/v2/datasets',
      param: 'datasetId',
      tag: 'Datasets',
      schemaRef: 'Dataset',
      operations: { collection: 'datasets', item: 'dataset' },
      noun: 'dataset',
      contents: 'all its items',
    },
    publicUrl,
  );

  app.get<{ Params: { datasetId: string }; Querystring: ItemsQuery }>(
    '/v2/datasets/:datasetId/items',
    {
      schema: {
        operationId: 'dataset_items_get',
        summary: 'Get items',
        description:
          'The items in push order (newest first with `desc`), streamed in the chosen format. Without a transformation, json and jsonl carry each item as the exact JSON text it was pushed with.',
        tags: TAGS,
        params,
        querystring: itemsQuerySchema,
        response: {
          200: {
            ...binary('The items.', 'application/json', paginationHeaders),
            content: Object.fromEntries(
              [
                'application/json',
                'application/jsonl',
                'text/csv',
                'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
                'application/xml',
                'text/html',
                'application/rss+xml',
              ].map((t) => [t, { schema: { type: 'string', format: 'binary' } }]),
            ),
          },
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    },
    (req, reply) => sendItems(kvs, publicUrl, req, reply),
  );

  app.post<{ Params: { datasetId: string } }>(
    '/v2/datasets/:datasetId/items',
    {
      schema: {
        operationId: 'dataset_items_post',
        summary: 'Push items',
        description:
          'Appends a JSON object or an array of objects (up to 9 MiB decoded; gzip, deflate or br accepted). All or nothing; the items of one push are contiguous.',
        tags: TAGS,
        security: TOKEN_ONLY,
        params,
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' } }] } },
          },
        },
        response: { 201: noBody('Stored.'), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const ref = parseStoreRef(req.params.datasetId, 'dataset');
      await kvs.items.push(requestToken(req), ref, async () => (await readTextBody(req.raw)) ?? '');
      return reply.code(201).send();
    },
  );

  app.get<{ Params: { datasetId: string } }>(
    '/v2/datasets/:datasetId/statistics',
    {
      schema: {
        operationId: 'dataset_statistics_get',
        summary: 'Get statistics',
        description: 'Field statistics come from a dataset schema with field definitions; openkvs keeps none, so they are null.',
        tags: TAGS,
        params,
        response: {
          200: dataOf(
            { type: 'object', required: ['fieldStatistics'], properties: { fieldStatistics: { type: 'null' } } },
            'The statistics.',
          ),
          ...errorResponses(401, 403, 404, 429),
        },
      },
    },
    async (req) => {
      await kvs.datasets.get(requestToken(req), parseStoreRef(req.params.datasetId, 'dataset'));
      return { data: { fieldStatistics: null } };
    },
  );
}
