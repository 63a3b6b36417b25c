/**
 * What a user outside this machine reads and runs: the docs name no
 * developer's checkout (an absolute path of the machine they were written
 * on), and `pnpm demo` says where its temporary folder is and how to remove it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const docs = [
  ...readdirSync(`${root}docs`).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`),
  "README.md",
  ...["packages/format", "packages/store", "packages/cli", "packages/explorer", "conformance", "spec"].map((p) => `${p}/README.md`),
];
/** An absolute path into a checkout or a home folder (not /tmp, /dev or /usr, which are the user's own). */
const DEVELOPER_PATH = /(?<![\w.])\/(?:work|home|Users|root|srv|opt\/src)\/[\w.-]+/g;

describe("docs a user reads", () => {
  it("name no developer's absolute checkout path", () => {
    const found = docs.flatMap((d) => (readFileSync(`${root}${d}`, "utf8").match(DEVELOPER_PATH) ?? []).map((m) => `${d}: ${m}`));
    expect(found).toEqual([]);
  });

  it("control: the pattern catches the paths that were there", () => {
    expect("cd /work/main && pnpm build; import '/work/main/packages/format/dist/testing.js'".match(DEVELOPER_PATH)).toHaveLength(2);
    expect("dd if=/dev/zero of=/tmp/cow.img".match(DEVELOPER_PATH)).toBeNull();
  });
});

describe("pnpm demo", () => {
  it("ends by saying where its temporary folder is and how to remove it (the folder exists)", () => {
    const r = spawnSync(process.execPath, [fileURLToPath(new URL("../dist/demo.js", import.meta.url))], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const last = r.stdout.trim().split("\n").at(-1)!;
    const m = /^The files are in (\S+): .*; remove them with: rm -r (\S+)$/.exec(last);
    expect(m, last).not.toBeNull();
    const folder = m![1]!;
    expect(m![2]).toBe(folder);
    expect(r.stdout.split("\n")[0]).toContain(`Working in ${folder}`);
    expect(existsSync(`${folder}/cow.img`)).toBe(true);
    rmSync(folder, { recursive: true, force: true });
  }, 120_000);
});
