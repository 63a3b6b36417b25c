// manifest.schema.json: the repository's manifest and the example pass it;
// manifests with the mistakes it exists to catch do not.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { schemaProblems } from "../lib/schema.mjs";

const read = (p: string) => JSON.parse(readFileSync(new URL(`../${p}`, import.meta.url), "utf8"));
const example = read("examples/counter/manifest.json");

describe("manifest.schema.json", () => {
  it("accepts the model's manifest and the example", () => {
    expect(schemaProblems(read("manifest.json"))).toEqual([]);
    expect(schemaProblems(example)).toEqual([]);
  });

  it("the example's $schema names a file in the example's own folder (it still resolves after the README's cp -r), a copy of the schema", () => {
    expect(example.$schema).toBe("./manifest.schema.json");
    expect(readFileSync(new URL("../examples/counter/manifest.schema.json", import.meta.url), "utf8")).toBe(readFileSync(new URL("../manifest.schema.json", import.meta.url), "utf8"));
  });

  it("refuses a passing configuration without its distinct-state count", () => {
    const m = structuredClone(example);
    delete m.configurations[0].distinct;
    expect(schemaProblems(m).join("\n")).toMatch(/configurations\/0 must have required property 'distinct'/);
  });

  it("refuses a must-fail configuration that names no property", () => {
    const m = structuredClone(example);
    delete m.configurations[1].violated;
    expect(schemaProblems(m).join("\n")).toMatch(/configurations\/1 must have required property 'violated'/);
  });

  it("refuses an unknown top-level key, a spec that is not a .tla and a bad expect", () => {
    const m = { ...structuredClone(example), specs: "x", spec: "Counter" };
    m.configurations[0].expect = "passes";
    const p = schemaProblems(m).join("\n");
    expect(p).toMatch(/additional properties: specs/);
    expect(p).toMatch(/\/spec must match pattern/);
    expect(p).toMatch(/configurations\/0\/expect must be equal to one of the allowed values/);
  });
});
