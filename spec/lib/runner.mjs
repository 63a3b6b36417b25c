// Running the configurations of spec/manifest.json and judging the results.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseTlcOutput } from "./parse.mjs";

/**
 * @typedef {{
 *   name: string,
 *   config: string,
 *   design: string,
 *   expect: "pass" | "fail",
 *   violated?: string,
 *   distinct?: number,
 *   generated?: number,
 *   depth?: number,
 *   traceLength?: number,
 *   workers?: number,
 *   timeoutSeconds?: number,
 *   upstream?: string,
 *   bug?: string,
 *   slow?: boolean,
 *   spec?: string,
 * }} ManifestEntry
 * @typedef {{ spec: string, xmx?: string, configurations: ManifestEntry[] }} Manifest
 * @typedef {import("./parse.mjs").TlcResult} TlcResult
 * @typedef {{ entry: ManifestEntry, result: TlcResult, exitCode: number | null, wallSeconds: number, workers: number, raw: string, mismatches: string[] }} RunOutcome
 */

/** @param {string} path @returns {Manifest} */
export function loadManifest(path) {
  const m = /** @type {Manifest} */ (JSON.parse(readFileSync(path, "utf8")));
  if (!Array.isArray(m.configurations) || typeof m.spec !== "string") throw new Error(`${path}: not a manifest`);
  const names = new Set();
  for (const c of m.configurations) {
    if (names.has(c.name)) throw new Error(`${path}: duplicate configuration ${c.name}`);
    names.add(c.name);
    if (c.expect !== "pass" && c.expect !== "fail") throw new Error(`${path}: ${c.name}: expect must be pass or fail`);
    if (c.expect === "fail" && !c.violated) throw new Error(`${path}: ${c.name}: a must-fail configuration names the property it violates`);
    if (c.expect === "pass" && typeof c.distinct !== "number") throw new Error(`${path}: ${c.name}: a passing configuration pins its distinct-state count`);
    if (c.upstream !== undefined) {
      if (c.expect !== "fail") throw new Error(`${path}: ${c.name}: only a must-fail configuration re-introduces an upstream bug`);
      if (typeof c.upstream !== "string" || c.upstream.trim() === "") throw new Error(`${path}: ${c.name}: upstream must be a commit id or "open"`);
    }
    if (c.slow !== undefined && typeof c.slow !== "boolean") throw new Error(`${path}: ${c.name}: slow must be true or false`);
  }
  return m;
}

/**
 * The configurations a run selects: those named, else every one (`all`), or
 * only the slow ones (`slowOnly`), else every one not marked slow.
 * @param {Manifest} m
 * @param {{ names?: string[], all?: boolean, slowOnly?: boolean }} o
 * @returns {ManifestEntry[]}
 */
export function selectConfigurations(m, o) {
  const names = o.names ?? [];
  if (names.length > 0) return m.configurations.filter((c) => names.includes(c.name));
  if (o.all) return m.configurations;
  return m.configurations.filter((c) => (o.slowOnly ? c.slow === true : c.slow !== true));
}

/**
 * Names of the PROPERTY/PROPERTIES listed in a TLC .cfg (to name a temporal violation).
 * @param {string} cfgText
 * @returns {string[]}
 */
export function cfgProperties(cfgText) {
  /** @type {string[]} */
  const props = [];
  let inProps = false;
  for (const raw of cfgText.split(/\r?\n/)) {
    const line = raw.replace(/\\\*.*$/, "").trim();
    if (line === "") continue;
    const kw = /^(PROPERTY|PROPERTIES|INVARIANT|INVARIANTS|CONSTANT|CONSTANTS|SPECIFICATION|INIT|NEXT|SYMMETRY|CONSTRAINT|CONSTRAINTS|ACTION_CONSTRAINT|ACTION_CONSTRAINTS|VIEW|CHECK_DEADLOCK|POSTCONDITION|ALIAS)\b\s*(.*)$/.exec(line);
    if (kw) {
      inProps = kw[1] === "PROPERTY" || kw[1] === "PROPERTIES";
      if (inProps && kw[2]) props.push(...kw[2].split(/\s+/).filter(Boolean));
      continue;
    }
    if (inProps) props.push(...line.split(/\s+/).filter(Boolean));
  }
  return props;
}

