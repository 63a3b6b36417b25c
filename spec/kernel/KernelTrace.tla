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
(* Origin writes: the first write to an origin chunk that got an          *)
(* exception is the model's OriginWrite (allowed once the exception's     *)
(* callback reported success, or the snapshot is invalid).  A clean       *)
(* deactivation followed by an activation: both caches written back       *)
(* (lowest chunk first: one order is enough), then the model's Crash      *)
(* finding the snapshot valid, then its Reload; the kernel's next copy    *)
(* (a Prepare event) must then land on the model's reloaded next_free.    *)
(* The merge target's activation is such a reactivation too.              *)
(***************************************************************************)
EXTENDS TraceDmSnapStore

OriginWriteEv == Is("OriginWrite") /\ OriginWrite(Ev.e) /\ Advance

Lowest(S) == CHOOSE x \in S : \A y \in S : x <= y
DeactivateDestage ==
    /\ Is("Deactivate")
    /\ LET dirty == {c \in Chunks : cache[c] # NoBlock}
           odirty == {e \in Exceptions : ocache[e] # "none"}
       IN IF dirty # {} THEN Destage(Lowest(dirty))
          ELSE odirty # {} /\ OriginDestage(Lowest(odirty))
    /\ Stay

DeactivateEv ==
    /\ Is("Deactivate") /\ cpc = "idle" /\ cw = NoWrite
    /\ cache = NoCache /\ ocache = ONoCache
    /\ Crash /\ act'.status = "valid" /\ Advance

ReactivateEv == Is("Reactivate") /\ Reload /\ Advance

\* snapshot-merge: the kernel's log has one merge write onto the origin and one
\* area write for several entries; the mapping gives each entry the model's
\* MergeCopy + MergeCommit, `flush` saying whether a flush came between the
\* origin write and the area write, the last with the area the kernel wrote.
MergeCopyEv == Is("MergeCopy") /\ MergeReady /\ areaBuf[curIdx] = Ev.e /\ MergeCopy /\ Advance
MergeCommitEv ==
    /\ Is("MergeCommit") /\ Ev.flush = MergeFlushOrigin
    /\ MergeCommit
    /\ ("slots" \in DOMAIN Ev => disk'[AreaChunk(curArea)] = Blk(Ev.slots))
    /\ Advance

KernelNext ==
    /\ (TraceNext \/ OriginWriteEv \/ DeactivateDestage \/ DeactivateEv \/ ReactivateEv
        \/ MergeCopyEv \/ MergeCommitEv)
    /\ Is("AreaDone") => Ev.fua = TRUE
    /\ Is("HeaderDone") => Ev.fua = HeaderFUA
=============================================================================
