/**
 * The conformance cases as built-in examples. The build copies each case's
 * gzipped COW and its expectation into dist/cases/ (build/casesPlugin.ts);
 * the page gunzips an image with DecompressionStream.
 */
export interface CaseEntry {
  id: string;
  description: string;
  provenance: string;
  cow: string;
  tableChunkSize?: number;
  /** What case.json expects: the state or the error code, exceptions, status. */
  expect: { state: string; count: number | null; status: string | null };
}

export async function loadIndex(): Promise<CaseEntry[]> {
  const r = await fetch("cases/index.json");
  if (!r.ok) return [];
  return (await r.json()) as CaseEntry[];
}

export async function loadCow(c: CaseEntry): Promise<Blob> {
  const r = await fetch(`cases/${c.cow}`);
  if (!r.ok || !r.body) throw new Error(`cannot fetch ${c.cow}: HTTP ${r.status}`);
  return new Response(r.body.pipeThrough(new DecompressionStream("gzip"))).blob();
}
