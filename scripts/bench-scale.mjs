// `pnpm bench:scale [exceptions]`: the 30 M-exception benchmark of issue #9.
// Not a test (no pass/fail on time) and not in CI: it writes ~2.5 GB and
// takes minutes. Builds a sparse COW with 4 KiB chunks and N exceptions
// (default 30,000,000) with the tests' sparse writer, then times every
// command on it and measures its peak RSS with GNU time. Build first.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSparseCow } from "../packages/cli/test/sparseCow.mjs";

const root = new URL("..", import.meta.url).pathname;
const BIN = join(root, "packages/cli/dist/bin.js");
const N = Number(process.argv[2] ?? 30_000_000);
if (!existsSync(BIN)) {
  console.error("bench:scale: run 'pnpm build' first");
  process.exit(2);
}
const dir = mkdtempSync(join(process.env.DMSNAP_BENCH_DIR ?? tmpdir(), "dmsnap-scale-"));
const cow = join(dir, "cow.img");
const MiB = 1024 * 1024;

const t0 = Date.now();
const layout = writeSparseCow(cow, { chunkSize: 8, count: N });
console.log(`sparse COW: ${N} exceptions, 4 KiB chunks, ${layout.areas} areas, device ${(layout.deviceBytes / 2 ** 30).toFixed(1)} GiB (${(statSync(cow).blocks * 512 / MiB).toFixed(0)} MiB allocated), written in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const origin = join(dir, "origin.img");
const fd = openSync(origin, "w");
ftruncateSync(fd, 256 * MiB);
closeSync(fd);

function measure(label, args, stdoutFile) {
  const out = stdoutFile ? openSync(stdoutFile, "w") : "ignore";
  const start = process.hrtime.bigint();
  const r = spawnSync("/usr/bin/time", ["-f", "MAXRSS=%M", process.execPath, BIN, ...args], { stdio: ["ignore", out, "pipe"], encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (typeof out === "number") closeSync(out);
  const rss = Number(/MAXRSS=(\d+)/.exec(r.stderr)?.[1] ?? -1) / 1024;
  const exit = /non-zero status (\d+)/.exec(r.stderr)?.[1] ?? "0";
  const size = stdoutFile ? ` output ${(statSync(stdoutFile).size / MiB).toFixed(0)} MiB` : "";
  console.log(`${label.padEnd(28)} ${seconds.toFixed(1).padStart(7)} s  peak RSS ${rss.toFixed(0).padStart(5)} MiB  exit ${exit}${size}`);
  return exit === "0";
}

measure("usage", ["usage", cow]);
measure("dump (summary)", ["dump", cow]);
measure("dump --json", ["dump", cow, "--json"], join(dir, "dump.json"));
rmSync(join(dir, "dump.json"));
measure("dump --lossless", ["dump", cow, "--lossless"], join(dir, "cow.dump.json"));
measure("restore (new sparse file)", ["restore", join(dir, "cow.dump.json"), "--cow", join(dir, "restored.img")]);
rmSync(join(dir, "cow.dump.json"));
rmSync(join(dir, "restored.img"));
measure("check", ["check", cow, "--json"], join(dir, "check.json"));
measure("map", ["map", cow, "--svg", join(dir, "map.svg")]);
measure("export (256 MiB origin)", ["export", "--origin", origin, "--cow", cow, "--output", join(dir, "view.img")]);
rmSync(dir, { recursive: true, force: true });
console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
