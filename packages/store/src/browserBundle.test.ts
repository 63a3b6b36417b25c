// The codec and the core engine must run in a browser: a browser bundle of
// @dmsnap/format + @dmsnap/store (main entries) builds with no Node built-in.
// The Node entry is the control: bundling it for a browser must fail.
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

const src = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const fromSource: Plugin = {
  name: "dmsnap-source",
  setup(b) {
    b.onResolve({ filter: /^@dmsnap\/format$/ }, () => ({ path: src("format/src/index.ts") }));
  },
};

async function bundleForBrowser(entry: string) {
  return build({
    stdin: { contents: `export * from ${JSON.stringify(src("format/src/index.ts"))};\nexport * from ${JSON.stringify(src(entry))};`, resolveDir: src("store"), loader: "ts" },
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [fromSource],
  });
}

describe("browser bundle", () => {
  it("format + store core bundle for platform=browser with no Node built-ins", async () => {
    const r = await bundleForBrowser("store/src/index.ts");
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.filter((i) => i.startsWith("node:") || /^(fs|path|os|crypto|child_process)$/.test(i))).toEqual([]);
    expect(inputs.some((i) => i.endsWith("store/src/snapshot.ts"))).toBe(true);
    expect(r.outputFiles[0]!.text).toContain("PersistentStore");
  });

  it("the Node entry (file devices) does not bundle for a browser", async () => {
    await expect(bundleForBrowser("store/src/node.ts")).rejects.toThrow(/node:fs/);
  });
});
