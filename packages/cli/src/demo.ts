/**
 * `pnpm demo`: a small snapshot lived through on real files in a temporary
 * folder, with the same commands a person would type: create a COW with
 * 1-sector chunks (32 exceptions per area), overwrite 40 origin chunks (so the
 * kernel-style store fills area 0 and starts area 1), write to the snapshot
 * itself, then dump the COW and export the snapshot view.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sectorBytes } from "@dmsnap/format";
import { main } from "./main.js";

const dir = mkdtempSync(join(tmpdir(), "dmsnap-demo-"));
const origin = join(dir, "origin.img");
const cow = join(dir, "cow.img");
const sector = (text: string) => new TextEncoder().encode(text.padEnd(512, "."));

// A 64 KiB origin whose every sector says what it is.
const originBytes = new Uint8Array(sectorBytes(128));
for (let s = 0; s < 128; s++) originBytes.set(sector(`origin sector ${s}, as it was when the snapshot was taken`), sectorBytes(s));
writeFileSync(origin, originBytes);
const before = sha(originBytes);

async function run(title: string, ...args: string[]): Promise<void> {
  process.stdout.write(`\n$ dmsnap ${args.join(" ")}${title ? `    # ${title}` : ""}\n`);
  await main(["node", "dmsnap", ...args]);
  if (process.exitCode) throw new Error(`dmsnap ${args[0]} failed with exit ${process.exitCode}`);
}

// The folder is kept for a look at the files afterwards; the last line says where and how to remove it.
process.stdout.write(`Working in ${dir} (a temporary folder: kept at the end, with its path and how to remove it)\n`);
process.on("exit", () => process.stdout.write(`\nThe files are in ${dir}: look at them with 'dmsnap map ${cow} --svg -' or 'xxd ${cow} | head'; remove them with: rm -r ${dir}\n`));
await run("a blank COW, initialised as the kernel does on first activation", "create", "--cow", cow, "--chunk-size", "1", "--size", "48KiB");

// 40 origin writes, to sectors 0, 3, 6, ...: each copies the old sector into the COW first.
const patch = join(dir, "patch.bin");
writeFileSync(patch, sector("NEW DATA written to the origin after the snapshot"));
process.stdout.write(`\n$ for i in 0..39: dmsnap write --origin origin.img --cow cow.img --offset $((i*3*512)) --input patch.bin\n`);
for (let i = 0; i < 40; i++) {
  const write = ["node", "dmsnap", "write", "--origin", origin, "--cow", cow, "--offset", String(sectorBytes(i * 3)), "--input", patch];
  // Quiet: the result of each write is not shown.
  await main([...write, "--quiet"]);
  if (process.exitCode) throw new Error(`write ${i} failed`);
}
const snapPatch = join(dir, "snap.bin");
writeFileSync(snapPatch, sector("written to the SNAPSHOT itself"));
await run("a write to the snapshot changes only the view", "write", "--origin", origin, "--cow", cow, "--offset", String(sectorBytes(100)), "--input", snapPatch, "--target", "snapshot");

await run("what the kernel would load", "dump", cow);

const view = join(dir, "view.img");
await run("the snapshot view as a raw image", "export", "--origin", origin, "--cow", cow, "--output", view);
const viewBytes = new Uint8Array(readFileSync(view));
const expected = originBytes.slice();
expected.set(sector("written to the SNAPSHOT itself"), sectorBytes(100));
process.stdout.write(
  `\nThe snapshot view equals the origin as it was, except sector 100 written to the snapshot: ${sha(viewBytes) === sha(expected) ? "yes" : "NO"}\n` +
    `(origin before: sha256 ${before.slice(0, 16)}…, origin now: ${sha(new Uint8Array(readFileSync(origin))).slice(0, 16)}…, view: ${sha(viewBytes).slice(0, 16)}…)\n`,
);
if (sha(viewBytes) !== sha(expected)) process.exitCode = 1;

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}
