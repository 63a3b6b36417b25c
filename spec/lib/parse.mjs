// Parser for the output of TLC run with `-tool`, which wraps every message in
//   @!@!@STARTMSG <code>:<class> @!@!@ ... @!@!@ENDMSG <code> @!@!@
// Message codes used here (tlc2.output.EC / MP in the TLA+ tools):
//   2262 version banner         2193 model checking completed, no error
//   2110 invariant violated     2116 temporal properties violated
//   2114 deadlock reached       2111/2112 action property violated
//   2217 a state of an error trace      2218 "back to state" (lasso of a liveness trace)
//   2122 stuttering (liveness trace)    2199 states generated/distinct/left
//   2194 depth of the search    2186 "Finished in ..."
//   1000 / 2103 / 2147 / 1xxx   errors (parse error, TLC bug, assertion, ...)

/**
 * @typedef {{ code: number, severity: number, body: string }} TlcMessage
 * @typedef {{ step: number, action: string, location: string | null, vars: Record<string, string>, kind: "state" | "back-to-state" | "stuttering" }} TraceStep
 * @typedef {"pass" | "invariant" | "temporal" | "deadlock" | "action-property" | "error" | "incomplete"} Outcome
 * @typedef {{
 *   outcome: Outcome,
 *   violated: string | null,
 *   version: string | null,
 *   generated: number | null,
 *   distinct: number | null,
 *   left: number | null,
 *   depth: number | null,
 *   seconds: number | null,
 *   trace: TraceStep[],
 *   errors: string[],
 * }} TlcResult
 */

const START = /^@!@!@STARTMSG (\d+):(\d+) @!@!@$/;
const END = /^@!@!@ENDMSG (\d+) @!@!@$/;

/**
 * Split raw `-tool` output into messages. Text outside message markers
 * (e.g. "Parsing file ...") is returned as code 0.
 * @param {string} text
 * @returns {TlcMessage[]}
 */
export function splitMessages(text) {
  /** @type {TlcMessage[]} */
  const out = [];
  /** @type {string[]} */
  let loose = [];
  /** @type {{ code: number, severity: number, lines: string[] } | null} */
  let cur = null;
  const flushLoose = () => {
    if (loose.length > 0) {
      out.push({ code: 0, severity: 0, body: loose.join("\n") });
      loose = [];
    }
  };
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine;
    const s = START.exec(line);
    if (s) {
      flushLoose();
      cur = { code: Number(s[1]), severity: Number(s[2]), lines: [] };
      continue;
    }
    const e = END.exec(line);
    if (e && cur) {
      out.push({ code: cur.code, severity: cur.severity, body: cur.lines.join("\n").replace(/\s+$/, "") });
      cur = null;
      continue;
    }
    if (cur) cur.lines.push(line);
    else if (line.trim() !== "") loose.push(line);
  }
  if (cur) out.push({ code: cur.code, severity: cur.severity, body: cur.lines.join("\n").replace(/\s+$/, "") });
  flushLoose();
  return out;
}

/** @param {string} s */
const num = (s) => Number(s.replace(/,/g, ""));

/**
 * TLC's "Finished in" durations: "738ms", "11s", "01min 02s", "1h 02min 03s".
 * @param {string} body
 * @returns {number | null} seconds
 */
export function parseDuration(body) {
  const m = /Finished in (.+?) at/.exec(body);
  if (!m || m[1] === undefined) return null;
  const d = m[1];
  let total = 0;
  let matched = false;
  for (const part of d.matchAll(/(\d+)\s*(ms|h|min|s)\b/g)) {
    matched = true;
    const v = Number(part[1]);
    switch (part[2]) {
      case "ms": total += v / 1000; break;
      case "s": total += v; break;
      case "min": total += v * 60; break;
      case "h": total += v * 3600; break;
    }
  }
  return matched ? total : null;
}

/**
 * Parse the body of a 2217 / 2218 / 2122 message into a trace step.
 * @param {TlcMessage} msg
 * @returns {TraceStep}
 */
