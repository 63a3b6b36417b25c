export interface SparseCowSpec {
  /** Sectors per chunk. */
  chunkSize: number;
  /** Exceptions. */
  count: number;
  /** Origin chunk of exception i (default: count - 1 - i, all distinct). */
  oldOf?: (i: number) => number;
  /** Extra data chunks past the last one used. */
  freeChunks?: number;
}
export interface SparseLayout {
  perArea: number;
  stride: number;
  areas: number;
  lastNew: number;
  deviceBytes: number;
  newOf: (i: number) => number;
}
export function sparseLayout(spec: SparseCowSpec): SparseLayout;
export function writeSparseCow(path: string, spec: SparseCowSpec): SparseLayout;
