---------------------------- MODULE KernelTrace ----------------------------
(***************************************************************************)
(* Trace validation of the real kernel's logs (dm-log-writes, Linux 6.1;   *)
(* kernel/src/model.ts maps each log to the events of                      *)
(* spec/trace/TraceDmSnapStore.tla and the ones below).  A device log      *)
(* shows writes and their flags, not the kernel's memory, so the mapping   *)
(* adds the steps a write implies (Prepare before a copy, CommitStart      *)
(* before an area write, Finish after it); every write it claims is one   *)
(* the log holds (the next area's zeroing too: where the log has none, no *)
(* ZeroDone is mapped and the model cannot issue the area write).          *)
(*                                                                         *)
(* Every logged write lands in the model as the log says: a write the log  *)
(* shows with FUA must be one the model's step makes durable (on `disk`), *)
(* a plain one must land in the model's cache (WrittenAsLogged).  The      *)
(* COW's size is the kernel's (CowChunks): the model's NAreas rounds it up *)
(* to whole areas, so the device end is checked here: no copy past it, and *)
(* (with no copy or I/O errors in the environment) an invalidation only    *)
(* once next_free reached it.  First activation: the header write and      *)
(* area 0's zeroing are the model's InitWriteHeader and InitZeroArea0.     *)
(* Origin writes: the first write to an origin chunk that got an exception *)
(* is the model's OriginWrite; a re-write must find the chunk written; a  *)
(* write to a chunk without exception is allowed only once the snapshot is *)
(* invalid and the header write released it (OriginWaitsHeader).  A clean *)
(* deactivation: both caches written back (lowest chunk first: one order   *)
(* is enough), then the model's Crash, which must find the header the     *)
(* kernel left (valid, or invalid after an invalidation) and, if valid,    *)
(* every exception committed and not merged; a reactivation is its Reload; *)
(* the kernel's next copy (a Prepare) must land on the model's next_free.  *)
(***************************************************************************)
EXTENDS TraceDmSnapStore

CONSTANT CowChunks   \* chunks of the kernel's COW device

InitHeaderEv == Is("InitHeader") /\ InitWriteHeader /\ Advance
InitZeroEv == Is("InitZero") /\ Ev.chunk = AreaChunk(0) /\ InitZeroArea0 /\ Advance

OriginWriteEv == Is("OriginWrite") /\ OriginWrite(Ev.e) /\ Advance

\* A re-write of an origin chunk the model already wrote (its data stays "new").
OriginRewriteEv ==
    /\ Is("OriginRewrite") /\ Running /\ OriginWrites
    /\ (odisk[Ev.e] = "new" \/ ocache[Ev.e] = "new")
    /\ UNCHANGED vars /\ Advance

\* A write to an origin chunk no exception protects (the model does not track
\* those chunks): only once the snapshot is invalid and the write is released.
OriginUncopiedEv ==
    /\ Is("OriginUncopied") /\ Running /\ OriginWrites /\ memValid = 0
    /\ IF OriginWaitsHeader THEN hpc = "done" ELSE hpc # "none"
    /\ UNCHANGED vars /\ Advance

Lowest(S) == CHOOSE x \in S : \A y \in S : x <= y
DeactivateDestage ==
    /\ Is("Deactivate")
    /\ LET dirty == {c \in Chunks : cache[c] # NoBlock}
           odirty == {e \in Exceptions : ocache[e] # "none"}
       IN IF dirty # {} THEN Destage(Lowest(dirty))
          ELSE odirty # {} /\ OriginDestage(Lowest(odirty))
    /\ Stay

DeactivateEv ==
    /\ Is("Deactivate") /\ Running /\ cpc = "idle" /\ cw = NoWrite /\ hpc \in {"none", "done"}
    /\ cache = NoCache /\ ocache = ONoCache
    /\ Crash
    /\ act'.status = Ev.status
    /\ act'.status = "valid" => act'.loaded = committed \ merged
    /\ Advance

ReactivateEv == Is("Reactivate") /\ Reload /\ Advance

\* snapshot-merge: the kernel's log has one merge write onto the origin and one
\* area write for several entries; the mapping gives each entry the model's
\* MergeCopy + MergeCommit, `flush` saying whether a flush came between the
\* origin write and the area write (the model's commit must leave the origin's
\* cache as that says), the last with the area the kernel wrote.
MergeCopyEv == Is("MergeCopy") /\ MergeReady /\ areaBuf[curIdx] = Ev.e /\ MergeCopy /\ Advance
MergeCommitEv ==
    /\ Is("MergeCommit")
    /\ MergeCommit
    /\ Ev.flush = (ocache' = ONoCache)
    /\ ("slots" \in DOMAIN Ev => disk'[AreaChunk(curArea)] = Blk(Ev.slots))
    /\ Advance

\* The device end: no copy past it; with no copy or I/O errors the only
\* reason left to invalidate is a full COW (prepare_exception's -ENOSPC).
WithinDevice ==
    /\ Is("Prepare") => Ev.chunk < CowChunks
    /\ (Is("Invalidate") /\ ~CopyFailures /\ ~IOErrors) => nextFree >= CowChunks

\* A logged write (an event with a chunk and the write's FUA flag) lands as
\* logged: durable with FUA (the model's step leaves no cached copy of the
\* chunk), in the cache without.
WrittenAsLogged ==
    (pos' = pos + 1 /\ "fua" \in DOMAIN Ev /\ "chunk" \in DOMAIN Ev)
        => ((cache'[Ev.chunk] = NoBlock) = Ev.fua)

KernelNext ==
    /\ WithinDevice
    /\ (TraceNext \/ InitHeaderEv \/ InitZeroEv
        \/ OriginWriteEv \/ OriginRewriteEv \/ OriginUncopiedEv
        \/ DeactivateDestage \/ DeactivateEv \/ ReactivateEv
        \/ MergeCopyEv \/ MergeCommitEv)
    /\ WrittenAsLogged
=============================================================================
