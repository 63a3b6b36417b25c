--------------------------- MODULE DmSnapStore ---------------------------
(***************************************************************************)
(* The metadata protocol of the device-mapper persistent snapshot         *)
(* exception store: exceptions prepared and copied concurrently, commits  *)
(* batched, the next metadata area zeroed before a full one is written,   *)
(* the area written with a flush before it and forced-unit-access,        *)
(* completion callbacks, invalidation writing the header, and one crash   *)
(* at any moment followed by activation as the kernel reads the device.   *)
(*                                                                         *)
(* Written for dmsnap; see docs/model.md for what is abstracted and for   *)
(* the counterexamples of each design variant.                            *)
(*                                                                         *)
(* Bytes are abstracted: every chunk of the COW device is a tuple of E    *)
(* slots (one per 16-byte exception entry).  A slot holds                  *)
(*   0            zero bytes (an entry with new_chunk 0 ends an area),     *)
(*   e in 1..N    the entry of exception e, or, in a data chunk, the       *)
(*                origin data that exception e copied,                     *)
(*   STALE        leftovers of an earlier use of the disk,                 *)
(*   HDR_INVALID  / HDR_VALID  the 16 header bytes (magic "SnAp",         *)
(*                valid 0 / 1, version 1, the real chunk size).            *)
(* The header occupies the first slot of chunk 0, exactly where the first *)
(* exception entry of an area buffer lies.                                 *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences

CONSTANTS
    E,                   \* exception entries per metadata area
    NAreas,              \* metadata areas on the COW device
    N,                   \* exceptions the workload creates
    MaxInFlight,         \* copies in flight at once (pending_count bound)
    \* --- design choices: the fixed kernel has the first FALSE, the rest TRUE
    HeaderInAreaBuffer,  \* 2009 bug: drop_snapshot builds the header in the area buffer
    ZeroNextArea,        \* zero the next area on disk before writing a full one
    FlushBeforeArea,     \* cache flush before the area write
    CallbackAfterWrite,  \* callbacks only after the area write has completed
    \* --- model values naming the non-entry contents of a slot
    STALE, HDR_INVALID, HDR_VALID

ASSUME E \in Nat \ {0} /\ NAreas \in Nat \ {0} /\ N \in Nat /\ MaxInFlight \in Nat \ {0}
\* The workload fits in the areas and the area after the last one used exists,
\* as lvm2 guarantees by sizing and zeroing the start of the COW.
ASSUME N \div E <= NAreas - 1
ASSUME Cardinality({STALE, HDR_INVALID, HDR_VALID}) = 3
ASSUME {HeaderInAreaBuffer, ZeroNextArea, FlushBeforeArea, CallbackAfterWrite} \subseteq BOOLEAN

-----------------------------------------------------------------------------
(* Slot values and blocks *)
Exceptions  == 1..N
SlotValues  == {0} \cup Exceptions \cup {STALE, HDR_INVALID, HDR_VALID}
Slots       == 1..E
Block       == [Slots -> SlotValues]
Zeros       == [i \in Slots |-> 0]
StaleBlock  == [i \in Slots |-> STALE]
HeaderBlock(v) == [i \in Slots |-> IF i = 1 THEN (IF v = 1 THEN HDR_VALID ELSE HDR_INVALID) ELSE 0]
DataBlock(e)   == [i \in Slots |-> IF i = 1 THEN e ELSE 0]
NoBlock == <<>>            \* "nothing cached" / "bytes not yet taken"

(* Layout: chunk 0 header, area a at 1 + (E+1)*a, E data chunks after each. *)
AreaChunk(a) == 1 + (E + 1) * a
DataChunk(e) == LET i == e - 1 IN 2 + (i \div E) * (E + 1) + (i % E)
Chunks == {0} \cup {AreaChunk(a) : a \in 0..(NAreas - 1)} \cup {DataChunk(e) : e \in Exceptions}

NoWrite == [chunk |-> 0, src |-> "none", taken |-> NoBlock]

VARIABLES
    disk,        \* durable contents of each chunk
    cache,       \* the device's volatile write-back cache: a block or NoBlock
    areaBuf,     \* ps->area, the in-memory metadata area
    hdrBuf,      \* ps->header_area (used by the fixed design only)
    curArea,     \* ps->current_area
    curIdx,      \* ps->current_committed
    nextEx,      \* next exception to prepare (exceptions are numbered in allocation order)
    pending,     \* ps->pending_count: prepared and not yet committed
    copying,     \* exceptions whose copy (kcopyd) is in flight
    ready,       \* copies finished, waiting for the single commit thread
    cbq,         \* queued callbacks (ps->callbacks)
    cpc,         \* commit thread: "idle" | "zeroing" | "prewrite" | "areawrite" | "finish"
    cw,          \* the commit thread's in-flight write (zero or area)
    memValid,    \* ps->valid
    hpc,         \* invalidation thread: "none" | "writing" | "done"
    hw,          \* the in-flight header write
    committed,   \* ghost: exceptions whose entry commit has written into the area buffer
    ackOk,       \* ghost: exceptions whose callback reported success
    ackFail,     \* ghost: exceptions whose callback reported failure
    phase,       \* "run" | "crashed"
    act          \* result of activation after the crash

vars == <<disk, cache, areaBuf, hdrBuf, curArea, curIdx, nextEx, pending, copying,
          ready, cbq, cpc, cw, memValid, hpc, hw, committed, ackOk, ackFail, phase, act>>

-----------------------------------------------------------------------------
(* Activation: what the kernel loads from the durable contents of the device. *)
AreaBlock(d, a) == IF a < NAreas THEN d[AreaChunk(a)] ELSE Zeros

\* Number of entries before the first zero slot of a block.
Used(b) == IF \E i \in Slots : b[i] = 0
           THEN (CHOOSE i \in Slots : b[i] = 0 /\ \A j \in 1..(i - 1) : b[j] # 0) - 1
           ELSE E

RECURSIVE ReadFrom(_, _)
\* Entries loaded from area a onwards: a full area means "go on to the next one".
ReadFrom(d, a) ==
    LET b == AreaBlock(d, a)
        k == Used(b)
        here == {b[i] : i \in 1..k}
    IN IF k = E /\ a < NAreas THEN here \cup ReadFrom(d, a + 1) ELSE here

Activate(d) ==
    LET h == d[0][1] IN
    IF d[0] = Zeros THEN [status |-> "blank", loaded |-> {}]
    ELSE IF h = HDR_INVALID THEN [status |-> "invalid", loaded |-> {}]
    ELSE IF h = HDR_VALID THEN [status |-> "valid", loaded |-> ReadFrom(d, 0)]
    ELSE [status |-> "corrupt", loaded |-> {}]

NoAct == [status |-> "none", loaded |-> {}]

-----------------------------------------------------------------------------
Init ==
    /\ disk = [c \in Chunks |->
                 IF c = 0 THEN HeaderBlock(1)
                 ELSE IF c = AreaChunk(0) THEN Zeros
                 ELSE StaleBlock]           \* a reused disk: only the start is zeroed
    /\ cache = [c \in Chunks |-> NoBlock]
    /\ areaBuf = Zeros
    /\ hdrBuf = Zeros
    /\ curArea = 0
    /\ curIdx = 0
    /\ nextEx = 1
    /\ pending = 0
    /\ copying = {}
    /\ ready = {}
    /\ cbq = {}
    /\ cpc = "idle"
    /\ cw = NoWrite
    /\ memValid = 1
    /\ hpc = "none"
    /\ hw = NoWrite
    /\ committed = {}
    /\ ackOk = {}
    /\ ackFail = {}
    /\ phase = "run"
    /\ act = NoAct

Running == phase = "run"

\* The bytes a write takes from its source buffer.
Source(src) == CASE src = "area"   -> areaBuf
                 [] src = "header" -> hdrBuf
                 [] OTHER          -> Zeros

(* prepare_exception: allocate the next data chunk and start its copy.      *)
Prepare ==
    /\ Running /\ memValid = 1
    /\ nextEx <= N /\ pending < MaxInFlight
    /\ nextEx' = nextEx + 1
    /\ pending' = pending + 1
    /\ copying' = copying \cup {nextEx}
    /\ UNCHANGED <<disk, cache, areaBuf, hdrBuf, curArea, curIdx, ready, cbq, cpc, cw,
                   memValid, hpc, hw, committed, ackOk, ackFail, phase, act>>

(* kcopyd finishes copying the origin chunk into the data chunk: a plain     *)
(* write, so the data sits in the volatile cache until a flush or destage.  *)
CopyDone(e) ==
    /\ Running /\ e \in copying
    /\ cache' = [cache EXCEPT ![DataChunk(e)] = DataBlock(e)]
    /\ copying' = copying \ {e}
    /\ ready' = ready \cup {e}
    /\ UNCHANGED <<disk, areaBuf, hdrBuf, curArea, curIdx, nextEx, pending, cbq, cpc, cw,
                   memValid, hpc, hw, committed, ackOk, ackFail, phase, act>>

(* commit_exception, first part: record the entry in the area buffer and    *)
(* queue the callback; return early while others are in flight and the     *)
(* area is not full.                                                         *)
CommitStart(e) ==
    /\ Running /\ cpc = "idle" /\ e \in ready
    /\ areaBuf' = [areaBuf EXCEPT ![curIdx + 1] = e]
    /\ curIdx' = curIdx + 1
    /\ cbq' = cbq \cup {e}
    /\ pending' = pending - 1
    /\ ready' = ready \ {e}
    /\ committed' = committed \cup {e}
    /\ IF pending - 1 > 0 /\ curIdx + 1 < E
         THEN /\ cpc' = "idle" /\ cw' = cw
         ELSE IF curIdx + 1 = E /\ ZeroNextArea
                THEN /\ cpc' = "zeroing"
                     /\ cw' = [chunk |-> AreaChunk(curArea + 1), src |-> "zero", taken |-> NoBlock]
                ELSE /\ cpc' = "prewrite" /\ cw' = cw
    /\ UNCHANGED <<disk, cache, hdrBuf, curArea, nextEx, copying, memValid, hpc, hw,
                   ackOk, ackFail, phase, act>>

Callbacks(v) ==
    /\ ackOk' = IF v = 1 THEN ackOk \cup cbq ELSE ackOk
    /\ ackFail' = IF v = 1 THEN ackFail ELSE ackFail \cup cbq
    /\ cbq' = {}

(* While valid, issue the area write: flush first, then FUA.                 *)
IssueArea ==
    /\ Running /\ cpc = "prewrite"
    /\ IF memValid = 1
         THEN /\ IF FlushBeforeArea
                   THEN /\ disk' = [c \in Chunks |-> IF cache[c] # NoBlock THEN cache[c] ELSE disk[c]]
                        /\ cache' = [c \in Chunks |-> NoBlock]
                   ELSE UNCHANGED <<disk, cache>>
              /\ cw' = [chunk |-> AreaChunk(curArea), src |-> "area", taken |-> NoBlock]
              /\ cpc' = "areawrite"
              /\ IF CallbackAfterWrite THEN UNCHANGED <<ackOk, ackFail, cbq>> ELSE Callbacks(memValid)
         ELSE /\ cpc' = "finish"
              /\ UNCHANGED <<disk, cache, cw, ackOk, ackFail, cbq>>
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextEx, pending, copying, ready,
                   memValid, hpc, hw, committed, phase, act>>

(* Advance to the next area if this one is full, then run the callbacks.    *)
Finish ==
    /\ Running /\ cpc = "finish"
    /\ IF curIdx = E
         THEN /\ curIdx' = 0 /\ curArea' = curArea + 1 /\ areaBuf' = Zeros
         ELSE UNCHANGED <<curIdx, curArea, areaBuf>>
    /\ Callbacks(memValid)
    /\ cpc' = "idle"
    /\ UNCHANGED <<disk, cache, hdrBuf, nextEx, pending, copying, ready, cw, memValid,
                   hpc, hw, committed, phase, act>>

(* drop_snapshot, from another context (COW full, or a copy failed): mark   *)
(* the store invalid, build the header and issue its write (a plain write). *)
Invalidate ==
    /\ Running /\ hpc = "none" /\ memValid = 1
    /\ memValid' = 0
    /\ IF HeaderInAreaBuffer
         THEN /\ areaBuf' = HeaderBlock(0) /\ hdrBuf' = hdrBuf
              /\ hw' = [chunk |-> 0, src |-> "area", taken |-> NoBlock]
         ELSE /\ hdrBuf' = HeaderBlock(0) /\ areaBuf' = areaBuf
              /\ hw' = [chunk |-> 0, src |-> "header", taken |-> NoBlock]
    /\ hpc' = "writing"
    /\ UNCHANGED <<disk, cache, curArea, curIdx, nextEx, pending, copying, ready, cbq, cpc,
                   cw, committed, ackOk, ackFail, phase, act>>

-----------------------------------------------------------------------------
(* The device.  A write is not atomic with respect to its buffer: the device *)
(* takes the buffer's bytes at some moment between issue and completion.    *)
TakeCommitWrite ==
    /\ Running /\ cw.src \in {"zero", "area"} /\ cw.taken = NoBlock
    /\ cw' = [cw EXCEPT !.taken = Source(cw.src)]
    /\ UNCHANGED <<disk, cache, areaBuf, hdrBuf, curArea, curIdx, nextEx, pending, copying,
                   ready, cbq, cpc, memValid, hpc, hw, committed, ackOk, ackFail, phase, act>>

\* The zeroing write is plain (cached); the area write is FUA (durable at completion).
CompleteCommitWrite ==
    /\ Running /\ cw.src \in {"zero", "area"} /\ cw.taken # NoBlock
    /\ IF cw.src = "area"
         THEN /\ disk' = [disk EXCEPT ![cw.chunk] = cw.taken]
              /\ cache' = [cache EXCEPT ![cw.chunk] = NoBlock]
              /\ cpc' = "finish"
         ELSE /\ cache' = [cache EXCEPT ![cw.chunk] = cw.taken]
              /\ disk' = disk
              /\ cpc' = "prewrite"
    /\ cw' = NoWrite
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextEx, pending, copying, ready, cbq,
                   memValid, hpc, hw, committed, ackOk, ackFail, phase, act>>

TakeHeaderWrite ==
    /\ Running /\ hpc = "writing" /\ hw.taken = NoBlock
    /\ hw' = [hw EXCEPT !.taken = Source(hw.src)]
    /\ UNCHANGED <<disk, cache, areaBuf, hdrBuf, curArea, curIdx, nextEx, pending, copying,
                   ready, cbq, cpc, cw, memValid, hpc, committed, ackOk, ackFail, phase, act>>

CompleteHeaderWrite ==
    /\ Running /\ hpc = "writing" /\ hw.taken # NoBlock
    /\ cache' = [cache EXCEPT ![0] = hw.taken]
    /\ hw' = NoWrite
    /\ hpc' = "done"
    /\ UNCHANGED <<disk, areaBuf, hdrBuf, curArea, curIdx, nextEx, pending, copying, ready,
                   cbq, cpc, cw, memValid, committed, ackOk, ackFail, phase, act>>

\* The cache writes back one chunk on its own, at any time.
Destage(c) ==
    /\ Running /\ cache[c] # NoBlock
    /\ disk' = [disk EXCEPT ![c] = cache[c]]
    /\ cache' = [cache EXCEPT ![c] = NoBlock]
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextEx, pending, copying, ready, cbq,
                   cpc, cw, memValid, hpc, hw, committed, ackOk, ackFail, phase, act>>

(* Power fails: memory, the cache and writes in flight are lost; the device *)
(* is activated again and the kernel reads what is durable.                 *)
Crash ==
    /\ Running
    /\ phase' = "crashed"
    /\ act' = Activate(disk)
    /\ UNCHANGED <<disk, cache, areaBuf, hdrBuf, curArea, curIdx, nextEx, pending, copying,
                   ready, cbq, cpc, cw, memValid, hpc, hw, committed, ackOk, ackFail>>

\* After activation nothing more is modelled: the behaviour stutters.
Halted == phase = "crashed" /\ UNCHANGED vars

Progress ==
    \/ \E e \in Exceptions : CopyDone(e) \/ CommitStart(e)
    \/ IssueArea \/ Finish
    \/ TakeCommitWrite \/ CompleteCommitWrite
    \/ TakeHeaderWrite \/ CompleteHeaderWrite

Next ==
    \/ Prepare
    \/ Progress
    \/ Invalidate
    \/ \E c \in Chunks : Destage(c)
    \/ Crash
    \/ Halted

Spec == Init /\ [][Next]_vars /\ WF_vars(Progress)

-----------------------------------------------------------------------------
(* Properties *)
TypeOK ==
    /\ disk \in [Chunks -> Block]
    /\ \A c \in Chunks : cache[c] = NoBlock \/ cache[c] \in Block
    /\ areaBuf \in Block /\ hdrBuf \in Block
    /\ curArea \in 0..(NAreas - 1) /\ curIdx \in 0..E
    /\ pending \in 0..MaxInFlight
    /\ copying \subseteq Exceptions /\ ready \subseteq Exceptions /\ cbq \subseteq Exceptions
    /\ memValid \in {0, 1}
    /\ phase \in {"run", "crashed"}

HeaderOK(b) == b = Zeros \/ b[1] \in {HDR_VALID, HDR_INVALID}

\* 1. Chunk 0 always holds either zeros or a well-formed header: both what is
\*    durable and what the device would return from its cache.
HeaderWellFormed ==
    /\ HeaderOK(disk[0])
    /\ cache[0] = NoBlock \/ HeaderOK(cache[0])

Recovered == phase = "crashed" /\ act.status = "valid"

\* 2a. After a crash, a valid snapshot loads every exception acknowledged as durable.
AckedSurvive == Recovered => ackOk \subseteq act.loaded

\* 2b. ... and nothing that was never committed (no stale or garbage entries).
NoStaleEntries == Recovered => act.loaded \subseteq committed

\* 3. Every loaded exception points at a chunk whose copied data is durable.
LoadedDataDurable ==
    Recovered => \A e \in act.loaded \cap Exceptions : disk[DataChunk(e)] = DataBlock(e)

\* 4. Every commit eventually gets its callback, unless the machine crashes first.
CallbacksEventuallyRun ==
    \A e \in Exceptions : (e \in committed) ~> (e \in ackOk \cup ackFail \/ phase = "crashed")

-----------------------------------------------------------------------------
(* Witnesses against vacuity: each is meant to be VIOLATED by the fixed      *)
(* design, showing that the interesting states are reachable at all.         *)

\* A crash after which a valid snapshot loads every exception (both areas).
NeverRecoversEverything == ~(Recovered /\ act.loaded = Exceptions)

\* The header write and an area write in flight at the same time.
NeverHeaderDuringAreaWrite == ~(hpc = "writing" /\ cpc = "areawrite")

=============================================================================