export function parseTraceStep(msg) {
  const lines = msg.body.split("\n");
  const head = lines[0] ?? "";
  /** @type {TraceStep} */
  const step = { step: 0, action: "", location: null, vars: {}, kind: "state" };
  const hm = /^(\d+):\s*(.*)$/.exec(head);
  let rest = head;
  if (hm) {
    step.step = Number(hm[1]);
    rest = hm[2] ?? "";
  }
  if (/Stuttering/i.test(rest)) {
    step.kind = "stuttering";
    step.action = "Stuttering";
  } else if (/Back to state/i.test(rest)) {
    step.kind = "back-to-state";
    step.action = rest.replace(/[<>]/g, "").trim();
  } else {
    // "<Initial predicate>" or "<Prepare line 153, col 5 to line 159, col 77 of module DmSnapStore>"
    const am = /^<(.*)>$/.exec(rest.trim());
    const inner = am && am[1] !== undefined ? am[1] : rest.trim();
    const lm = /^(\S+)\s+(line \d+, col \d+ to line \d+, col \d+ of module \S+)$/.exec(inner);
    if (lm && lm[1] !== undefined && lm[2] !== undefined) {
      step.action = lm[1];
      step.location = lm[2];
    } else {
      step.action = inner;
    }
  }
  // Variables: "/\ name = value", value may continue on following lines.
  /** @type {string | null} */
  let name = null;
  /** @type {string[]} */
  let val = [];
  const commit = () => {
    if (name !== null) step.vars[name] = val.join(" ").replace(/\s+/g, " ").trim();
  };
  for (const line of lines.slice(1)) {
    const vm = /^\/\\ (\w+) = (.*)$/.exec(line);
    if (vm && vm[1] !== undefined) {
      commit();
      name = vm[1];
      val = [vm[2] ?? ""];
    } else if (name !== null && line.trim() !== "") {
      val.push(line.trim());
    } else if (name === null) {
      // single-variable specs print "x = 1" without the conjunction bullet
      const sm = /^(\w+) = (.*)$/.exec(line);
      if (sm && sm[1] !== undefined) {
        name = sm[1];
        val = [sm[2] ?? ""];
      }
    }
  }
  commit();
  return step;
}

/**
 * Parse a whole TLC `-tool` output.
 * @param {string} text
 * @returns {TlcResult}
 */
export function parseTlcOutput(text) {
  const msgs = splitMessages(text);
  /** @type {TlcResult} */
  const r = {
    outcome: "incomplete",
    violated: null,
    version: null,
    generated: null,
    distinct: null,
    left: null,
    depth: null,
    seconds: null,
    trace: [],
    errors: [],
  };
  let completed = false;
  /** @type {string[]} */
  const loose = [];
  for (const m of msgs) {
    switch (m.code) {
      case 2262: {
        const vm = /TLC2 Version (.+)$/m.exec(m.body);
        if (vm && vm[1] !== undefined) r.version = vm[1].trim();
        break;
      }
      case 2193:
        completed = true;
        break;
      case 2110: {
        r.outcome = "invariant";
        const im = /Invariant (\S+) is violated/.exec(m.body);
        r.violated = im && im[1] !== undefined ? im[1] : null;
        break;
      }
      case 2116:
        r.outcome = "temporal";
        break;
      case 2114:
        r.outcome = "deadlock";
        break;
      case 2111:
      case 2112: {
        r.outcome = "action-property";
        const am = /(?:Action property|property) (\S+) is violated/.exec(m.body);
        r.violated = am && am[1] !== undefined ? am[1] : null;
        break;
      }
      case 2217:
      case 2218:
      case 2122:
        r.trace.push(parseTraceStep(m));
        break;
      case 2199: {
        const sm = /([\d,]+) states generated, ([\d,]+) distinct states found, ([\d,]+) states left on queue/.exec(m.body);
        if (sm && sm[1] !== undefined && sm[2] !== undefined && sm[3] !== undefined) {
          r.generated = num(sm[1]);
          r.distinct = num(sm[2]);
          r.left = num(sm[3]);
        }
        break;
      }
      case 2194: {
        const dm = /depth of the complete state graph search is ([\d,]+)/.exec(m.body);
        if (dm && dm[1] !== undefined) r.depth = num(dm[1]);
        break;
      }
      case 2186:
        r.seconds = parseDuration(m.body);
        break;
      default:
        if (m.code === 0) {
          // Text outside the markers: SANY's parse errors are printed there.
          if (/error|\*\*\*/i.test(m.body)) loose.push(m.body);
        } else if (m.severity === 1 && !NOT_ERRORS.has(m.code)) {
          r.errors.push(`[${m.code}] ${m.body}`);
        }
    }
  }
  if (r.errors.length > 0) r.errors.push(...loose);
  if (r.outcome === "incomplete") {
    if (r.errors.length > 0) r.outcome = "error";
    else if (completed) r.outcome = "pass";
  }
  return r;
}

// Class-1 messages that announce a result or a trace rather than an error.
const NOT_ERRORS = new Set([2110, 2111, 2112, 2114, 2116, 2120, 2121, 2264]);
