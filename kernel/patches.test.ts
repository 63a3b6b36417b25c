// The patch series is read by maintainers and by `git am`: check its form
// (issue #22: format-patch style, GPL-2.0 SPDX header, least context, no
// Signed-off-by, only drivers/md, the history's answer on Fixes:).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "patches");
const files = readdirSync(DIR).filter((f) => f.endsWith(".patch")).sort();
const text = (f: string) => readFileSync(join(DIR, f), "utf8");

describe("kernel/patches", () => {
  it("is a series of three numbered patches", () => {
    expect(files.map((f) => f.slice(0, 5))).toEqual(["0001-", "0002-", "0003-"]);
  });

  for (const [i, f] of files.entries()) {
    describe(f, () => {
      const t = text(f);
      const [headers, rest] = [t.slice(0, t.indexOf("\n\n")), t.slice(t.indexOf("\n\n") + 2)];
      const diff = rest.slice(rest.indexOf("\ndiff --git ") + 1);

      it("starts as git format-patch writes it, with the SPDX line among the mail headers", () => {
        expect(headers.split("\n")[0]).toBe("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001");
        expect(headers).toMatch(new RegExp(`^Subject: \\[PATCH ${i + 1}/3\\] dm snapshot: `, "m"));
        expect(headers).toMatch(/^SPDX-License-Identifier: GPL-2\.0$/m);
      });

      it("carries no Signed-off-by and no Fixes: tag, and says why there is none", () => {
        expect(t).not.toMatch(/^Signed-off-by:/m);
        expect(t).not.toMatch(/^Fixes:/m);
        expect(rest).toMatch(/no Fixes: tag/);
        expect(rest).toMatch(/^Cc: stable@vger\.kernel\.org$/m);
      });

      it("changes only drivers/md and keeps one line of context", () => {
        const touched = [...diff.matchAll(/^diff --git a\/(\S+) b\//gm)].map((m) => m[1]);
        expect(touched.length).toBeGreaterThan(0);
        for (const p of touched) expect(p).toMatch(/^drivers\/md\/dm-(snap|snap-persistent|exception-store)\.[ch]$/);
        // every hunk opens with at most one context line before its first change
        for (const hunk of diff.split(/^@@ .*$/m).slice(1)) {
          const lines = hunk.split("\n").slice(1);
          const lead = lines.findIndex((l) => l.startsWith("+") || l.startsWith("-"));
          expect(lead).toBeLessThanOrEqual(1);
        }
      });
    });
  }

  it("makes the invalidation header durable, zeroes area 0 before the new header, and fails origin writes on a failed invalidation", () => {
    const [p1, p2, p3] = files.map(text);
    expect(p1).toMatch(/^\+\tif \(write_header\(ps, REQ_PREFLUSH \| REQ_FUA\)\)$/m);
    // patch 2: the zeroing is now added before the header write it used to follow
    const added = p2!.split("\n").filter((l) => l.startsWith("+"));
    expect(added.findIndex((l) => l.includes("zero_disk_area(ps, 0)"))).toBeLessThan(added.findIndex((l) => l.includes("write_header(ps, REQ_PREFLUSH | REQ_FUA)")));
    expect(p3).toMatch(/^\+\t\treturn DM_MAPIO_KILL;$/m);
    expect(p3).toMatch(/^\+\tint \(\*drop_snapshot\)\(struct dm_exception_store \*store\);$/m);
  });
});

// A regression fix for trees that carry upstream 8581b19eb2c5 (6.12.y): a
// patch of its own, applied by build-module.sh only where dm-snap.c has
// struct dm_hlist_head (docs/kernel-findings.md, duplicate-served-last).
describe("kernel/patches/after-8581b19eb2c5", () => {
  const dir = join(DIR, "after-8581b19eb2c5");
  const own = readdirSync(dir).filter((f) => f.endsWith(".patch"));
  it("is one patch, format-patch style, GPL-2.0, no Signed-off-by, with the Fixes: tag of the commit it repairs", () => {
    expect(own).toHaveLength(1);
    const t = readFileSync(join(dir, own[0]!), "utf8");
    const headers = t.slice(0, t.indexOf("\n\n"));
    expect(headers.split("\n")[0]).toBe("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001");
    expect(headers).toMatch(/^Subject: \[PATCH\] dm snapshot: /m);
    expect(headers).toMatch(/^SPDX-License-Identifier: GPL-2\.0$/m);
    expect(t).not.toMatch(/^Signed-off-by:/m);
    expect(t).toMatch(/^Fixes: 8581b19eb2c5 \("dm-snapshot: fix 'scheduling while atomic' on real-time kernels"\)$/m);
    expect(t).toMatch(/^Cc: stable@vger\.kernel\.org$/m);
  });
  it("keeps the last entry of the walk and inserts behind it when no larger entry was found", () => {
    const t = readFileSync(join(dir, own[0]!), "utf8");
    const diff = t.slice(t.indexOf("\ndiff --git ") + 1);
    expect([...diff.matchAll(/^diff --git a\/(\S+) b\//gm)].map((m) => m[1])).toEqual(["drivers/md/dm-snap.c"]);
    const added = diff.split("\n").filter((l) => l.startsWith("+") && !l.startsWith("+++"));
    expect(added).toEqual(["+\tstruct dm_exception *e = NULL, *last = NULL;", "+\t\tlast = e;", "+\tif (!e)", "+\t\te = last;"]);
    for (const hunk of diff.split(/^@@ .*$/m).slice(1)) {
      const lines = hunk.split("\n").slice(1);
      expect(lines.findIndex((l) => l.startsWith("+") || l.startsWith("-"))).toBeLessThanOrEqual(1);
    }
  });
});
