// `--json` on a pipe the reader has not drained: the report (89 KB for the
// format reader) is bigger than a pipe's 64 KiB, and a child that shares the
// pipe can leave it non-blocking (QEMU's stdio does: the kernel matrix lost
// 6.12+fix's report at byte 65536). The runner must exit only once stdout is
// flushed. stdoutDrain.py holds the pipe full for 2 s before reading.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = join(HERE, "..", "dist", "bin.js");

describe("dmsnap-conformance --json on a non-blocking pipe", () => {
  it("writes the whole report before it exits", () => {
    const out = execFileSync("python3", [join(HERE, "stdoutDrain.py"), process.execPath, BIN, "--reader", "format", "--json", "--no-write"], { encoding: "utf8", timeout: 170_000 });
    const [bytes, verdict] = out.trim().split(" ");
    expect(Number(bytes)).toBeGreaterThan(65536);
    expect(verdict).toBe("json");
  }, 180_000);
});
