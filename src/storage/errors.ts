/**
 * Failures of the storage that pass: the caller may try again shortly. The layers above decide
 * what to answer (the HTTP edge answers 503 with Retry-After).
 */
export class StorageTemporaryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The database cannot be reached: a lost or refused connection, a server shutting down or full. */
export class StorageUnavailableError extends StorageTemporaryError {
  constructor(cause?: unknown) {
    super('The storage is temporarily unavailable.', { cause });
  }
}

/** Another process held the database's write lock for longer than the busy timeout. */
export class StorageBusyError extends StorageTemporaryError {
  constructor(cause?: unknown) {
    super('The storage is busy with another writer.', { cause });
  }
}
