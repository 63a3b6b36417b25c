/**
 * @dmsnap/kernel: the kernel oracle's log and crash side (the guest side is
 * python: lib/harness.py, lib/activation.py, io/record.py; kernel/README.md).
 *
 * - which kernel: `kernelIdProblem`, `kernelEnv` (kernels.ts);
 * - record a log and activate images: `recordLogs`, `activateImages` (oracle.ts);
 * - read a dm-log-writes log: `parseLog`, `encodeLog` (log.ts);
 * - the workloads: `loadWorkloads`, `tableOf`, `initialRegion` (workload.ts);
 * - enumerate crash states and judge them with our codec: `enumerateCrashes`, `replay`, `judge` (crash.ts);
 * - the order rules and the log mutants: `validateOrder`, `mutations`, `crashShows` (order.ts);
 * - the log as a behaviour of the TLA+ model, checked by TLC: `toModel`, `checkKernelLogs` (model.ts, tlc.ts);
 * - our engine's own log of the same workloads: `engineLog` (engine.ts).
 */
export { KERNEL_IDS, UNKNOWN_KERNEL, kernelEnv, kernelIdProblem, unknownKernelMessage } from "./kernels.js";
export { ACTIVATE_PY, FIXTURES_DIR, KERNEL_DIR, RECORD_PY, WORKLOADS_FILE, activateImages, recordLogs } from "./oracle.js";
export { FLAG_DISCARD, FLAG_FLUSH, FLAG_FUA, FLAG_MARK, FLAG_METADATA, LogError, LogErrorCode, encodeLog, parseLog, type LogEvent, type WriteLog } from "./log.js";
export { initialRegion, loadWorkloads, pattern, patternSector, snapshotVersions, tableOf, type Step, type Workload } from "./workload.js";
export { enumerateCrashes, judge, replay, staleRegion, subsets, type CrashState, type EnumerateOptions, type EnumerateResult, type Verdict } from "./crash.js";
export { crashShows, mutations, validateOrder, type HeaderDurability, type OrderResult } from "./order.js";
export { toModel, type MapResult, type ModelEvent, type ModelLog } from "./model.js";
export { checkKernelLogs, type TlcResult } from "./tlc.js";
export { engineLog, type HeaderRule } from "./engine.js";
