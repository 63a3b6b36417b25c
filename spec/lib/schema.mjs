// The manifest's JSON Schema (manifest.schema.json), checked before any TLC run.

import { readFileSync } from "node:fs";
import Ajv2020Module from "ajv/dist/2020.js";

/** @type {any} */
const AjvModule = Ajv2020Module;
const Ajv2020 = AjvModule.default ?? AjvModule;
const schema = JSON.parse(readFileSync(new URL("../manifest.schema.json", import.meta.url), "utf8"));
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, strictTypes: false }).compile(schema);

/**
 * Problems of a parsed manifest against the schema, one line each ("" path = the top).
 * @param {unknown} manifest
 * @returns {string[]}
 */
export function schemaProblems(manifest) {
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map((/** @type {import("ajv").ErrorObject} */ e) => `${e.instancePath || "(top)"} ${e.message ?? "is invalid"}${e.params && "additionalProperty" in e.params ? `: ${e.params.additionalProperty}` : ""}`);
}