/**
 * Compare a parsed result with what the manifest expects.
 * @param {ManifestEntry} entry
 * @param {TlcResult} r
 * @param {number | null} exitCode
 * @returns {string[]} human-readable mismatches (empty when all is as expected)
 */
export function judge(entry, r, exitCode) {
  /** @type {string[]} */
  const bad = [];
  if (r.outcome === "error" || r.outcome === "incomplete") {
    bad.push(`TLC did not finish normally (${r.outcome}, exit ${exitCode})${r.errors.length ? ": " + r.errors.join(" | ").slice(0, 800) : ""}`);
    return bad;
  }
  if (entry.expect === "pass") {
    if (r.outcome !== "pass") {
      bad.push(`expected to pass, but ${r.outcome}${r.violated ? ` ${r.violated}` : ""} was violated`);
      return bad;
    }
    if (exitCode !== 0) bad.push(`TLC reported success but exited ${exitCode}`);
    if (entry.distinct !== undefined && r.distinct !== entry.distinct) {
      bad.push(`distinct states ${r.distinct}, manifest pins ${entry.distinct}`);
    }
    if (entry.generated !== undefined && r.generated !== entry.generated) {
      bad.push(`states generated ${r.generated}, manifest pins ${entry.generated}`);
    }
    if (entry.depth !== undefined && r.depth !== entry.depth) bad.push(`depth ${r.depth}, manifest pins ${entry.depth}`);
  } else {
    if (r.outcome === "pass") {
      bad.push(`must fail with ${entry.violated} violated, but TLC found no violation`);
      return bad;
    }
    if (r.violated !== entry.violated) {
      bad.push(`must fail with ${entry.violated} violated, but ${r.outcome} ${r.violated ?? "(unnamed)"} was violated`);
    }
    if (entry.traceLength !== undefined && r.trace.length !== entry.traceLength) {
      bad.push(`counterexample has ${r.trace.length} states, manifest pins ${entry.traceLength}`);
    }
  }
  return bad;
}

/**
 * @param {{
 *   java: string, jar: string, specDir: string, manifest: Manifest, entry: ManifestEntry,
 *   workers?: number, onLine?: (line: string) => void,
 * }} o
 * @returns {Promise<RunOutcome>}
 */
export async function runConfiguration(o) {
  const cores = availableParallelism();
  const workers = Math.max(1, Math.min(o.workers ?? o.entry.workers ?? cores, cores));
  const meta = mkdtempSync(join(tmpdir(), `dmsnap-tlc-${o.entry.name}-`));
  const args = [
    "-XX:+UseParallelGC",
    `-Xmx${o.manifest.xmx ?? "1g"}`,
    `-Djava.io.tmpdir=${meta}`,
    "-cp",
    o.jar,
    "tlc2.TLC",
    "-tool",
    "-workers",
    String(workers),
    "-metadir",
    join(meta, "states"),
    "-config",
    o.entry.config,
    o.entry.spec ?? o.manifest.spec,
  ];
  const started = process.hrtime.bigint();
  const timeoutMs = (o.entry.timeoutSeconds ?? 600) * 1000;
  /** @type {{ code: number | null, raw: string }} */
  const done = await new Promise((resolve, reject) => {
    const child = spawn(o.java, args, { cwd: o.specDir, stdio: ["ignore", "pipe", "pipe"] });
    /** @type {Buffer[]} */
    const chunks = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (b) => chunks.push(b));
    child.stderr.on("data", (b) => chunks.push(b));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, raw: Buffer.concat(chunks).toString("utf8") });
    });
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  rmSync(meta, { recursive: true, force: true });
  const result = parseTlcOutput(done.raw);
  if (result.outcome === "temporal" && result.violated === null) {
    const props = cfgProperties(readFileSync(join(o.specDir, o.entry.config), "utf8"));
    if (props.length === 1 && props[0] !== undefined) result.violated = props[0];
  }
  const mismatches = judge(o.entry, result, done.code);
  return { entry: o.entry, result, exitCode: done.code, wallSeconds, workers, raw: done.raw, mismatches };
}
