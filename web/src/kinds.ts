import type { StorageKind } from './api';

/** How the console names each storage kind. */
export interface KindWords {
  /** `store`: in sentences and labels ("New store name", "Unnamed store"). */
  noun: string;
  /** `stores`. */
  nouns: string;
  /** The heading of the list and its link in the main navigation. */
  title: string;
  /** What goes when one is deleted. */
  contents: string;
}

export const KINDS: Readonly<Record<StorageKind, KindWords>> = {
  kvs: { noun: 'store', nouns: 'stores', title: 'Key-value stores', contents: 'every record in it' },
  dataset: { noun: 'dataset', nouns: 'datasets', title: 'Datasets', contents: 'every item in it' },
  queue: { noun: 'request queue', nouns: 'request queues', title: 'Request queues', contents: 'every request in it' },
};

/** `store` → `Store`. */
export const capitalize = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/** A storage's name, or what to call it when it has none. */
export const displayName = (kind: StorageKind, s: { name: string | null }) => s.name ?? `Unnamed ${KINDS[kind].noun}`;
