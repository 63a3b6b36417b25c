// Single-point mutants of the fixed design (spec/mutants.json): each one is
// applied to a temporary copy of the model and must be killed by the property
// the list names, under the named manifest configuration's constants.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runConfiguration } from "./runner.mjs";

/**
 * @typedef {{
 *   name: string, what: string, from: string, to: string, count?: number,
 *   configuration: string, killedBy: string, steps?: number, survives?: string,
 * }} Mutant
 * @typedef {{ spec: string, mutants: Mutant[] }} MutantList
 * @typedef {{ mutant: Mutant, killed: boolean, found: string | null, steps: number | null, temporal: boolean, seconds: number, problems: string[] }} MutantResult
 */

/** @param {string} path @returns {MutantList} */
export function loadMutants(path) {
  const m = /** @type {MutantList} */ (JSON.parse(readFileSync(path, "utf8")));
  if (typeof m.spec !== "string" || !Array.isArray(m.mutants)) throw new Error(`${path}: not a mutant list`);
  const names = new Set();
  for (const x of m.mutants) {
    if (names.has(x.name)) throw new Error(`${path}: duplicate mutant ${x.name}`);
    names.add(x.name);
    for (const k of /** @type {const} */ (["name", "what", "from", "configuration", "killedBy"])) {
      if (typeof x[k] !== "string" || x[k] === "") throw new Error(`${path}: ${x.name ?? "?"}: ${k} must be a non-empty string`);
    }
    if (typeof x.to !== "string") throw new Error(`${path}: ${x.name}: to must be a string`);
    if (x.from === x.to) throw new Error(`${path}: ${x.name}: from and to are the same`);
  }
  return m;
}

/**
 * The mutated model text: `from` must occur exactly `count` (default 1) times.
 * @param {string} text @param {Mutant} x @returns {string}
 */
export function applyMutant(text, x) {
  const n = text.split(x.from).length - 1;
  const want = x.count ?? 1;
  if (n !== want) throw new Error(`mutant ${x.name}: its text occurs ${n} times in the model, the list says ${want}`);
  return text.split(x.from).join(x.to);
}

/**
 * The configuration's SPECIFICATION and CONSTANTS with only `property` to check,
 * as an invariant or a temporal property as the configuration lists it.
 * @param {string} cfgText @param {string} property @returns {{ text: string, temporal: boolean }}
 */
export function cfgForProperty(cfgText, property) {
  const lines = cfgText.split(/\r?\n/);
  /** @type {string[]} */
  const head = [];
  let section = "";
  /** @type {Record<string, string[]>} */
  const lists = { INVARIANTS: [], PROPERTIES: [] };
  for (const raw of lines) {
    const line = raw.replace(/\\\*.*$/, "").trim();
    const kw = /^(INVARIANTS?|PROPERTY|PROPERTIES|CONSTANTS?|SPECIFICATION)\b\s*(.*)$/.exec(line);
    if (kw) {
      section = kw[1]?.startsWith("INVARIANT") ? "INVARIANTS" : kw[1]?.startsWith("PROPERT") ? "PROPERTIES" : "head";
      if (section === "head") head.push(raw);
      else if (kw[2]) lists[section]?.push(...kw[2].split(/\s+/).filter(Boolean));
      continue;
    }
    if (section === "head" || section === "") head.push(raw);
    else if (line !== "") lists[section]?.push(...line.split(/\s+/).filter(Boolean));
  }
  const temporal = lists.PROPERTIES?.includes(property) === true;
  if (!temporal && lists.INVARIANTS?.includes(property) !== true) throw new Error(`the configuration does not check ${property}`);
  return { text: `${head.join("\n").trimEnd()}\n${temporal ? "PROPERTIES" : "INVARIANTS"}\n    ${property}\n`, temporal };
}

/**
 * Run every mutant of the list.
 * @param {{
 *   java: string, jar: string, specDir: string, list: MutantList,
 *   manifest: import("./runner.mjs").Manifest, only?: string[], log?: (line: string) => void,
 * }} o
 * @returns {Promise<MutantResult[]>}
 */
export async function runMutants(o) {
  const model = readFileSync(join(o.specDir, o.list.spec), "utf8");
  /** @type {MutantResult[]} */
  const out = [];
  for (const x of o.list.mutants) {
    if (o.only && o.only.length > 0 && !o.only.includes(x.name)) continue;
    const entry = o.manifest.configurations.find((c) => c.name === x.configuration);
    if (!entry) {
      out.push({ mutant: x, killed: false, found: null, steps: null, temporal: false, seconds: 0, problems: [`no configuration ${x.configuration} in the manifest`] });
      continue;
    }
    const dir = mkdtempSync(join(tmpdir(), `dmsnap-mutant-${x.name}-`));
    try {
      writeFileSync(join(dir, o.list.spec), applyMutant(model, x));
      const cfg = cfgForProperty(readFileSync(join(o.specDir, entry.config), "utf8"), x.killedBy);
      writeFileSync(join(dir, "mutant.cfg"), cfg.text);
      const r = await runConfiguration({
        java: o.java,
        jar: o.jar,
        specDir: dir,
        manifest: { spec: o.list.spec, xmx: o.manifest.xmx, configurations: [] },
        entry: {
          name: x.name,
          config: "mutant.cfg",
          design: x.what,
          expect: "fail",
          violated: x.killedBy,
          workers: 1,
          ...(x.steps !== undefined ? { traceLength: x.steps } : {}),
        },
      });
      const killed = r.mismatches.length === 0 && x.survives === undefined;
      const problems = x.survives !== undefined ? (r.result.outcome === "pass" ? [] : [`listed as surviving (${x.survives}) but TLC violated ${r.result.violated}`]) : r.mismatches;
      out.push({ mutant: x, killed, found: r.result.violated ?? null, steps: r.result.trace.length || null, temporal: cfg.temporal, seconds: r.wallSeconds, problems });
      o.log?.(`${killed ? "killed  " : "SURVIVED"} ${x.name}`);
    } catch (e) {
      out.push({ mutant: x, killed: false, found: null, steps: null, temporal: false, seconds: 0, problems: [e instanceof Error ? e.message : String(e)] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

/** @param {MutantResult[]} results @returns {string[]} the table and the closing line */
export function mutantTable(results) {
  const rows = results.map((r) => {
    const steps = r.temporal ? "lasso" : r.steps === null ? "-" : String(r.steps);
    const verdict = r.killed ? "killed" : r.mutant.survives ? `SURVIVES: ${r.mutant.survives}` : `NOT KILLED: ${r.problems.join("; ")}`;
    return `${r.mutant.name.padEnd(28)} ${r.mutant.configuration.padEnd(16)} ${(r.found ?? "-").padEnd(26)} ${steps.padStart(5)}  ${r.seconds.toFixed(1).padStart(6)} s  ${verdict}`;
  });
  const killed = results.filter((r) => r.killed).length;
  return [
    `${"mutant".padEnd(28)} ${"configuration".padEnd(16)} ${"violated".padEnd(26)} ${"steps".padStart(5)}  ${"time".padStart(8)}  verdict`,
    ...rows,
    `design mutants: ${killed} of ${results.length} killed`,
  ];
}
