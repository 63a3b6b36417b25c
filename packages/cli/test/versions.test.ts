/**
 * One version for every package (scripts/versions.mjs): the root
 * package.json's, which `dmsnap --version` prints (contract.e2e.test.ts runs
 * the binary; here the source).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { versionProblems, workspacePackages, type PackageEntry } from "../../../scripts/versions.mjs";
import { VERSION } from "../src/main.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const rootJson = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string };
const packages = (): PackageEntry[] => workspacePackages(root).map((p) => ({ dir: p.dir, json: JSON.parse(readFileSync(p.file, "utf8")) as PackageEntry["json"] }));

describe("one version", () => {
  it("every workspace package has the root's version and asks for the others as workspace:*", () => {
    expect(packages().map((p) => p.json.name)).toEqual(expect.arrayContaining(["@dmsnap/format", "@dmsnap/store", "@dmsnap/cli", "@dmsnap/conformance", "@dmsnap/spec"]));
    expect(versionProblems(rootJson, packages())).toEqual([]);
  });

  it("the CLI's VERSION is the root's", () => {
    expect(rootJson.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(VERSION).toBe(rootJson.version);
  });

  it("fails for a package at another version, a pinned internal range, a root without a version", () => {
    const ps = packages();
    const store = ps.find((p) => p.json.name === "@dmsnap/store")!;
    store.json = { ...store.json, version: "9.9.9" };
    const cli = ps.find((p) => p.json.name === "@dmsnap/cli")!;
    cli.json = { ...cli.json, devDependencies: { ...(cli.json.devDependencies as object), "@dmsnap/format": "^0.0.1" } };
    const problems = versionProblems(rootJson, ps);
    expect(problems).toHaveLength(2);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/@dmsnap\/store has version 9\.9\.9, the root has/), expect.stringMatching(/devDependencies @dmsnap\/format is "\^0\.0\.1"/)]));
    expect(versionProblems({}, packages())[0]).toMatch(/not a semantic version/);
  });
});
