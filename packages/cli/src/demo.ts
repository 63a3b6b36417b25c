/**
 * `pnpm demo`: lays out a small COW image in a temporary folder the way the
 * kernel would after 40 origin writes with 1-sector chunks (so two areas are
 * in use), then decodes it with `dmsnap dump` and shows what a person sees.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCow } from "@dmsnap/format";
import { main } from "./main.js";

const dir = mkdtempSync(join(tmpdir(), "dmsnap-demo-"));
const cowPath = join(dir, "cow.img");
// Origin chunks 0, 3, 6, ... were overwritten after the snapshot was taken;
// each was first copied into the next free COW chunk.
const origins = Array.from({ length: 40 }, (_, i) => i * 3);
const { bytes } = buildCow({
  chunkSize: 1,
  exceptions: origins,
  freeChunks: 20,
  chunkData: (old) => new TextEncoder().encode(`origin chunk ${old} before the write`.padEnd(512, ".")),
});
writeFileSync(cowPath, bytes);

process.stdout.write(`Built ${cowPath} (${bytes.length} bytes): 1-sector chunks, 40 exceptions.\n\n$ dmsnap dump ${cowPath}\n`);
await main(["node", "dmsnap", "dump", cowPath]);
process.stdout.write(`\n$ dmsnap dump ${cowPath} --json   (first 300 characters)\n`);
const write = process.stdout.write.bind(process.stdout);
let captured = "";
process.stdout.write = ((chunk: string) => {
  captured += chunk;
  return true;
}) as typeof process.stdout.write;
await main(["node", "dmsnap", "dump", cowPath, "--json"]);
process.stdout.write = write;
process.stdout.write(`${captured.slice(0, 300)}...\n`);
