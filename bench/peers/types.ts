/** The peers: the local storage libraries the Apify ecosystem uses in process. */
export const PEER_NAMES = ['memory-storage', 'storage-local'] as const;
export type PeerName = (typeof PEER_NAMES)[number];
export const PEER_LABELS: Record<PeerName, string> = {
  'memory-storage': '@crawlee/memory-storage',
  'storage-local': '@apify/storage-local',
};

export const PEER_OPS = ['get', 'set', 'list'] as const;
export type PeerOp = (typeof PEER_OPS)[number];

export interface PeerSettings {
  /** Seconds per measured run. */
  seconds: number;
  rounds: number;
  warmup: number;
  /** Calls in flight at once; each is measured, the best counts. */
  concurrency: number[];
}

export interface PeerRun {
  peer: PeerName;
  op: PeerOp;
  concurrency: number;
  /** -1 for the warm-up. */
  round: number;
  ops: number;
  /** Operations per second. */
  rate: number;
}
