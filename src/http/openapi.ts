import swagger, { type SwaggerTransform, type SwaggerTransformObject } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { packageVersion } from '../paths.js';
import { SHARED_SCHEMAS } from './schemas.js';

/** An OpenAPI request body object. */
export interface DocumentedBody {
  required: boolean;
  description?: string;
  content: Record<string, { schema: object }>;
}

declare module 'fastify' {
  interface FastifySchema {
    /**
     * The request body as the OpenAPI document shows it. Handlers read bodies raw (records are
     * streamed, store bodies decoded by `readJsonBody`), so Fastify never validates them.
     */
    requestBody?: DocumentedBody;
  }
}

/** Where the document and the documentation page are served. */
export const OPENAPI_PATH = '/v2/openapi.json';
export const DOCS_PREFIX = '/docs';

/** The operation field that carries `requestBody` from `transform` to `transformObject`. */
const BODY_FIELD = 'x-openkvs-request-body';

/**
 * Per route: the record key wildcard `*` becomes `{recordKey}`, the documented body travels as an
 * `x-` field (the only kind @fastify/swagger copies to the operation), and the explicit HEAD route
 * keeps its own operation id (the plugin suffixes HEAD ids with `-head`).
 */
const transform: SwaggerTransform = ({ schema, url, route }) => {
  if (!schema) return { schema, url };
  const { requestBody, ...rest } = schema as FastifySchema & Record<string, unknown>;
  const out: Record<string, unknown> = { ...rest };
  if (requestBody) out[BODY_FIELD] = requestBody;
  const params = rest.params as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  if (params?.properties && '*' in params.properties) {
    const { '*': key, ...others } = params.properties;
    out.params = {
      ...params,
      properties: { ...others, recordKey: key },
      required: params.required?.map((name) => (name === '*' ? 'recordKey' : name)),
    };
  }
  const id = rest.operationId;
  if (route.method === 'HEAD' && typeof id === 'string' && id.endsWith('-head')) out.operationId = id.slice(0, -5);
  return { schema: out, url: url.replace(/\*$/, '{recordKey}') };
};

type Operations = Record<string, Record<string, unknown>>;

/** Moves each documented body into place as the operation's `requestBody`. */
const transformObject: SwaggerTransformObject = (document) => {
  if (!('openapiObject' in document)) return document.swaggerObject;
  const { openapiObject } = document;
  for (const item of Object.values((openapiObject.paths ?? {}) as Record<string, Operations>)) {
    for (const operation of Object.values(item)) {
      if (typeof operation !== 'object' || operation === null || !(BODY_FIELD in operation)) continue;
      operation.requestBody = operation[BODY_FIELD];
      delete operation[BODY_FIELD];
    }
  }
  return openapiObject;
};

/**
 * Collects the routes into an OpenAPI 3.1 document. Register before the routes: the document
 * describes the routes added after it.
 */
export function installOpenApi(app: FastifyInstance): void {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'openkvs',
        version: packageVersion(),
        description:
          'The key-value store endpoints of the Apify API v2, served by openkvs. JSON answers are wrapped in `{"data": …}`; ' +
          'errors are `{"error": {"type", "message"}}`. Reads may be anonymous, by store id, where the store allows it.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An openkvs API token.' },
          tokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'The token as `?token=`.' },
        },
      },
      // A token is optional unless an operation says otherwise (`{}` is anonymous access).
      security: [{ bearerAuth: [] }, { tokenQuery: [] }, {}],
      tags: [
        { name: 'Key-value stores', description: 'Stores: list, get or create, get, update, delete.' },
        { name: 'Records', description: 'Keys and records of a store.' },
        { name: 'Operations', description: 'Health, metrics and this document.' },
        { name: 'Console', description: 'The web console.' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
    transform,
    transformObject,
  });
}

const DOCS_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** `GET /v2/openapi.json` and the documentation page at `/docs`; register after the routes it should not hide. */
export function openApiRoutes(app: FastifyInstance): void {
  let document: string | undefined;
  app.get(
    OPENAPI_PATH,
    {
      schema: {
        operationId: 'openapi_get',
        summary: 'This OpenAPI document',
        tags: ['Operations'],
        security: [],
        response: {
          200: { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
    },
    async (_req, reply) => {
      document ??= JSON.stringify(app.swagger());
      // A string is sent as it is, not through the response serializer.
      return reply.type('application/json; charset=utf-8').send(document);
    },
  );
  app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    // Every asset comes from openkvs; the page's policy lets nothing load from another host.
    staticCSP: DOCS_POLICY,
    uiConfig: { validatorUrl: null, deepLinking: true },
  });
}
