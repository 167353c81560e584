/**
 * The API token lives in this tab's sessionStorage only: it is gone when the tab closes, it is
 * never written to a URL, a cookie or localStorage.
 */
const KEY = 'openkvs.token';

export function loadToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}
