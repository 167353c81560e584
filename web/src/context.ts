import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api';

export interface ConsoleContext {
  api: Api;
  /** Says something in the status line (announced to screen readers). */
  notify(text: string, kind?: 'ok' | 'error'): void;
}

export const Console = createContext<ConsoleContext | null>(null);

/** The signed-in API client and the status line, for any page of the console. */
export function useConsole(): ConsoleContext {
  const value = useContext(Console);
  if (value === null) throw new Error('useConsole outside <Console.Provider>');
  return value;
}

/** An error as one sentence for the status line. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
