/**
 * Field-by-field comparison of a reader's answer with a case's expectations.
 * Pure: no I/O, so the tests can drive it directly.
 */
import type { Diff, Expected, Pair, ReaderAnswer } from "./types.js";

/** Every field the runner knows how to compare, in report order. */
export const ALL_FIELDS = [
  "outcome",
  "error.code",
  "header",
  "state",
  "chunkSize",
  "exceptionsPerArea",
  "exceptions",
  "nextFree",
  "usage",
  "currentArea",
  "status",
  "snapshotSha256",
  "exportRefusal",
] as const;
export type Field = (typeof ALL_FIELDS)[number];

export interface Comparison {
  diffs: Diff[];
  problems: string[];
  compared: string[];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Short description of how two exception lists differ. */
export function describeExceptionDiff(expected: Pair[], actual: unknown): { expected: unknown; actual: unknown } | null {
  if (!Array.isArray(actual)) return { expected: `${expected.length} pairs`, actual: actual === undefined ? "missing" : typeof actual };
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const a: unknown = actual[i];
    const same = e !== undefined && Array.isArray(a) && a.length === 2 && a[0] === e[0] && a[1] === e[1];
    if (!same) {
      return {
        expected: `${expected.length} pairs; [${i}] = ${e === undefined ? "none" : JSON.stringify(e)}`,
        actual: `${actual.length} pairs; [${i}] = ${a === undefined ? "none" : JSON.stringify(a)}`,
      };
    }
  }
  return null;
}

/**
 * Compares an answer with `expected`. `exceptions` is the resolved expected
 * list (inline or from exceptionsFile). `fields` limits the comparison to
 * what the reader can report; `exportChecked` says whether the export
 * command was run (its sha then counts as the snapshotSha256 field).
 */
export function compareAnswer(
  expected: Expected,
  exceptions: Pair[] | undefined,
  answer: ReaderAnswer,
  options: { fields?: readonly string[]; exportChecked?: boolean; exportRefusal?: string } = {},
): Comparison {
  const wanted = new Set<string>(options.fields ?? ALL_FIELDS);
  const diffs: Diff[] = [];
  const problems = [...answer.problems];
  const compared: string[] = [];
  const want = (f: Field) => wanted.has(f);

  if (answer.exitCode === null) {
    // Crash or timeout: nothing more to compare (the problem says which).
    if (problems.length === 0) problems.push("the reader did not exit normally");
    return { diffs, problems, compared };
  }
  if (answer.exitCode !== 0 && answer.exitCode !== 1) {
    problems.push(`exit code ${answer.exitCode} (the protocol allows 0 = accepted, 1 = refused)`);
    return { diffs, problems, compared };
  }
  const out = answer.output;
  if (!isObject(out)) {
    problems.push(out === undefined ? "no JSON object on stdout" : "stdout is not a JSON object");
    return { diffs, problems, compared };
  }
  const refused = answer.exitCode === 1;
  if (refused && !(isObject(out.error) && typeof out.error.code === "string")) {
    problems.push('exit code 1 without an {"error": {"code", "message"}} object on stdout');
    return { diffs, problems, compared };
  }
  if (!refused && "error" in out) {
    problems.push("exit code 0 with an error object on stdout");
    return { diffs, problems, compared };
  }

  compared.push("outcome");
  const outcome = refused ? "refused" : "accepted";
  if (outcome !== expected.outcome) {
    const detail = refused ? `refused (${(out.error as { code: string }).code})` : "accepted";
    diffs.push({ field: "outcome", expected: expected.outcome + (expected.error ? ` (${expected.error.code})` : ""), actual: detail });
    return { diffs, problems, compared };
  }
  // export of an image that has no view must refuse with the right code.
  const refusalOfExport = () => {
    if (!options.exportChecked || options.exportRefusal === undefined || !want("exportRefusal")) return;
    compared.push("exportRefusal");
    const got = answer.exportExitCode === 1 ? (answer.exportErrorCode ?? "no error object") : `exit ${answer.exportExitCode === null ? "abnormal" : answer.exportExitCode}`;
    if (got !== options.exportRefusal) diffs.push({ field: "exportRefusal", expected: `exit 1, ${options.exportRefusal}`, actual: got });
  };
  if (refused) {
    if (expected.error && want("error.code")) {
      compared.push("error.code");
      const code = (out.error as { code: string }).code;
      if (code !== expected.error.code) diffs.push({ field: "error.code", expected: expected.error.code, actual: code });
    }
    refusalOfExport();
    return { diffs, problems, compared };
  }

  const scalar = (field: Field, exp: unknown, key: string = field) => {
    if (exp === undefined || !want(field)) return;
    compared.push(field);
    const act = out[key];
    if (act !== exp) diffs.push({ field, expected: exp, actual: act === undefined ? "missing" : act });
  };
  const record = (field: Field, exp: Record<string, unknown> | undefined) => {
    if (exp === undefined || !want(field)) return;
    compared.push(field);
    const act = out[field];
    if (!isObject(act)) {
      diffs.push({ field, expected: exp, actual: act === undefined ? "missing" : act });
      return;
    }
    for (const [k, v] of Object.entries(exp)) {
      if (act[k] !== v) diffs.push({ field: `${field}.${k}`, expected: v, actual: act[k] === undefined ? "missing" : act[k] });
    }
  };

  record("header", expected.header as unknown as Record<string, unknown> | undefined);
  scalar("state", expected.state);
  scalar("chunkSize", expected.chunkSize);
  scalar("exceptionsPerArea", expected.exceptionsPerArea);
  if (exceptions !== undefined && want("exceptions")) {
    compared.push("exceptions");
    const d = describeExceptionDiff(exceptions, out.exceptions);
    if (d) diffs.push({ field: "exceptions", ...d });
  }
  scalar("nextFree", expected.nextFree);
  record("usage", expected.usage as unknown as Record<string, unknown> | undefined);
  scalar("currentArea", expected.currentArea);
  scalar("status", expected.status);

  refusalOfExport();
  if (options.exportChecked && expected.snapshotSha256 !== undefined && want("snapshotSha256")) {
    compared.push("snapshotSha256");
    if (answer.exportExitCode !== 0) {
      diffs.push({ field: "snapshotSha256", expected: expected.snapshotSha256, actual: `export exited ${answer.exportExitCode === null ? "abnormally" : answer.exportExitCode}` });
    } else if (answer.exportSha256 !== expected.snapshotSha256) {
      diffs.push({ field: "snapshotSha256", expected: expected.snapshotSha256, actual: answer.exportSha256 ?? "missing" });
    }
  }
  return { diffs, problems, compared };
}
