---------------------------- MODULE KernelTrace ----------------------------
(***************************************************************************)
(* Trace validation of the real kernel's logs (dm-log-writes, Linux 6.1;   *)
(* conformance/src/kernel-io/model.ts maps each log to the events of       *)
(* spec/trace/TraceDmSnapStore.tla).  A device log shows writes and their  *)
(* flags, not the kernel's memory, so the mapping adds the steps a write   *)
(* implies (Prepare before a copy, CommitStart before an area write, Finish*)
(* after it) and the log decides the fields the model checks: whether a    *)
(* flush came between the last COW data write and the area write (`flush` *)
(* of IssueArea), and whether the area write was FUA.  The model's area    *)
(* write is FUA (CompleteCommitWrite makes it durable), so an AreaDone     *)
(* event of a plain area write matches no step and the log is rejected.    *)
(* The invalidated header's write carries its FUA flag too, and must match *)
(* the model's HeaderFUA: the kernel's logs pass with HeaderFUA = FALSE    *)
(* (Linux 6.1 writes it plain) and are rejected under the fixed design.    *)
(***************************************************************************)
EXTENDS TraceDmSnapStore

KernelNext ==
    /\ TraceNext
    /\ Is("AreaDone") => Ev.fua = TRUE
    /\ Is("HeaderDone") => Ev.fua = HeaderFUA
=============================================================================
