/**
 * The pure parts of `pnpm bench`: statistics, the met/MISSED verdict of a
 * target, the comparison with the previous run and the table. No I/O here, so
 * bench/lib.test.ts can pin the logic and the harness cannot silently rot.
 *
 * A row is one target of issue #15 (or an informational figure):
 *   { id, group, what, value, unit, baseline?: {label, value, unit?},
 *     ratio?, target?: {on: "ratio"|"value", op: "<="|"<"|">=", limit},
 *     met?, note?, samples?: {value: number[], baseline: number[]} }
 * `ratio` is value / baseline.value, both measured in the same run.
 * A row with `samples` (alternated A/B runs of a noisy, disk-bound row) is
 * judged on the ratio of the medians and may be `inconclusive` (see judge).
 */

/**
 * The children's CPU time (user + system, ms) from the last line bash's `times`
 * prints ("0m0.075s 0m0.012s"), or NaN when there is none.
 */
export function parseTimes(text) {
  const lines = String(text).trim().split("\n");
  const m = /^(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s$/.exec(lines[lines.length - 1]?.trim() ?? "");
  if (!m) return NaN;
  return (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
}

export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function min(xs) {
  return xs.length === 0 ? NaN : Math.min(...xs);
}

const OPS = {
  "<=": (x, l) => x <= l,
  "<": (x, l) => x < l,
  ">=": (x, l) => x >= l,
  ">": (x, l) => x > l,
};

/** True when `x` satisfies the target; false for a missing or non-finite measurement. */
export function meets(x, op, limit) {
  const f = OPS[op];
  if (!f) throw new Error(`unknown target operator ${op}`);
  return Number.isFinite(x) && f(x, limit);
}

export function max(xs) {
  return xs.length === 0 ? NaN : Math.max(...xs);
}

/**
 * The 1-based rank k of the order statistics x(k) and x(n+1-k) that bound a
 * distribution-free confidence interval of at least 95 % for the median of n
 * runs: the largest k >= 1 with P(Binomial(n, 1/2) <= k - 1) <= 2.5 %. k is 1
 * (min and max) up to 8 runs, 2 at 9-11, 3 at 12-14, 4 at 15 (x(4) to x(12)).
 */
export function medianBoundRank(n) {
  let k = 1;
  let below = 0; // P(X <= k - 1), accumulated
  let term = 2 ** -n; // P(X = 0)
  for (let j = 0; j < n; j++) {
    below += term;
    if (below > 0.025) break;
    k = j + 1;
    term = (term * (n - j)) / (j + 1);
  }
  return Math.min(k, Math.max(1, n >> 1));
}

/**
 * min, median, max of a sample, and its spread: the width of the median's
 * 95 % distribution-free interval [x(k), x(n+1-k)] (medianBoundRank) relative
 * to the median: (max - min) / median up to 8 runs. One slow run of 15 (a
 * scheduler hiccup) does not make the median uncertain; it made the range.
 */
export function stats(xs) {
  const m = median(xs);
  const s = [...xs].sort((a, b) => a - b);
  const k = medianBoundRank(s.length);
  const lo = s.length ? s[k - 1] : NaN;
  const hi = s.length ? s[s.length - k] : NaN;
  return { n: xs.length, min: min(xs), median: m, max: max(xs), lo, hi, spread: (hi - lo) / m };
}

/**
 * The verdict of a ratio target on alternated runs: "met", "MISSED" or
 * "inconclusive". The ratio is median(subject) / median(baseline). The margin
 * is how far the subject's median is from the goal, relative to the goal
 * (|limit - ratio| / limit); when the baseline's own spread (stats: the
 * width of its median's 95 % interval, max - min up to 8 runs, over the median) is wider than that margin, the same baseline measured
 * again could move the ratio across the goal: the row is "inconclusive", which
 * counts as not met. Fewer than `minPairs` runs on either side: inconclusive.
 */
export function judge(subject, baseline, { op, limit, minPairs = 1 }) {
  const a = stats(subject);
  const b = stats(baseline);
  const ratio = a.median / b.median;
  const margin = Math.abs(limit - ratio) / limit;
  const ok = meets(ratio, op, limit);
  let verdict = ok ? "met" : "MISSED";
  if (Number.isFinite(ratio) && (b.spread > margin || a.n < minPairs || b.n < minPairs)) verdict = "inconclusive";
  return { verdict, ratio, margin, subject: a, baseline: b };
}

/**
 * Completes a row: the ratio against its baseline and, when it has a target,
 * whether it is met (judged on the ratio or on the value itself).
 */
export function makeRow(r) {
  const row = { ...r };
  if (row.samples) {
    // Alternated runs: medians, and a verdict that knows the baseline's noise.
    row.value = median(row.samples.value);
    row.baseline = { ...row.baseline, value: median(row.samples.baseline) };
    row.spread = { value: stats(row.samples.value), baseline: stats(row.samples.baseline), margin: NaN };
  }
  if (row.baseline && row.ratio === undefined) row.ratio = row.value / row.baseline.value;
  if (row.samples && row.target?.on === "ratio") {
    const j = judge(row.samples.value, row.samples.baseline, row.target);
    row.verdict = j.verdict;
    row.met = j.verdict === "met";
    row.spread = { value: j.subject, baseline: j.baseline, margin: j.margin };
    return row;
  }
  if (row.target) {
    const x = row.target.on === "ratio" ? row.ratio : (row.target.subject ?? row.value);
    row.met = meets(x, row.target.op, row.target.limit);
    row.verdict = row.met ? "met" : "MISSED";
  }
  return row;
}

/**
 * Adds `previous` (the same row's value in the last stored run) and `change`
 * (value now / value then) to each row; rows the last run did not have get
 * `previous: null`. Returns new rows.
 */
export function compareWithPrevious(rows, last) {
  const before = new Map((last?.rows ?? []).map((r) => [r.id, r]));
  return rows.map((r) => {
    const p = before.get(r.id);
    if (!p || !Number.isFinite(p.value) || p.value === 0 || p.unit !== r.unit) return { ...r, previous: null };
    return { ...r, previous: { value: p.value, at: p.at ?? last.at ?? null }, change: r.value / p.value };
  });
}

/** The stored run after this one: this run's rows replace those with the same id (a filtered run keeps the others). */
export function mergeRuns(last, rows, at) {
  const byId = new Map((last?.rows ?? []).map((r) => [r.id, r]));
  for (const r of rows) {
    const { previous, change, ...keep } = r;
    byId.set(r.id, { ...keep, at });
  }
  return { at, rows: [...byId.values()] };
}

export function fmtNum(x, unit) {
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  const d = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return `${x.toFixed(d)}${unit ? ` ${unit}` : ""}`;
}

function targetText(t) {
  if (!t) return "";
  return `${t.on === "ratio" ? "ratio" : "value"} ${t.op} ${t.limit}${t.on === "ratio" ? "x" : t.unit ? ` ${t.unit}` : ""}`;
}

/** "median [min-max] of n" for alternated runs, else the value. */
function measured(x, s, unit) {
  if (!s) return fmtNum(x, unit);
  return `${fmtNum(s.median, unit)} [${fmtNum(s.min)}-${fmtNum(s.max)}, n=${s.n}]`;
}

/** The verdict a row shows: met, MISSED, inconclusive, or info (no target). */
export function verdictOf(r) {
  if (!r.target) return "info";
  return r.verdict ?? (r.met ? "met" : "MISSED");
}

/** One line per row: the verdict first, then the figures. */
export function formatTable(rows, { firstRun }) {
  const head = ["", "target", "measured", "baseline (same run)", "ratio", "goal", "vs previous run"];
  const body = rows.map((r) => [
    verdictOf(r),
    r.what ?? r.id,
    measured(r.value, r.spread?.value, r.unit),
    r.baseline ? `${r.baseline.label} ${measured(r.baseline.value, r.spread?.baseline, r.baseline.unit ?? r.unit)}` : "",
    r.ratio !== undefined ? `${fmtNum(r.ratio)}x` : "",
    targetText(r.target),
    r.previous ? `${fmtNum(r.change)}x of ${fmtNum(r.previous.value, r.unit)}` : firstRun ? "first run" : "new row",
  ]);
  const widths = head.map((_, i) => Math.max(head[i].length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join(" | ").trimEnd();
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("-|-")];
  for (const b of body) out.push(line(b));
  const pct = (x) => `${(x * 100).toFixed(0)} %`;
  const noise = (r) => (r.spread ? `baseline spread ${pct(r.spread.baseline.spread)}${Number.isFinite(r.spread.margin) ? ` vs margin to the goal ${pct(r.spread.margin)}` : ""}${r.note ? "; " : ""}` : "");
  const notes = rows.filter((r) => r.note || r.spread).map((r) => `  ${r.what ?? r.id}: ${noise(r)}${r.note ?? ""}`);
  if (notes.length) out.push("", "notes:", ...notes);
  return out.join("\n");
}

export function summary(rows) {
  const judged = rows.filter((r) => r.target);
  const met = judged.filter((r) => r.met).length;
  const inconclusive = judged.filter((r) => !r.met && verdictOf(r) === "inconclusive");
  return {
    met,
    missed: judged.length - met - inconclusive.length,
    inconclusive: inconclusive.length,
    missedIds: judged.filter((r) => !r.met && verdictOf(r) !== "inconclusive").map((r) => r.id),
    inconclusiveIds: inconclusive.map((r) => r.id),
  };
}
