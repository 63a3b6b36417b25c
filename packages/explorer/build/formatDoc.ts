/**
 * Renders docs/format.md to dist/format.html so the explorer's labels can
 * link to its sections offline. Heading ids are GitHub's slugs (src/docs.ts),
 * so the same anchors work on the repository's page too.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Marked } from "marked";
import type { Plugin } from "vite";
import { slug } from "../src/docs.js";

const DOC = fileURLToPath(new URL("../../../docs/format.md", import.meta.url));

export function formatDocPlugin(): Plugin {
  return {
    name: "dmsnap-format-doc",
    apply: "build",
    generateBundle() {
      const marked = new Marked({
        renderer: {
          heading({ tokens, depth, text }) {
            return `<h${depth} id="${slug(text)}">${this.parser.parseInline(tokens)}</h${depth}>\n`;
          },
        },
      });
      const body = marked.parse(readFileSync(DOC, "utf8"), { async: false });
      const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dmsnap: the on-disk format</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:900px;margin:0 auto;padding:0 16px 60px}pre,code{font-family:ui-monospace,monospace}pre{background:#f6f6f6;padding:8px;overflow:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}:target{background:#fff3c4}</style>
</head><body><p><a href="index.html">← explorer</a> · rendered from docs/format.md</p>${body}</body></html>`;
      this.emitFile({ type: "asset", fileName: "format.html", source: html });
    },
  };
}
