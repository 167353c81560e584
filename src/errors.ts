/**
 * Every error openkvs answers with. Each class carries the Apify error `type`, the HTTP status and
 * a default message; the HTTP error handler is the only place that turns them into responses.
 */
export class ApiError extends Error {
  readonly type: string;
  readonly statusCode: number;
  /** Extra response headers (e.g. `Allow`, `Retry-After`). */
  readonly headers: Record<string, string>;

  constructor(type: string, statusCode: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = new.target.name;
    this.type = type;
    this.statusCode = statusCode;
    this.headers = headers;
  }
}

export class InvalidRequestError extends ApiError {
  constructor(message = 'The request is not valid.') {
    super('invalid-request', 400, message);
  }
}

export class InvalidValueError extends ApiError {
  constructor(message: string) {
    super('invalid-value', 400, message);
  }
}

export class InvalidRecordKeyError extends ApiError {
  constructor(
    message = "Record key contains invalid character or is too long (allowed are a-z A-Z 0-9 ! - _ . ' ( ), 1 to 256 characters).",
  ) {
    super('invalid-record-key', 400, message);
  }
}

export class InvalidParameterError extends ApiError {
  constructor(message: string) {
    super('invalid-parameter', 400, message);
  }
}

export class InvalidCollectionError extends ApiError {
  constructor(message: string) {
    super('invalid-collection', 400, message);
  }
}

export class StoreSchemaInvalidError extends ApiError {
  constructor(message: string) {
    super('store-schema-invalid', 400, message);
  }
}

export class NameNotUniqueError extends ApiError {
  constructor(name: string, label = 'key-value store') {
    super('name-not-unique', 400, `A ${label} with name "${name}" already exists.`);
  }
}

export class TokenNotProvidedError extends ApiError {
  constructor() {
    super('token-not-provided', 401, 'Authentication token was not provided.');
  }
}

export class InvalidTokenError extends ApiError {
  constructor() {
    super('user-or-token-not-found', 401, 'User was not found or authentication token is not valid.');
  }
}

export class InsufficientPermissionsError extends ApiError {
  constructor(
    message = "Insufficient permissions for the key-value store. Make sure you're passing a correct API token and that it has the required permissions.",
  ) {
    super('insufficient-permissions', 403, message);
  }
}

export class RecordNotFoundError extends ApiError {
  constructor(message = 'Key-value store was not found.') {
    super('record-not-found', 404, message);
  }
}

export class RecordOrTokenNotFoundError extends ApiError {
  constructor(label = 'Key-value store') {
    super(
      'record-or-token-not-found',
      404,
      `${label} was not found or authentication token is not valid or has insufficient permissions.`,
    );
  }
}

export class PageNotFoundError extends ApiError {
  constructor(path: string) {
    super('page-not-found', 404, `The requested URL ${path} was not found on this server.`);
  }
}

export class MethodNotAllowedError extends ApiError {
  /** `allowed` becomes the `Allow` header; none for a method no path takes (CONNECT). */
  constructor(allowed: readonly string[], message?: string) {
    const list = allowed.join(',');
    super(
      'method-not-allowed',
      405,
      message ?? `This API end-point can only be accessed using the following HTTP methods: ${list}`,
      list ? { allow: list } : {},
    );
  }
}

export class RequestTimeoutError extends ApiError {
  constructor() {
    super('request-timeout', 408, 'The request was not received in time.');
  }
}

export class PreconditionFailedError extends ApiError {
  constructor(message = 'The record does not match the precondition of the request (If-Match / If-None-Match).') {
    super('precondition-failed', 412, message);
  }
}

export class RangeNotSatisfiableError extends ApiError {
  constructor(size: number) {
    super('range-not-satisfiable', 416, `The requested range is outside the record's ${size} bytes.`, {
      'content-range': `bytes */${size}`,
    });
  }
}

export class ExpectationFailedError extends ApiError {
  constructor() {
    super('expectation-failed', 417, 'Only "Expect: 100-continue" is supported.');
  }
}

export class RequestTooLargeError extends ApiError {
  constructor(limit: number, actual?: number) {
    const tail = actual === undefined ? '' : `, actual length: ${actual} bytes`;
    super('request-too-large', 413, `The request payload is too large (limit: ${limit} bytes${tail}).`);
  }
}

export class RecordTooLargeError extends ApiError {
  constructor(limit: number, actual?: number) {
    const tail = actual === undefined ? '' : `, actual length: ${actual} bytes`;
    super('record-too-large', 413, `The record is too large (limit: ${limit} bytes${tail}).`);
  }
}

export class UnsupportedContentEncodingError extends ApiError {
  constructor(encoding: string) {
    super('unsupported-content-encoding', 415, `Content-Encoding "${encoding}" is not supported.`);
  }
}

export class InvalidContentTypeError extends ApiError {
  constructor(message = 'The Content-Type header is not valid.') {
    super('invalid-content-type-header', 415, message);
  }
}

export class RateLimitExceededError extends ApiError {
  constructor(limit: number) {
    super('rate-limit-exceeded', 429, `You have exceeded the rate limit of ${limit} requests per second.`, {
      'x-ratelimit-limit': String(limit),
    });
  }
}

export class HeadersTooLargeError extends ApiError {
  constructor() {
    super('request-header-fields-too-large', 431, 'The request headers are too large.');
  }
}

export class InternalServerError extends ApiError {
  constructor() {
    super('internal-server-error', 500, 'An internal server error occurred.');
  }
}

export class ServiceUnavailableError extends ApiError {
  constructor(message = 'The storage is temporarily unavailable. Try again later.', retryAfterSecs = 1) {
    super('service-unavailable', 503, message, { 'retry-after': String(retryAfterSecs) });
  }
}
