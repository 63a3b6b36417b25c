#!/usr/bin/env node
/**
 * dmsnap-conformance: run the conformance cases against readers.
 *
 *   dmsnap-conformance [--reader NAME]... [--reader-command "CMD"] [--case GLOB]...
 *                      [--tag TAG]... [--cases DIR] [--out DIR] [--json] [--jobs N]
 *                      [--timeout SECONDS] [--no-write]
 *
 * Installed from npm (`npx @dmsnap/conformance --reader-command "..."`) it needs
 * nothing of the repository: the cases travel in the package, the reader runs
 * in the caller's folder and the matrix is written there (or to --out). The
 * built-in readers (readers.json) exist only in a clone of the repository.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { KERNEL_IDS, kernelEnv, kernelIdProblem, UNKNOWN_KERNEL, unknownKernelMessage } from "@dmsnap/kernel";
import { parseCommandLine, repeat, VERSION } from "./commandLine.js";
import { environmentLine, progressLine, renderJson, renderMarkdown } from "./matrix.js";
import { adHocReader } from "./readers.js";
import { runConformance } from "./runner.js";
import type { Capability } from "./types.js";

const here = dirname(fileURLToPath(import.meta.url));
const suite = resolve(here, "..");
const root = resolve(suite, "..");
// A clone of the repository (not an installed package): built-in readers and the repo's result files.
const inRepo = existsSync(join(root, "pnpm-workspace.yaml")) && existsSync(join(suite, "readers.json"));
// The caller's folder: npx runs us there; a pnpm script runs in conformance/ and names it INIT_CWD.
const callerDir = process.env.INIT_CWD ?? process.cwd();

const USAGE = `usage: dmsnap-conformance [options]
  -V, --version             print the version and exit
  -h, --help                this text
  --reader NAME             run this registered reader (repeatable; default: every reader
                            in conformance/readers.json with runByDefault != false);
                            only in a clone of the dmsnap repository
  --reader-command "CMD"    also run CMD as a reader, in the current folder (protocol:
                            docs/conformance.md); alone, only CMD runs
  --reader-capabilities L   what --reader-command implements: dump or dump,export (default dump,export)
  --case GLOB               only cases whose id matches (repeatable; * and ?)
  --tag TAG                 only cases with this tag (repeatable: all must match)
  --cases DIR               the cases folder (default: the cases shipped with this package)
  --out DIR                 write conformance-matrix.json and .md here (default: the current
                            folder; in a clone of the repository, conformance/results/)
  --json                    print the result matrix as JSON on stdout
  --jobs N                  commands run at once (default: number of CPUs)
  --timeout SECONDS         per-command timeout for process readers (default 30)
  --no-write                write no matrix files (nor the repository's .cache/conformance.json)
  --kernel ID               with --reader kernel: the kernel it boots: 6.1 (default), 6.12, 6.1+fix,
                            6.12+fix, or a folder with vmlinuz* and lib/modules/<release>/ (kernel/README.md)
Exit: 0 all required readers passed every case they support, 1 a failure, 2 usage error.`;

async function main(): Promise<number> {
  const parsed = parseCommandLine("dmsnap-conformance", USAGE, process.argv, (program) =>
    program
      .option("--reader <name>", "", repeat)
      .option("--reader-command <cmd>", "", repeat)
      .option("--reader-capabilities <list>")
      .option("--case <glob>", "", repeat)
      .option("--tag <tag>", "", repeat)
      .option("--cases <dir>")
      .option("--out <dir>")
      .option("--json")
      .option("--jobs <n>")
      .option("--timeout <seconds>")
      .option("--no-write")
      .option("--kernel <id>"),
  );
  if (typeof parsed === "number") return parsed;
  const o = parsed.opts;
  const args = {
    reader: o.reader as string[] | undefined,
    "reader-command": o.readerCommand as string[] | undefined,
    "reader-capabilities": o.readerCapabilities as string | undefined,
    case: o.case as string[] | undefined,
    tag: o.tag as string[] | undefined,
    cases: o.cases as string | undefined,
    out: o.out as string | undefined,
    json: o.json === true,
    jobs: o.jobs as string | undefined,
    timeout: o.timeout as string | undefined,
    "no-write": o.write === false,
    kernel: o.kernel as string | undefined,
  };
  const usage = (code: string, message: string): number => {
    process.stderr.write(`dmsnap-conformance: ${code}: ${message}; run 'dmsnap-conformance --help' for usage\n`);
    return 2;
  };
  const caps = (args["reader-capabilities"] ?? "dump,export").split(",").map((s) => s.trim()) as Capability[];
  if (!caps.every((c) => c === "dump" || c === "export") || !caps.includes("dump")) {
    return usage("BAD_OPTION", "--reader-capabilities must be dump or dump,export");
  }
  const extra = (args["reader-command"] ?? []).map((cmd, i) => adHocReader(cmd, caps, i === 0 ? "custom" : `custom${i + 1}`, callerDir));
  if (!inRepo && (extra.length === 0 || (args.reader ?? []).length > 0)) {
    process.stderr.write(
      `dmsnap-conformance: NO_READER: the built-in readers exist only in a clone of the dmsnap repository.\n` +
        `Next step: name your reader, e.g. --reader-command "python3 myreader.py" (protocol: docs/conformance.md).\n`,
    );
    return 2;
  }
  if (args.kernel !== undefined) {
    if (!(args.reader ?? []).includes("kernel")) return usage("BAD_OPTION", "--kernel chooses the kernel of --reader kernel; add --reader kernel");
    // a folder is the caller's
    if (!(KERNEL_IDS as readonly string[]).includes(args.kernel) && existsSync(resolve(callerDir, args.kernel))) args.kernel = resolve(callerDir, args.kernel);
    const problem = kernelIdProblem(args.kernel);
    if (problem) return usage(UNKNOWN_KERNEL, unknownKernelMessage(problem));
    // the kernel reader (and the oracle under it) boots the kernel these variables name
    try {
      Object.assign(process.env, kernelEnv(root, args.kernel));
    } catch (e) {
      process.stderr.write(`dmsnap-conformance: KERNEL_UNAVAILABLE: ${(e as Error).message}; see the lines above, and kernel/README.md\n`);
      return 2;
    }
  }
  const jobs = args.jobs ? Number(args.jobs) : undefined;
  const timeout = args.timeout ? Number(args.timeout) : undefined;
  if ((jobs !== undefined && !(jobs >= 1)) || (timeout !== undefined && !(timeout > 0))) {
    return usage("BAD_OPTION", "--jobs and --timeout take positive numbers");
  }
  // With --reader-command alone, run only that reader.
  const readerNames = args.reader ?? [];
  const onlyCustom = extra.length > 0 && readerNames.length === 0;
  const tty = process.stderr.isTTY && !args.json;
  let report;
  try {
    report = await runConformance({
      root,
      casesDir: args.cases ? resolve(callerDir, args.cases) : join(suite, "cases"),
      schemaPath: join(suite, "schema", "case.schema.json"),
      readersFile: onlyCustom ? undefined : join(suite, "readers.json"),
      extraReaders: extra,
      readerNames,
      caseGlobs: args.case ?? [],
      tags: args.tag ?? [],
      ...(jobs ? { jobs } : {}),
      ...(timeout ? { timeoutMs: timeout * 1000 } : {}),
      onCase: tty ? (d, t, id, cells) => process.stderr.write(`${progressLine(d, t, id, cells)}\n`) : undefined,
    });
  } catch (e) {
    process.stderr.write(`dmsnap-conformance: ${(e as Error).message}\n`);
    return 2;
  }
  // A run of chosen readers (e.g. --reader kernel) keeps its own files, so it
  // does not overwrite the default run's matrix and counts.
  const chosen = (args.reader as string[] | undefined) ?? [];
  const suffix = chosen.length > 0 ? `-${chosen.join("-")}` : "";
  // In the repository: conformance/results/matrix*.md; elsewhere (or with --out): conformance-matrix*.md in the caller's folder.
  const repoResults = inRepo && !args.out;
  const results = repoResults ? join(suite, "results") : resolve(callerDir, args.out ?? ".");
  const matrixFile = join(results, `${repoResults ? "matrix" : "conformance-matrix"}${suffix}.md`);
  if (!args["no-write"]) {
    mkdirSync(results, { recursive: true });
    writeFileSync(matrixFile.replace(/\.md$/, ".json"), renderJson(report));
    writeFileSync(matrixFile, renderMarkdown(report, inRepo ? "`pnpm conformance` (the dmsnap repository; protocol: docs/conformance.md)" : `\`dmsnap-conformance\` ${VERSION}`));
  }
  if (!args["no-write"] && inRepo) {
    mkdirSync(join(root, ".cache"), { recursive: true });
    const { passed, failed, skipped, advisoryFailed } = report.counts;
    writeFileSync(
      join(root, ".cache", `conformance${suffix}.json`),
      `${JSON.stringify({ passed, failed, skipped, advisoryFailed, cases: report.cases.length, readers: report.readers, ms: report.ms }, null, 2)}\n`,
    );
  }
  if (args.json) {
    process.stdout.write(renderJson(report));
  } else {
    for (const p of report.caseProblems) process.stderr.write(`BROKEN CASE ${p.caseId}: ${p.message}\n`);
    for (const r of report.readers) {
      process.stdout.write(
        `${r.name.padEnd(10)} ${r.required ? "required" : "optional"}  ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(4)} failed ${String(r.skipped).padStart(4)} skipped${r.installed ? "" : "  (not installed)"}\n`,
      );
      if (r.environment) process.stdout.write(`${"".padEnd(10)} on: ${environmentLine(r.environment)}\n`);
    }
    for (const c of report.cells.filter((x) => x.status === "fail")) {
      const what = [...c.problems, ...c.diffs.map((d) => `${d.field}: expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)}`)];
      process.stdout.write(`FAIL ${c.caseId} × ${c.reader}${report.readers.find((r) => r.name === c.reader)?.required ? "" : " (optional)"}: ${what.join("; ").slice(0, 400)}\n`);
    }
    const { passed, failed, skipped, advisoryFailed } = report.counts;
    process.stdout.write(
      `conformance: ${report.cases.length} cases × ${report.readers.length} readers: ${passed} passed, ${failed} failed, ${skipped} skipped${advisoryFailed ? `, ${advisoryFailed} failed in optional readers` : ""} (${(report.ms / 1000).toFixed(1)}s)${args["no-write"] ? "" : `; matrix in ${relative(callerDir, matrixFile)}`}\n`,
    );
  }
  return report.failed ? 1 : 0;
}

main().then(
  // exit once stdout is flushed: a --json report is bigger than a pipe's
  // buffer, and process.exit() would drop what the reader has not read yet
  (code) => process.stdout.write("", () => process.exit(code)),
  (e) => {
    process.stderr.write(`dmsnap-conformance: ${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
