/** Loading and validating case folders (conformance/cases/<id>/case.json). */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import Ajv2020Module from "ajv/dist/2020.js";
import type { CaseFile, LoadedCase, Pair } from "./types.js";

type AjvClass = typeof Ajv2020Module;
const Ajv2020: AjvClass = ((Ajv2020Module as unknown as { default?: AjvClass }).default ?? Ajv2020Module) as AjvClass;

export interface CaseProblem {
  caseId: string;
  message: string;
}

export type CaseValidator = (data: unknown) => string[];

/** A validator for case.json built from the schema file. */
export function makeValidator(schemaPath: string): CaseValidator {
  const schema = JSON.parse(readFileSync(schemaPath, "utf8")) as Record<string, unknown>;
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTuples: false, strictRequired: false });
  const validate = ajv.compile(schema);
  return (data: unknown) => {
    if (validate(data)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ""}`);
  };
}

/** Bytes of an image file, decompressed when its name ends in .gz. */
export function readImage(path: string): Buffer {
  const raw = readFileSync(path);
  return path.endsWith(".gz") ? gunzipSync(raw) : raw;
}

/** "kernel-*" style glob to a RegExp (only * and ? are special). */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

export interface LoadResult {
  cases: LoadedCase[];
  problems: CaseProblem[];
}

/**
 * Loads every case under `casesDir` (folders with a case.json), validates it
 * against the schema and checks what the schema cannot: the id is the folder
 * name, the image files exist, exceptionsFile parses.
 */
export function loadCases(casesDir: string, validator: CaseValidator): LoadResult {
  const cases: LoadedCase[] = [];
  const problems: CaseProblem[] = [];
  if (!existsSync(casesDir)) return { cases, problems: [{ caseId: "(none)", message: `no cases folder at ${casesDir}` }] };
  for (const name of readdirSync(casesDir).sort()) {
    const dir = join(casesDir, name);
    const file = join(dir, "case.json");
    if (!existsSync(file)) continue;
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      problems.push({ caseId: name, message: `case.json is not JSON: ${(e as Error).message}` });
      continue;
    }
    const errors = validator(data);
    if (errors.length > 0) {
      problems.push({ caseId: name, message: `case.json does not match the schema: ${errors.join("; ")}` });
      continue;
    }
    const c = data as CaseFile;
    const loaded: LoadedCase = { ...c, dir };
    if (c.id !== name) problems.push({ caseId: name, message: `id "${c.id}" is not the folder name` });
    for (const [k, f] of Object.entries(c.files)) {
      if (f !== undefined && !existsSync(resolve(dir, f))) problems.push({ caseId: name, message: `files.${k}: ${f} does not exist` });
    }
    if (c.expected.exceptions) loaded.exceptions = c.expected.exceptions;
    if (c.expected.exceptionsFile) {
      try {
        const list = JSON.parse(readImage(resolve(dir, c.expected.exceptionsFile)).toString("utf8")) as unknown;
        if (!Array.isArray(list) || !list.every((p) => Array.isArray(p) && p.length === 2 && p.every((n) => Number.isSafeInteger(n) && n >= 0))) {
          throw new Error("not an array of [old, new] pairs");
        }
        loaded.exceptions = list as Pair[];
      } catch (e) {
        problems.push({ caseId: name, message: `exceptionsFile ${c.expected.exceptionsFile}: ${(e as Error).message}` });
        continue;
      }
    }
    if (c.expected.snapshotSha256 !== undefined && c.files.origin === undefined) {
      problems.push({ caseId: name, message: "expected.snapshotSha256 needs files.origin" });
    }
    cases.push(loaded);
  }
  return { cases, problems };
}

/** Cases matching every filter: --case globs (any) and --tag (all). */
export function selectCases(cases: LoadedCase[], globs: string[], tags: string[]): LoadedCase[] {
  const res = globs.map(globToRegExp);
  return cases.filter((c) => (res.length === 0 || res.some((r) => r.test(c.id))) && tags.every((t) => c.tags.includes(t)));
}
