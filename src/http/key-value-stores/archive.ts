import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZipFile } from 'yazl';
import { parseStoreRef } from '../../domain/access.js';
import type { Kvs } from '../../domain/index.js';
import type { RecordsArchive } from '../../domain/key-value-stores/records.js';
import { InvalidRecordKeyError } from '../../errors.js';
import { requestToken } from '../caller.js';
import { pathEndsWithSlash, stringParam, toOptional } from '../query.js';
import { recordPayload } from '../record-payload.js';
import { binary, errorResponses, header, storeIdParam } from '../schemas.js';

/**
 * Adds the archive's records to the ZIP one page of keys at a time: the next page is fetched when
 * the ZIP reaches the last record of the current one, and each record is opened only when its turn
 * comes, so neither the keys of a large store nor its values are held in memory at once.
 */
async function addPages(zip: ZipFile, archive: RecordsArchive): Promise<void> {
  const next = await archive.pages.next();
  if (next.done) {
    zip.end();
    return;
  }
  const keys = next.value;
  if (keys.length === 0) return addPages(zip, archive);
  const mtime = new Date();
  keys.forEach((key, i) => {
    zip.addReadStreamLazy(key, { mtime }, (cb) => {
      (async () => {
        if (i === keys.length - 1) await addPages(zip, archive);
        const record = await archive.open(key);
        // A record deleted since the listing becomes an empty file.
        const body = record ? recordPayload(record, false) : Buffer.alloc(0);
        return Buffer.isBuffer(body) ? Readable.from([body]) : body;
      })().then(
        (stream) => cb(null, stream),
        (err: Error) => cb(err, undefined as never),
      );
    });
  });
}

/** `GET /v2/key-value-stores/{storeId}/records`: the records as a ZIP, one file per key. */
export function archiveRoutes(app: FastifyInstance, kvs: Kvs): void {
  app.get<{ Params: { storeId: string }; Querystring: { prefix?: string; collection?: string; signature?: string } }>(
    '/v2/key-value-stores/:storeId/records',
    {
      schema: {
        operationId: 'keyValueStore_records_get',
        summary: 'Download records as a ZIP',
        description: 'Every record (or those of a prefix or collection) as one file per key, streamed.',
        tags: ['Records'],
        params: { type: 'object', properties: { storeId: storeIdParam }, required: ['storeId'] },
        querystring: {
          type: 'object',
          properties: {
            prefix: { ...stringParam, description: 'Only keys that start with this.' },
            collection: { ...stringParam, description: "Only the keys of this collection of the store's schema." },
            signature: { ...stringParam, description: 'A storage-content signature (`recordsPublicUrl`): read without a token.' },
          },
        },
        response: {
          200: binary('The records as a ZIP archive.', 'application/zip', {
            'Content-Disposition': header('`attachment; filename="<store name or id>.zip"`'),
          }),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    },
    async (req, reply) => {
      // `records/` is a record route with an empty key, not the archive.
      if (pathEndsWithSlash(req.url)) throw new InvalidRecordKeyError();
      const archive = await kvs.records.archive(requestToken(req), parseStoreRef(req.params.storeId, 'kvs'), {
        prefix: toOptional(req.query.prefix),
        collection: toOptional(req.query.collection),
        signature: toOptional(req.query.signature),
      });
      // Loaded with the first download, not at start.
      const zip = new (await import('yazl')).ZipFile();
      const output = zip.outputStream as Readable;
      zip.on('error', (err: Error) => output.destroy(err));
      await addPages(zip, archive);
      reply.header('content-type', 'application/zip');
      reply.header('content-disposition', `attachment; filename="${archive.store.name ?? archive.store.id}.zip"`);
      return reply.send(output);
    },
  );
}
