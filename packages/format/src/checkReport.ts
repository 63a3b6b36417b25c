/**
 * What `dmsnap check` reports, computed once for every tool that shows it (the
 * CLI's `check`, the browser explorer): the checker's pass (diagnose.ts) plus
 * the two findings about the state itself, SNAPSHOT_INVALIDATED (the header's
 * valid word is 0) and NEW_COW_NOT_BLANK (magic 0 over metadata that is not
 * blank), with the severity totals over every finding counted.
 */
import { statusOf } from "./dump.js";
import type { Diagnosis, Finding } from "./diagnose.js";
import type { Location } from "./errors.js";
import type { AsyncReader, SyncReader } from "./reader.js";
import { describeNotBlank, newCowNotBlank, notBlankNextStep, type NotBlank } from "./blank.js";

/** A well-formed but invalidated snapshot (valid word 0): activates as Invalid, loads nothing. */
export const SNAPSHOT_INVALIDATED = "SNAPSHOT_INVALIDATED";
/** Magic 0 over metadata that is not blank (what the 2009 race leaves when the first entry is {0, 2}). */
export const NEW_COW_NOT_BLANK = "NEW_COW_NOT_BLANK";

/** The message of NEW_COW_NOT_BLANK: what was found where first activation would write, and what to do. */
export function notBlankMessage(e: NotBlank): string {
  return `${describeNotBlank(e)}. ${notBlankNextStep(e)}`;
}

export function notBlankFinding(e: NotBlank): Finding {
  return { code: NEW_COW_NOT_BLANK, severity: "warning", message: notBlankMessage(e), location: { chunk: 0, byteOffset: e.firstNonZero } };
}

export function snapshotInvalidatedFinding(): Finding {
  return {
    code: SNAPSHOT_INVALIDATED,
    severity: "warning",
    message: `the header's valid word is 0: the snapshot was invalidated (it overflowed or a copy failed), so the kernel activates it as Invalid and loads no exceptions. The entries are still on disk: 'dmsnap dump --lossless' keeps them, 'dmsnap repair --output <file>' writes a usable copy`,
    location: { chunk: 0, byteOffset: 4 },
  };
}

/** `dmsnap check --json`'s object. */
export interface CheckReport {
  file: string;
  /** "new", "valid", "invalid", or "refused" when activation fails. */
  state: string;
  /** What `dmsetup status` would print, or null when refused. */
  status: string | null;
  chunkSize: number | null;
  exceptions: number | null;
  findings: Finding[];
  /** Findings per code, including those not listed. */
  counts: Record<string, number>;
  summary: { errors: number; warnings: number; info: number; clean: boolean; listed: number; total: number };
}

/**
 * The report of `dmsnap check` for a diagnosis of `reader`'s bytes. `reader`
 * is read again only for a new (magic 0) COW: its header chunk and area 0 (blank.ts).
 */
export async function checkReport(file: string, d: Diagnosis, reader: SyncReader | AsyncReader): Promise<CheckReport> {
  const evidence = d.image?.state === "new" ? await newCowNotBlank(reader, d.image.chunkSize) : null;
  return reportOf(file, d, evidence ? notBlankFinding(evidence) : null);
}

/** The report from a diagnosis and the not-blank finding, if any (checkReport without the reader). */
export function reportOf(file: string, d: Diagnosis, extra: Finding | null = null): CheckReport {
  const findings = [...d.findings];
  const counts = { ...d.counts };
  const img = d.image;
  if (extra) {
    findings.unshift(extra);
    counts[extra.code] = 1;
  }
  if (img && img.state === "invalid") {
    findings.unshift(snapshotInvalidatedFinding());
    counts[SNAPSHOT_INVALIDATED] = 1;
  }
  // Severity totals over every finding counted, not only those listed.
  const severityOf = new Map(findings.map((f) => [f.code, f.severity] as const));
  let errors = 0;
  let warnings = 0;
  let info = 0;
  let total = 0;
  for (const [code, n] of Object.entries(counts)) {
    total += n;
    const s = severityOf.get(code);
    if (s === "error") errors += n;
    else if (s === "warning") warnings += n;
    else info += n;
  }
  return {
    file,
    state: img ? img.state : "refused",
    status: img ? statusOf(img) : null,
    chunkSize: img ? img.chunkSize : null,
    exceptions: img ? img.exceptionCount : null,
    findings,
    counts,
    summary: { errors, warnings, info, clean: errors === 0 && warnings === 0, listed: findings.length, total },
  };
}

/** A finding's location in the words `dmsnap check` prints (the explorer shows the same). */
export function formatLocation(l: Location): string {
  const parts: string[] = [];
  if (l.chunk !== undefined) parts.push(`chunk ${l.chunk}`);
  if (l.area !== undefined) parts.push(`area ${l.area}`);
  if (l.index !== undefined) parts.push(`entry ${l.index}`);
  if (l.byteOffset !== undefined) parts.push(`byte ${l.byteOffset}`);
  return parts.length ? parts.join(", ") : "device";
}
