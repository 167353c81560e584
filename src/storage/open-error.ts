/** The storage could not be opened; the message is the one line an operator sees. */
export class StorageOpenError extends Error {}

/**
 * Refuses a database whose schema is newer than this program's migrations: it was written by a
 * newer openkvs, whose tables this one would misread or damage.
 */
export function refuseNewerSchema(current: number, known: number): void {
  if (current > known)
    throw new StorageOpenError(
      `the database has schema version ${current}, newer than this openkvs knows (${known}): it was written by a newer openkvs; run that version or a later one`,
    );
}
