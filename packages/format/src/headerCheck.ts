/**
 * `dmsnap check --header-only`: what the kernel's activation decides from the
 * header alone (magic, version, chunk size, valid, and whether the device can
 * hold the header and area 0), without reading a metadata area, as
 * thin_check --super-block-only checks only the superblock. A magic-0 header
 * still gets the bounded blank test (header chunk and area 0: blank.ts), since
 * first activation would write over both.
 */
import { Activation, type ActivationOptions } from "./activation.js";
import { newCowNotBlank } from "./blank.js";
import { notBlankFinding, reportOf, snapshotInvalidatedFinding, SNAPSHOT_INVALIDATED, type CheckReport } from "./checkReport.js";
import { FindingCode, type Finding } from "./diagnose.js";
import { FormatError } from "./errors.js";
import type { AsyncReader, SyncReader } from "./reader.js";

/** The report of `check --header-only`: the same shape as checkReport's; `exceptions` and `status` are null (no area is read). */
export async function checkHeaderOnly(file: string, reader: SyncReader | AsyncReader, options: ActivationOptions = {}): Promise<CheckReport> {
  const a = new Activation(reader.size, options);
  const findings: Finding[] = [];
  const counts: Record<string, number> = {};
  let state = "refused";
  let chunkSize: number | null = null;
  let extra: Finding | null = null;
  try {
    const h = a.headerRequest();
    const bytes = await reader.read(h.offset, h.length);
    a.acceptHeader(bytes);
    const header = a.headerSeen();
    state = header.magic === 0 ? "new" : header.valid === 0 ? "invalid" : "valid";
    const inEffect = a.chunkSizeInEffect;
    chunkSize = inEffect;
    if (header.magic !== 0 && header.valid > 1) {
      findings.push({ code: FindingCode.ValidNotBoolean, severity: "warning", message: `header valid word is ${header.valid}; the kernel treats any non-zero value as valid, but only 0 and 1 are ever written`, location: { chunk: 0, byteOffset: 4 } });
      counts[FindingCode.ValidNotBoolean] = 1;
    }
    if (state === "new") {
      const e = await newCowNotBlank(reader, inEffect);
      if (e) extra = notBlankFinding(e);
    }
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    findings.push({ code: e.code, severity: "error", message: e.message, location: e.location });
    counts[e.code] = 1;
  }
  if (state === "invalid") {
    findings.unshift(snapshotInvalidatedFinding());
    counts[SNAPSHOT_INVALIDATED] = 1;
  }
  // Only the header was read: no activated image, so the state and chunk size are set here.
  const r = reportOf(file, { image: null, findings, counts }, extra);
  return { ...r, state, chunkSize, status: null, exceptions: null };
}
