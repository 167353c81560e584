import { ApifyApiError, ApifyClient } from 'apify-client';
import { expect } from 'vitest';

/**
 * An apify-client as the README configures it, for `origin` (openkvs itself or a recorder in
 * front of it); no retries, so that a failure shows at once.
 */
export const clientFor = (origin: string, token?: string, publicOrigin = origin) =>
  new ApifyClient({ baseUrl: origin, publicBaseUrl: publicOrigin, token, maxRetries: 0, timeoutSecs: 60 });

/** The ApifyApiError a call is rejected with (the test fails if it resolves). */
export async function apiError(promise: Promise<unknown>): Promise<ApifyApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApifyApiError);
  return err as ApifyApiError;
}
