-------------------------- MODULE TraceDmSnapStore --------------------------
(***************************************************************************)
(* Trace validation: a log of events recorded from a run of the engine     *)
(* (packages/store, see docs/model.md "Engine and model") is a behaviour   *)
(* of DmSnapStore.  The technique of the CCF and etcd-raft trace            *)
(* validation: a position in the log; each logged event is the model's     *)
(* action of the same name AND equalities on the fields the engine logged; *)
(* steps the engine does not log (the device taking a write's bytes, and,  *)
(* before a logged crash, whatever landed on the disk) are the model's own *)
(* actions with the position unchanged, allowed only where the next event  *)
(* needs them.  spec/lib/traces.mjs instantiates this module once per log. *)
(*                                                                         *)
(* Slots are logged as integers: 0, an exception, -1 STALE, -2 HDR_INVALID,*)
(* -3 HDR_VALID; a logged block may omit its trailing zero slots.          *)
(***************************************************************************)
EXTENDS DmSnapStore, Integers, TLC

CONSTANTS Log,      \* the events, a sequence of records [a |-> action, ...]
          TraceId   \* a positive number naming the log in TLC's output

VARIABLE pos        \* events of Log consumed so far

HasEv == pos < Len(Log)
Ev == Log[pos + 1]
Is(name) == HasEv /\ Ev.a = name
Advance == pos' = pos + 1
Stay == UNCHANGED pos

SlotOf(v) == CASE v = -1 -> STALE [] v = -2 -> HDR_INVALID [] v = -3 -> HDR_VALID [] OTHER -> v
Blk(s) == [i \in Slots |-> IF i <= Len(s) THEN SlotOf(s[i]) ELSE 0]
AsBit(b) == IF b THEN 1 ELSE 0

TraceInit == Init /\ pos = 0 /\ TLCSet(TraceId, 0)

PrepareEv == Is("Prepare") /\ Ev.e = nextEx /\ Ev.chunk = nextFree /\ Prepare /\ Advance

CopyDoneEv == Is("CopyDone") /\ CopyDone(Ev.e) /\ Advance

CommitStartEv ==
    /\ Is("CommitStart") /\ Ev.idx = curIdx + 1
    /\ CommitStart(Ev.e) /\ cpc' = Ev.next /\ Advance

IssueAreaEv ==
    /\ Is("IssueArea") /\ Ev.area = curArea /\ Ev.valid = memValid /\ Ev.flush = FlushBeforeArea
    /\ IssueArea /\ Advance

\* The device takes a write's bytes: the engine's simulated device does so as
\* the write lands, so just before the logged completion.
TakeEv ==
    /\ \/ Is("ZeroDone") /\ cw.src = "zero" /\ TakeCommitWrite
       \/ Is("AreaDone") /\ cw.src = "area" /\ TakeCommitWrite
       \/ Is("HeaderDone") /\ TakeHeaderWrite
       \/ Is("FailHeaderWrite") /\ TakeHeaderWrite
    /\ Stay

ZeroDoneEv == Is("ZeroDone") /\ cw.src = "zero" /\ cw.chunk = Ev.chunk /\ CompleteCommitWrite /\ Advance

AreaDoneEv ==
    /\ Is("AreaDone") /\ cw.src = "area" /\ cw.chunk = Ev.chunk /\ cw.taken = Blk(Ev.slots)
    /\ CompleteCommitWrite /\ Advance

FinishEv == Is("Finish") /\ Ev.full = (curIdx = E) /\ AsBit(Ev.ok) = memValid /\ Finish /\ Advance

InvalidateEv ==
    /\ Is("Invalidate") /\ Ev.buffer = (IF HeaderInAreaBuffer THEN "area" ELSE "header")
    /\ Invalidate /\ Advance

HeaderDoneEv == Is("HeaderDone") /\ hw.taken = Blk(Ev.slots) /\ CompleteHeaderWrite /\ Advance

\* The header write failed (the engine logs it; nothing of it reached the
\* device).  The engine's next step, RetryHeaderWrite (docs/store.md, "A
\* failed invalidation"), is not mapped until the model has that action:
\* a log holding it is rejected there.
FailHeaderWriteEv == Is("FailHeaderWrite") /\ FailHeaderWrite /\ Advance

-----------------------------------------------------------------------------
(* A logged crash carries the disk the engine's device materialised (every  *)
(* header and area chunk as slots, and for each exception whether its data *)
(* chunk holds the copy) and what activation loaded from it.               *)
IsAreaChunk(c) == c > 0 /\ (c - 1) % (E + 1) = 0
\* The exception prepare gave chunk c (0: none).
\* The exception whose copy data chunk c holds (0: none; after a reload a lost
\* exception's chunk may have been given again).
ExceptionOf(c) == IF \E e \in DOMAIN Ev.data : newChunk[e] = c /\ Ev.data[e] = 1
                  THEN CHOOSE e \in DOMAIN Ev.data : newChunk[e] = c /\ Ev.data[e] = 1 ELSE 0

CrashDisk ==
    [c \in Chunks |->
        IF c = 0 THEN Blk(Ev.hdr)
        ELSE IF IsAreaChunk(c) THEN Blk(Ev.areas[(c - 1) \div (E + 1) + 1])
        ELSE IF ExceptionOf(c) # 0 THEN DataBlock(ExceptionOf(c)) ELSE StaleBlock]

\* Before the crash, bring the disk to what the engine's device left, lowest
\* chunk first (one order is enough: the steps on different chunks commute):
\* write back the cache, or land a write that was in flight.
CatchUp ==
    /\ Is("Crash")
    /\ LET target == CrashDisk
           wrong == {c \in Chunks : disk[c] # target[c]}
       IN /\ wrong # {}
          /\ LET c == CHOOSE x \in wrong : \A y \in wrong : x <= y IN
               \/ cache[c] = target[c] /\ Destage(c)
               \/ /\ cache[c] # target[c]
                  /\ \/ \E e \in copying : newChunk[e] = c /\ CopyDone(e)
                     \/ cw.src \in {"zero", "area"} /\ cw.chunk = c /\ (TakeCommitWrite \/ CompleteCommitWrite)
                     \/ c = 0 /\ hpc = "writing" /\ (TakeHeaderWrite \/ CompleteHeaderWrite)
    /\ Stay

CrashEv ==
    /\ Is("Crash") /\ disk = CrashDisk
    /\ Crash
    /\ act'.status = Ev.status
    /\ act'.loaded = {SlotOf(Ev.loaded[i]) : i \in DOMAIN Ev.loaded}
    /\ Advance

\* Reactivation: the engine reopened the device over the crash image and
\* resumes where the model's reload says (area, entries, next_free).
ReloadEv ==
    /\ Is("Reload") /\ Reload
    /\ curArea' = Ev.area /\ curIdx' = Ev.idx /\ nextFree' = Ev.nextFree
    /\ Advance

TraceNext ==
    \/ PrepareEv \/ CopyDoneEv \/ CommitStartEv \/ IssueAreaEv
    \/ TakeEv \/ ZeroDoneEv \/ AreaDoneEv \/ FinishEv
    \/ InvalidateEv \/ HeaderDoneEv \/ FailHeaderWriteEv
    \/ CatchUp \/ CrashEv \/ ReloadEv

\* An invariant that only reports: the furthest position reached in this log
\* (the log is accepted when that is Len(Log)).
Report ==
    IF pos > TLCGet(TraceId)
    THEN TLCSet(TraceId, pos) /\ PrintT(<<"trace-pos", TraceId, pos, Len(Log)>>)
    ELSE TRUE
=============================================================================
