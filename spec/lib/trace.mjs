// Rendering of a counterexample: one block per step, the action that was
// taken, and only the variables that changed (the first state in full).

/** @typedef {import("./parse.mjs").TraceStep} TraceStep */

/**
 * @param {TraceStep[]} trace
 * @param {{ width?: number }} [opts]
 * @returns {string}
 */
export function formatTrace(trace, opts = {}) {
  const width = opts.width ?? 100;
  /** @type {string[]} */
  const out = [];
  /** @type {Record<string, string>} */
  let prev = {};
  for (const [i, st] of trace.entries()) {
    if (st.kind === "stuttering") {
      out.push(`  ${st.step}. (stutters forever)`);
      continue;
    }
    if (st.kind === "back-to-state") {
      out.push(`  ${st.step}. ${st.action} (the behaviour loops from here)`);
      continue;
    }
    out.push(`  ${st.step}. ${st.action}`);
    const names = Object.keys(st.vars).sort();
    const changed = i === 0 ? names : names.filter((n) => prev[n] !== st.vars[n]);
    if (changed.length === 0) out.push("       (no variable changed)");
    for (const n of changed) {
      out.push(wrap(`       ${n} = ${st.vars[n]}`, width, "           "));
    }
    prev = st.vars;
  }
  return out.join("\n");
}

/**
 * The same trace in the shape written by `--trace-json`.
 * @param {TraceStep[]} trace
 */
export function traceToJson(trace) {
  /** @type {Record<string, string>} */
  let prev = {};
  return trace.map((st, i) => {
    const changed = Object.keys(st.vars).filter((n) => i === 0 || prev[n] !== st.vars[n]);
    prev = st.vars;
    return { step: st.step, kind: st.kind, action: st.action, location: st.location, changed, state: st.vars };
  });
}

/**
 * @param {string} line
 * @param {number} width
 * @param {string} indent
 */
function wrap(line, width, indent) {
  if (line.length <= width) return line;
  /** @type {string[]} */
  const parts = [];
  let rest = line;
  while (rest.length > width) {
    let cut = rest.lastIndexOf(" ", width);
    if (cut <= indent.length) cut = width;
    parts.push(rest.slice(0, cut));
    rest = indent + rest.slice(cut).trimStart();
  }
  parts.push(rest);
  return parts.join("\n");
}
