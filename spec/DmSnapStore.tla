--------------------------- MODULE DmSnapStore ---------------------------
(***************************************************************************)
(* The metadata protocol of the device-mapper persistent snapshot         *)
(* exception store, with the parts of the snapshot target around it that  *)
(* decide whether a crash loses data: first activation of a blank COW,    *)
(* allocation (next_free), copies that finish or fail in any order,       *)
(* batched commits, zeroing of the next area, the area write (flush +     *)
(* FUA), callbacks, invalidation (the header write), origin writes, a     *)
(* merge step, I/O errors, and crashes followed by activation as the      *)
(* kernel reads the device -- and, if it finds a snapshot, reactivation   *)
(* with commits continuing on top of what it loaded.                      *)
(*                                                                         *)
(* Written for dmsnap; docs/model.md says what is modelled, what is not,  *)
(* lists every action with its parameters, and explains each             *)
(* counterexample in kernel terms.  The byte-level form of the 2009 race  *)
(* is a module of its own (DmSnapRace2009.tla).                           *)
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
(* exception entry of an area buffer lies.  Exception e copies origin     *)
(* chunk e; the data chunk it was given is newChunk[e].                   *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences

CONSTANTS
    E,                   \* exception entries per metadata area
    NAreas,              \* metadata areas that fit on the COW device (its size)
    N,                   \* exceptions (origin chunks) the workload may create
    MaxInFlight,         \* copies (kcopyd jobs) in flight at once
    MaxCrashes,          \* crashes per behaviour: 1, or 2 to reactivate once
    \* --- what the environment may do
    FirstActivation,     \* start from a blank COW (else: one lvm2 + kernel formatted)
    CopyFailures,        \* a copy may fail (read error on the origin, ...)
    IOErrors,            \* an area, zeroing or header write may fail
    OriginWrites,        \* model the origin writes the exceptions protect
    Merge,               \* a snapshot-merge step may run
    \* --- design choices (the fixed design in brackets; docs/model.md)
    HeaderInAreaBuffer,  \* [FALSE] 2009: drop_snapshot builds the header in the area buffer
    ZeroOrder,           \* ["before-area"] when the next area is zeroed: "before-area",
                         \*   "after-area", "after-callbacks" or "none"
    FlushBeforeArea,     \* [TRUE] cache flush before the (FUA) area write
    CallbackAfterWrite,  \* [TRUE] callbacks only after the area write has completed
    InOrderCommit,       \* [TRUE] 2013: exceptions are committed in allocation order
    CommitOnCopyFailure, \* [TRUE] 2015: a failed copy still goes through commit (valid = 0)
    SkipMetadataAfterReload, \* [TRUE] CVE-2013-4299: next_free skips an area after reload
    ReloadPartialArea,   \* [TRUE] 2014: reload keeps the last, partial area in memory
    HeaderFUA,           \* [TRUE] the header write is FUA (the kernel's is plain)
    OriginWaitsHeader,   \* [TRUE] origin writes after an invalidation wait for its header
                         \*   write to complete (so does Linux 6.1: its write is just not FUA)
    MergeFlushOrigin,    \* [TRUE] 2021: flush the origin before the merge's metadata commit
    InitZeroFirst,       \* [TRUE] first activation zeroes area 0, then writes the header
                         \*   with flush + FUA (the kernel: header, then zeroing, both plain)
    \* --- model values naming the non-entry contents of a slot
    STALE, HDR_INVALID, HDR_VALID

ASSUME E \in Nat \ {0} /\ NAreas \in Nat \ {0} /\ N \in Nat /\ MaxInFlight \in Nat \ {0}
ASSUME MaxCrashes \in {1, 2}
ASSUME ZeroOrder \in {"before-area", "after-area", "after-callbacks", "none"}
ASSUME Cardinality({STALE, HDR_INVALID, HDR_VALID}) = 3
ASSUME {FirstActivation, CopyFailures, IOErrors, OriginWrites, Merge,
        HeaderInAreaBuffer, FlushBeforeArea, CallbackAfterWrite, InOrderCommit,
        CommitOnCopyFailure, SkipMetadataAfterReload, ReloadPartialArea,
        HeaderFUA, OriginWaitsHeader, MergeFlushOrigin, InitZeroFirst} \subseteq BOOLEAN

-----------------------------------------------------------------------------
(* Slot values and blocks *)
Exceptions  == 1..N
SlotValues  == {0} \cup Exceptions \cup {STALE, HDR_INVALID, HDR_VALID}
Slots       == 1..E
Block       == [Slots -> SlotValues]
Zeros       == [i \in Slots |-> 0]
StaleBlock  == [i \in Slots |-> STALE]
\* An area left by an earlier use of the disk: a stale entry, then the end.
StaleArea   == [i \in Slots |-> IF i = 1 THEN STALE ELSE 0]
HeaderBlock(v) == [i \in Slots |-> IF i = 1 THEN (IF v = 1 THEN HDR_VALID ELSE HDR_INVALID) ELSE 0]
DataBlock(e)   == [i \in Slots |-> IF i = 1 THEN e ELSE 0]
NoBlock == <<>>            \* "nothing cached" / "bytes not yet taken"
\* The kernel takes a header whose magic word is zero for a new snapshot.
IsBlank(b) == b[1] = 0

(* Layout: chunk 0 header, area a at 1 + (E+1)*a, its E data chunks after it. *)
DevChunks    == 1 + (E + 1) * NAreas
Chunks       == 0..(DevChunks - 1)
AreaChunk(a) == 1 + (E + 1) * a
AreaChunks   == {AreaChunk(a) : a \in 0..(NAreas - 1)}
DataChunks   == Chunks \ ({0} \cup AreaChunks)
\* next_free after one allocation: step over the chunk of the next area.
Skip(c) == IF c % (E + 1) = 1 THEN c + 1 ELSE c
\* The chunk the e-th allocation gets when next_free starts at 2 (no reload).
DataChunk(e) == LET i == e - 1 IN 2 + (i \div E) * (E + 1) + (i % E)

NoWrite == [chunk |-> 0, src |-> "none", taken |-> NoBlock]

VARIABLES
    disk,        \* COW device: durable contents of each chunk
    cache,       \* COW device: volatile write-back cache, a block or NoBlock per chunk
    odisk,       \* origin device: durable contents of origin chunk e, "old" or "new"
    ocache,      \* origin device: its write-back cache, "none" | "old" | "new"
    areaBuf,     \* ps->area, the in-memory metadata area
    hdrBuf,      \* ps->header_area (used by the fixed design only)
    curArea,     \* ps->current_area
    curIdx,      \* ps->current_committed
    nextFree,    \* ps->next_free
    nextEx,      \* next exception to prepare (exceptions are numbered in allocation order)
    newChunk,    \* newChunk[e]: the data chunk prepare gave exception e (0: none yet)
    pending,     \* ps->pending_count: prepared and not yet through commit
    copying,     \* exceptions whose copy (kcopyd) is in flight
    ready,       \* copies finished, waiting for the single commit thread
    failedCopy,  \* copies that failed, waiting for the commit thread (fixed design)
    cbq,         \* queued callbacks (ps->callbacks)
    cpc,         \* commit thread: "idle" | "zeroing" | "prewrite" | "areawrite" | "finish"
                 \*   | "zero-after-area" | "zero-after-callbacks"
    cw,          \* the commit thread's in-flight write (zero or area)
    memValid,    \* ps->valid
    hpc,         \* invalidation: "none" | "writing" | "done" | "failed"
    hw,          \* the in-flight header write
    owait,       \* origin writes issued and not yet done or failed: the write that
                 \*   needed exception e (from its Prepare), or one retrying the header write
    merging,     \* the exception whose merge copy is done, not yet committed (0: none)
    merged,      \* exceptions merged back into the origin and removed from the COW
    initDone,    \* first activation: which of {"header", "zero"} were written
    committed,   \* ghost: exceptions whose entry commit has written into the area buffer
    ackOk,       \* ghost: exceptions whose callback reported success
    ackFail,     \* ghost: exceptions whose callback reported failure
    crashes,     \* ghost: crashes so far
    phase,       \* "init" (first activation) | "run" | "crashed"
    act          \* result of the last activation after a crash

vars == <<disk, cache, odisk, ocache, areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx,
          newChunk, pending, copying, ready, failedCopy, cbq, cpc, cw, memValid, hpc, hw,
          owait, merging, merged, initDone, committed, ackOk, ackFail, crashes, phase, act>>

\* Groups for UNCHANGED.
devVars   == <<disk, cache, odisk, ocache>>
memVars   == <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
               copying, ready, failedCopy, cbq, cpc, cw, memValid, hpc, hw>>
otherVars == <<owait, merging, merged, initDone, committed, ackOk, ackFail, crashes, phase, act>>

-----------------------------------------------------------------------------
(* Activation: what the kernel loads from the durable contents of the device. *)
AreaBlock(d, a) == d[AreaChunk(a)]

\* Number of entries before the first zero slot of a block.
Used(b) == IF \E i \in Slots : b[i] = 0
           THEN (CHOOSE i \in Slots : b[i] = 0 /\ \A j \in 1..(i - 1) : b[j] # 0) - 1
           ELSE E

\* The area read_exceptions stops at: the first one that is not full
\* (NAreas if every area is full: the read beyond the device fails).
RECURSIVE LastArea(_, _)
LastArea(d, a) == IF a >= NAreas THEN NAreas
                  ELSE IF Used(AreaBlock(d, a)) = E THEN LastArea(d, a + 1) ELSE a

Loaded(d) == UNION {{AreaBlock(d, a)[i] : i \in 1..Used(AreaBlock(d, a))} : a \in 0..(LastArea(d, 0) - 1)}
             \cup (IF LastArea(d, 0) < NAreas
                   THEN {AreaBlock(d, LastArea(d, 0))[i] : i \in 1..Used(AreaBlock(d, LastArea(d, 0)))}
                   ELSE {})

Activate(d) ==
    LET h == d[0][1] IN
    IF IsBlank(d[0]) THEN [status |-> "blank", loaded |-> {}]
    ELSE IF h = HDR_INVALID THEN [status |-> "invalid", loaded |-> {}]
    ELSE IF h = HDR_VALID
         THEN IF LastArea(d, 0) = NAreas THEN [status |-> "error", loaded |-> {}]
              ELSE [status |-> "valid", loaded |-> Loaded(d)]
    ELSE [status |-> "corrupt", loaded |-> {}]

NoAct == [status |-> "none", loaded |-> {}]

-----------------------------------------------------------------------------
\* A reused disk: what lies beyond the part zeroed is stale.
Stale(c) == IF c \in AreaChunks THEN StaleArea ELSE StaleBlock
FormattedDisk ==
    [c \in Chunks |-> IF c = 0 THEN HeaderBlock(1)
                      ELSE IF c = AreaChunk(0) THEN Zeros
                      ELSE Stale(c)]
\* A new COW as lvm2 leaves it for the kernel: chunk 0 wiped, the rest stale.
BlankDisk == [c \in Chunks |-> IF c = 0 THEN Zeros ELSE Stale(c)]

\* Memory as the constructor sets it up (next_free = 2: after header and area 0).
FreshMemory ==
    /\ areaBuf = Zeros /\ hdrBuf = Zeros
    /\ curArea = 0 /\ curIdx = 0 /\ nextFree = 2
    /\ pending = 0 /\ copying = {} /\ ready = {} /\ failedCopy = {} /\ cbq = {}
    /\ cpc = "idle" /\ cw = NoWrite /\ memValid = 1 /\ hpc = "none" /\ hw = NoWrite

Init ==
    /\ disk = IF FirstActivation THEN BlankDisk ELSE FormattedDisk
    /\ cache = [c \in Chunks |-> NoBlock]
    /\ odisk = [e \in Exceptions |-> "old"]
    /\ ocache = [e \in Exceptions |-> "none"]
    /\ FreshMemory
    /\ nextEx = 1
    /\ newChunk = [e \in Exceptions |-> 0]
    /\ owait = {}
    /\ merging = 0 /\ merged = {}
    /\ initDone = {}
    /\ committed = {} /\ ackOk = {} /\ ackFail = {}
    /\ crashes = 0
    /\ phase = IF FirstActivation THEN "init" ELSE "run"
    /\ act = NoAct

Running == phase = "run"

\* The bytes a write takes from its source buffer.
Source(src) == CASE src = "area"   -> areaBuf
                 [] src = "header" -> hdrBuf
                 [] OTHER          -> Zeros

\* A flush: everything in the COW cache becomes durable.
Flushed == [c \in Chunks |-> IF cache[c] # NoBlock THEN cache[c] ELSE disk[c]]
NoCache == [c \in Chunks |-> NoBlock]
OFlushed == [e \in Exceptions |-> IF ocache[e] # "none" THEN ocache[e] ELSE odisk[e]]
ONoCache == [e \in Exceptions |-> "none"]

-----------------------------------------------------------------------------
(* First activation of a blank COW: read_header finds magic 0, the kernel   *)
(* writes a valid header and zeroes area 0 (both plain, in that order).     *)
(* The fixed design zeroes area 0 first and writes the header with a flush  *)
(* before it and FUA.                                                       *)
InitWriteHeader ==
    /\ phase = "init" /\ "header" \notin initDone
    /\ InitZeroFirst => "zero" \in initDone
    /\ IF InitZeroFirst
         THEN /\ disk' = [Flushed EXCEPT ![0] = HeaderBlock(1)]
              /\ cache' = NoCache
         ELSE /\ cache' = [cache EXCEPT ![0] = HeaderBlock(1)]
              /\ disk' = disk
    /\ initDone' = initDone \cup {"header"}
    /\ phase' = IF "zero" \in initDone THEN "run" ELSE phase
    /\ UNCHANGED <<odisk, ocache>> /\ UNCHANGED memVars
    /\ UNCHANGED <<owait, merging, merged, committed, ackOk, ackFail, crashes, act>>

InitZeroArea0 ==
    /\ phase = "init" /\ "zero" \notin initDone
    /\ cache' = [cache EXCEPT ![AreaChunk(0)] = Zeros]
    /\ initDone' = initDone \cup {"zero"}
    /\ phase' = IF "header" \in initDone THEN "run" ELSE phase
    /\ UNCHANGED <<disk, odisk, ocache>> /\ UNCHANGED memVars
    /\ UNCHANGED <<owait, merging, merged, committed, ackOk, ackFail, crashes, act>>

-----------------------------------------------------------------------------
(* prepare_exception: an origin write needs exception nextEx; give it the    *)
(* chunk next_free (-ENOSPC if that is past the device end) and start its   *)
(* copy.  Copies in flight are bounded by MaxInFlight (memory), not by       *)
(* pending_count.                                                             *)
Prepare ==
    /\ Running /\ memValid = 1 /\ hpc = "none"
    /\ merging = 0 /\ merged = {}
    /\ nextEx <= N /\ Cardinality(copying) < MaxInFlight
    /\ nextFree < DevChunks
    /\ newChunk' = [newChunk EXCEPT ![nextEx] = nextFree]
    /\ nextFree' = Skip(nextFree + 1)
    /\ nextEx' = nextEx + 1
    /\ pending' = pending + 1
    /\ copying' = copying \cup {nextEx}
    /\ owait' = IF OriginWrites THEN owait \cup {nextEx} ELSE owait
    /\ UNCHANGED devVars
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, ready, failedCopy, cbq, cpc, cw,
                   memValid, hpc, hw>>
    /\ UNCHANGED <<merging, merged, initDone, committed, ackOk, ackFail, crashes, phase, act>>

(* kcopyd finishes copying origin chunk e into its data chunk: a plain      *)
(* write, so the data sits in the volatile cache until a flush or destage.  *)
CopyDone(e) ==
    /\ Running /\ e \in copying
    /\ cache' = [cache EXCEPT ![newChunk[e]] = DataBlock(e)]
    /\ copying' = copying \ {e}
    /\ ready' = ready \cup {e}
    /\ UNCHANGED <<disk, odisk, ocache>>
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   failedCopy, cbq, cpc, cw, memValid, hpc, hw>>
    /\ UNCHANGED otherVars

(* The copy fails.  Fixed (2015): the exception still goes to commit, with  *)
(* valid = 0.  Before: its callback ran at once with failure and commit was *)
(* skipped, so pending_count never came back to 0.                          *)
CopyFail(e) ==
    /\ Running /\ CopyFailures /\ e \in copying
    /\ copying' = copying \ {e}
    /\ IF CommitOnCopyFailure
         THEN /\ failedCopy' = failedCopy \cup {e}
              /\ UNCHANGED <<ackFail>>
         ELSE /\ ackFail' = ackFail \cup {e}
              /\ UNCHANGED <<failedCopy>>
    /\ UNCHANGED devVars
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   ready, cbq, cpc, cw, memValid, hpc, hw>>
    /\ UNCHANGED <<owait, merging, merged, initDone, committed, ackOk, crashes, phase, act>>

\* In order (2013 fix): e is the oldest allocation still on its way to commit.
InOrder(e) == \A f \in copying \cup ready \cup failedCopy : e <= f

(* commit_exception, first part: record the entry in the area buffer and    *)
(* queue the callback; return early while others are pending and the area  *)
(* is not full; else zero the next area first (if the design says so).     *)
CommitStart(e) ==
    /\ Running /\ cpc = "idle" /\ e \in ready \cup failedCopy
    /\ InOrderCommit => InOrder(e)
    /\ areaBuf' = [areaBuf EXCEPT ![curIdx + 1] = e]
    /\ curIdx' = curIdx + 1
    /\ cbq' = cbq \cup {e}
    /\ pending' = pending - 1
    /\ ready' = ready \ {e}
    /\ failedCopy' = failedCopy \ {e}
    /\ memValid' = IF e \in failedCopy THEN 0 ELSE memValid
    /\ committed' = committed \cup {e}
    /\ IF pending - 1 > 0 /\ curIdx + 1 < E
         THEN /\ cpc' = "idle" /\ cw' = cw
         ELSE IF curIdx + 1 = E /\ ZeroOrder = "before-area"
                THEN /\ cpc' = "zeroing"
                     /\ cw' = [chunk |-> AreaChunk(curArea + 1), src |-> "zero", taken |-> NoBlock]
                ELSE /\ cpc' = "prewrite" /\ cw' = cw
    /\ UNCHANGED devVars
    /\ UNCHANGED <<hdrBuf, curArea, nextFree, nextEx, newChunk, copying, hpc, hw>>
    /\ UNCHANGED <<owait, merging, merged, initDone, ackOk, ackFail, crashes, phase, act>>

Callbacks(v) ==
    /\ ackOk' = IF v = 1 THEN ackOk \cup cbq ELSE ackOk
    /\ ackFail' = IF v = 1 THEN ackFail ELSE ackFail \cup cbq
    /\ cbq' = {}

(* While valid, issue the area write: flush first, then FUA.                 *)
IssueArea ==
    /\ Running /\ cpc = "prewrite"
    /\ IF memValid = 1
         THEN /\ IF FlushBeforeArea
                   THEN /\ disk' = Flushed /\ cache' = NoCache
                   ELSE UNCHANGED <<disk, cache>>
              /\ cw' = [chunk |-> AreaChunk(curArea), src |-> "area", taken |-> NoBlock]
              /\ cpc' = "areawrite"
              /\ IF CallbackAfterWrite THEN UNCHANGED <<ackOk, ackFail, cbq>> ELSE Callbacks(memValid)
         ELSE /\ cpc' = "finish"
              /\ UNCHANGED <<disk, cache, cw, ackOk, ackFail, cbq>>
    /\ UNCHANGED <<odisk, ocache>>
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   copying, ready, failedCopy, memValid, hpc, hw>>
    /\ UNCHANGED <<owait, merging, merged, initDone, committed, crashes, phase, act>>

(* Advance to the next area if this one is full, then run the callbacks     *)
(* (and, in the 2006 design, only then zero the next area).                 *)
Finish ==
    /\ Running /\ cpc = "finish"
    /\ IF curIdx = E
         THEN /\ curIdx' = 0 /\ curArea' = curArea + 1 /\ areaBuf' = Zeros
         ELSE UNCHANGED <<curIdx, curArea, areaBuf>>
    /\ Callbacks(memValid)
    /\ IF curIdx = E /\ ZeroOrder = "after-callbacks" /\ memValid = 1
         THEN /\ cpc' = "zero-after-callbacks"
              /\ cw' = [chunk |-> AreaChunk(curArea + 1), src |-> "zero", taken |-> NoBlock]
         ELSE /\ cpc' = "idle" /\ cw' = cw
    /\ UNCHANGED devVars
    /\ UNCHANGED <<hdrBuf, nextFree, nextEx, newChunk, pending, copying, ready, failedCopy,
                   memValid, hpc, hw>>
    /\ UNCHANGED <<owait, merging, merged, initDone, committed, crashes, phase, act>>

(* drop_snapshot, from another context (COW full, a copy or a write failed): *)
(* mark the store invalid, build the header and issue its write.             *)
Invalidate ==
    /\ Running /\ hpc = "none"
    /\ memValid' = 0
    /\ IF HeaderInAreaBuffer
         THEN /\ areaBuf' = HeaderBlock(0) /\ hdrBuf' = hdrBuf
              /\ hw' = [chunk |-> 0, src |-> "area", taken |-> NoBlock]
         ELSE /\ hdrBuf' = HeaderBlock(0) /\ areaBuf' = areaBuf
              /\ hw' = [chunk |-> 0, src |-> "header", taken |-> NoBlock]
    /\ hpc' = "writing"
    /\ UNCHANGED devVars
    /\ UNCHANGED <<curArea, curIdx, nextFree, nextEx, newChunk, pending, copying, ready,
                   failedCopy, cbq, cpc, cw>>
    /\ UNCHANGED otherVars

-----------------------------------------------------------------------------
(* The devices.  A write is not atomic with respect to its buffer: the      *)
(* device takes the buffer's bytes at some moment between issue and         *)
(* completion (for a zeroing write, always zeros).                          *)
TakeCommitWrite ==
    /\ Running /\ cw.src \in {"zero", "area"} /\ cw.taken = NoBlock
    /\ cw' = [cw EXCEPT !.taken = Source(cw.src)]
    /\ UNCHANGED devVars
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   copying, ready, failedCopy, cbq, cpc, memValid, hpc, hw>>
    /\ UNCHANGED otherVars

\* Where the commit thread goes once its write is done.
AfterWrite(src) ==
    CASE cpc = "zeroing"              -> "prewrite"
      [] cpc = "zero-after-area"      -> "finish"
      [] cpc = "zero-after-callbacks" -> "idle"
      [] OTHER (* areawrite *)        -> IF curIdx = E /\ ZeroOrder = "after-area"
                                         THEN "zero-after-area" ELSE "finish"

\* The zeroing write is plain (cached); the area write is FUA (durable at
\* completion).  Zeroing an area past the device end fails (-ENOSPC / I/O
\* error): the store becomes invalid.
CompleteCommitWrite ==
    /\ Running /\ cw.src \in {"zero", "area"} /\ cw.taken # NoBlock
    /\ IF cw.chunk \notin Chunks
         THEN /\ memValid' = 0 /\ UNCHANGED <<disk, cache>>
              /\ cpc' = IF cpc = "zeroing" THEN "prewrite" ELSE AfterWrite(cw.src)
              /\ cw' = NoWrite
         ELSE /\ memValid' = memValid
              /\ IF cw.src = "area"
                   THEN /\ disk' = [disk EXCEPT ![cw.chunk] = cw.taken]
                        /\ cache' = [cache EXCEPT ![cw.chunk] = NoBlock]
                   ELSE /\ cache' = [cache EXCEPT ![cw.chunk] = cw.taken]
                        /\ disk' = disk
              /\ cpc' = AfterWrite(cw.src)
              /\ cw' = IF AfterWrite(cw.src) = "zero-after-area"
                       THEN [chunk |-> AreaChunk(curArea + 1), src |-> "zero", taken |-> NoBlock]
                       ELSE NoWrite
    /\ UNCHANGED <<odisk, ocache>>
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   copying, ready, failedCopy, cbq, hpc, hw>>
    /\ UNCHANGED otherVars

\* An area or zeroing write fails: nothing of it is written; the store is invalid.
FailCommitWrite ==
    /\ Running /\ IOErrors /\ cw.src \in {"zero", "area"} /\ cw.taken # NoBlock
    /\ memValid' = 0
    /\ cpc' = IF cpc = "zeroing" THEN "prewrite" ELSE AfterWrite(cw.src)
    /\ cw' = NoWrite
    /\ UNCHANGED devVars
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   copying, ready, failedCopy, cbq, hpc, hw>>
    /\ UNCHANGED otherVars

TakeHeaderWrite ==
    /\ Running /\ hpc = "writing" /\ hw.taken = NoBlock
    /\ hw' = [hw EXCEPT !.taken = Source(hw.src)]
    /\ UNCHANGED devVars
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   copying, ready, failedCopy, cbq, cpc, cw, memValid, hpc>>
    /\ UNCHANGED otherVars

\* The kernel's header write is plain (into the cache); FUA makes it durable.
CompleteHeaderWrite ==
    /\ Running /\ hpc = "writing" /\ hw.taken # NoBlock
    /\ IF HeaderFUA
         THEN /\ disk' = [disk EXCEPT ![0] = hw.taken]
              /\ cache' = [cache EXCEPT ![0] = NoBlock]
         ELSE /\ cache' = [cache EXCEPT ![0] = hw.taken]
              /\ disk' = disk
    /\ hw' = NoWrite
    /\ hpc' = "done"
    /\ UNCHANGED <<odisk, ocache>>
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   copying, ready, failedCopy, cbq, cpc, cw, memValid>>
    /\ UNCHANGED otherVars

FailHeaderWrite ==
    /\ Running /\ IOErrors /\ hpc = "writing" /\ hw.taken # NoBlock
    /\ hw' = NoWrite
    /\ hpc' = "failed"
    /\ UNCHANGED devVars
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   copying, ready, failedCopy, cbq, cpc, cw, memValid>>
    /\ UNCHANGED otherVars

\* The COW cache writes back one chunk on its own, at any time.
Destage(c) ==
    /\ phase \in {"init", "run"} /\ cache[c] # NoBlock
    /\ disk' = [disk EXCEPT ![c] = cache[c]]
    /\ cache' = [cache EXCEPT ![c] = NoBlock]
    /\ UNCHANGED <<odisk, ocache>> /\ UNCHANGED memVars /\ UNCHANGED otherVars

-----------------------------------------------------------------------------
(* The origin.  The write that needed exception e was issued by its       *)
(* Prepare (owait) and proceeds once e's callback reported success; once   *)
(* the snapshot is invalid, any origin write proceeds: with              *)
(* OriginWaitsHeader (the fixed design, and Linux 6.1, whose synchronous   *)
(* header write runs under the snapshot's lock before the origin write is  *)
(* remapped) once the header write completed -- durable only with         *)
(* HeaderFUA -- without it (a design variant) as soon as the invalidation  *)
(* started.  A plain write: into the origin's cache.  Each origin chunk is *)
(* written once.                                                            *)
OriginReleased(e) ==
    \/ e \in ackOk
    \/ IF OriginWaitsHeader THEN hpc = "done" ELSE hpc # "none"

\* The origin write to chunk e may be issued or go on (not merged, not written).
OriginFree(e) == odisk[e] = "old" /\ ocache[e] = "none" /\ e \notin merged /\ merging = 0

OriginWrite(e) ==
    /\ Running /\ OriginWrites
    /\ OriginFree(e)
    /\ OriginReleased(e)
    /\ ocache' = [ocache EXCEPT ![e] = "new"]
    /\ owait' = owait \ {e}
    /\ UNCHANGED <<disk, cache, odisk>> /\ UNCHANGED memVars
    /\ UNCHANGED <<merging, merged, initDone, committed, ackOk, ackFail, crashes, phase, act>>

(* The policy for a failed invalidation header write (fixed design):       *)
(* every origin write waiting for it fails with EIO and writes nothing;    *)
(* until a valid = 0 header is durable, a later origin write that would    *)
(* need a copy first retries the header write (and fails with EIO if that  *)
(* fails too); writes to chunks with an acknowledged exception proceed     *)
(* (OriginWrite).  Several writers waiting on one retry all fail with it:  *)
(* one of the schedules the kernel's per-write retries allow.              *)
OriginEIO(e) ==
    /\ Running /\ OriginWrites /\ OriginWaitsHeader
    /\ e \in owait /\ e \notin ackOk /\ hpc = "failed"
    /\ owait' = owait \ {e}
    /\ UNCHANGED devVars /\ UNCHANGED memVars
    /\ UNCHANGED <<merging, merged, initDone, committed, ackOk, ackFail, crashes, phase, act>>

OriginRetryHeader(e) ==
    /\ Running /\ OriginWrites /\ OriginWaitsHeader
    /\ hpc = "failed" /\ e \notin owait /\ e \notin ackOk /\ OriginFree(e)
    \* the writes that waited for the failed header write have failed first
    /\ owait \subseteq ackOk
    /\ hpc' = "writing"
    /\ hw' = [chunk |-> 0, src |-> IF HeaderInAreaBuffer THEN "area" ELSE "header", taken |-> NoBlock]
    /\ owait' = owait \cup {e}
    /\ UNCHANGED devVars
    /\ UNCHANGED <<areaBuf, hdrBuf, curArea, curIdx, nextFree, nextEx, newChunk, pending,
                   copying, ready, failedCopy, cbq, cpc, cw, memValid>>
    /\ UNCHANGED <<merging, merged, initDone, committed, ackOk, ackFail, crashes, phase, act>>

OriginDestage(e) ==
    /\ Running /\ ocache[e] # "none"
    /\ odisk' = [odisk EXCEPT ![e] = ocache[e]]
    /\ ocache' = [ocache EXCEPT ![e] = "none"]
    /\ UNCHANGED <<disk, cache>> /\ UNCHANGED memVars /\ UNCHANGED otherVars

-----------------------------------------------------------------------------
(* snapshot-merge, one exception at a time from the end of the current area *)
(* (the kernel merges from the last entry backwards): copy the snapshot's   *)
(* data back onto the origin (a plain write), then commit_merge clears the  *)
(* entry and writes the area (flush + FUA on the COW).  The 2021 fix        *)
(* flushes the origin first.                                                *)
MergeReady ==
    /\ Running /\ Merge /\ merging = 0
    /\ cpc = "idle" /\ pending = 0 /\ copying = {} /\ memValid = 1 /\ hpc = "none"
    /\ curIdx > 0 /\ areaBuf[curIdx] \in Exceptions
    \* (a chunk whose origin write still waits is not merged under it)
    /\ areaBuf[curIdx] \notin owait

MergeCopy ==
    /\ MergeReady
    /\ merging' = areaBuf[curIdx]
    /\ ocache' = [ocache EXCEPT ![areaBuf[curIdx]] = "old"]
    /\ UNCHANGED <<disk, cache, odisk>> /\ UNCHANGED memVars
    /\ UNCHANGED <<owait, merged, initDone, committed, ackOk, ackFail, crashes, phase, act>>

MergeCommit ==
    /\ Running /\ merging # 0
    /\ IF MergeFlushOrigin
         THEN /\ odisk' = OFlushed /\ ocache' = ONoCache
         ELSE UNCHANGED <<odisk, ocache>>
    /\ areaBuf' = [areaBuf EXCEPT ![curIdx] = 0]
    /\ curIdx' = curIdx - 1
    /\ disk' = [Flushed EXCEPT ![AreaChunk(curArea)] = [areaBuf EXCEPT ![curIdx] = 0]]
    /\ cache' = NoCache
    /\ merged' = merged \cup {merging}
    /\ merging' = 0
    /\ UNCHANGED <<hdrBuf, curArea, nextFree, nextEx, newChunk, pending, copying, ready,
                   failedCopy, cbq, cpc, cw, memValid, hpc, hw>>
    /\ UNCHANGED <<owait, initDone, committed, ackOk, ackFail, crashes, phase, act>>

-----------------------------------------------------------------------------
(* Power fails: memory, both caches and writes in flight are lost; the COW  *)
(* is activated again and the kernel reads what is durable.                 *)
Crash ==
    /\ phase \in {"init", "run"} /\ crashes < MaxCrashes
    /\ phase' = "crashed"
    /\ crashes' = crashes + 1
    /\ act' = Activate(disk)
    /\ cache' = NoCache
    /\ ocache' = ONoCache
    /\ owait' = {}
    /\ UNCHANGED <<disk, odisk>> /\ UNCHANGED memVars
    /\ UNCHANGED <<merging, merged, initDone, committed, ackOk, ackFail>>

\* next_free after reading the metadata: one past the highest data chunk
\* loaded (2 if none), then (CVE-2013-4299 fix) past an area chunk.
ReloadNextFree(ld) ==
    LET top == {newChunk[e] + 1 : e \in ld \cap Exceptions}
        m   == IF top = {} THEN 2 ELSE CHOOSE t \in top : \A u \in top : u <= t
    IN IF SkipMetadataAfterReload THEN Skip(m) ELSE m

(* Reactivation after a crash, as far as the kernel goes on: a blank header *)
(* is initialised again; a valid snapshot resumes with the current area      *)
(* being the last one read -- in memory with its entries (2014 fix) or      *)
(* zeroed (before) -- and next_free past the highest loaded chunk.           *)
Reload ==
    /\ phase = "crashed" /\ crashes < MaxCrashes
    /\ act.status \in {"blank", "valid"}
    /\ areaBuf' = IF act.status = "valid" /\ ReloadPartialArea
                  THEN AreaBlock(disk, LastArea(disk, 0)) ELSE Zeros
    /\ curArea' = IF act.status = "valid" THEN LastArea(disk, 0) ELSE 0
    /\ curIdx' = IF act.status = "valid" THEN Used(AreaBlock(disk, LastArea(disk, 0))) ELSE 0
    /\ nextFree' = IF act.status = "valid" THEN ReloadNextFree(act.loaded) ELSE 2
    /\ hdrBuf' = Zeros /\ pending' = 0 /\ copying' = {} /\ ready' = {} /\ failedCopy' = {}
    /\ cbq' = {} /\ cpc' = "idle" /\ cw' = NoWrite /\ memValid' = 1 /\ hpc' = "none" /\ hw' = NoWrite
    /\ phase' = IF act.status = "valid" THEN "run" ELSE "init"
    /\ initDone' = {}
    /\ merging' = 0
    /\ UNCHANGED devVars
    /\ UNCHANGED <<nextEx, newChunk, owait, merged, committed, ackOk, ackFail, crashes, act>>

\* After the last activation nothing more is modelled: the behaviour stutters.
Halted == phase = "crashed" /\ UNCHANGED vars

\* The steps that are fair: the commit path, and (separately, so that header
\* write retries failing for ever do not starve the commit path) the header write.
CommitProgress ==
    \/ InitWriteHeader \/ InitZeroArea0
    \/ \E e \in Exceptions : CopyDone(e) \/ CommitStart(e)
    \/ IssueArea \/ Finish
    \/ TakeCommitWrite \/ CompleteCommitWrite
HeaderProgress == TakeHeaderWrite \/ CompleteHeaderWrite
Progress == CommitProgress \/ HeaderProgress

Next ==
    \/ Prepare
    \/ Progress
    \/ \E e \in Exceptions : CopyFail(e) \/ OriginWrite(e) \/ OriginDestage(e)
                            \/ OriginEIO(e) \/ OriginRetryHeader(e)
    \/ FailCommitWrite \/ FailHeaderWrite
    \/ Invalidate
    \/ MergeCopy \/ MergeCommit
    \/ \E c \in Chunks : Destage(c)
    \/ Crash \/ Reload
    \/ Halted

\* Fairness beyond Progress: a waiting origin write that may go on does, or
\* fails once its header write failed; an invalid store gets its header
\* write (the kernel: a failed callback invalidates the snapshot); a merge
\* step that copied commits.  Allocation, failures, write-back, a spurious
\* invalidation, starting a merge and the crash stay unfair.
\* (Quantified over an empty set where the configuration has no origin writes
\* or no merge: each fairness condition costs TLC's liveness check an
\* ENABLED evaluation per state.)
InvalidateInvalid == memValid = 0 /\ Invalidate
OriginSet == IF OriginWrites THEN Exceptions ELSE {}
OriginOnce == IF OriginWrites THEN {1} ELSE {}
MergeOnce == IF Merge THEN {1} ELSE {}
Spec == Init /\ [][Next]_vars /\ WF_vars(CommitProgress) /\ WF_vars(HeaderProgress)
        /\ \A e \in OriginSet : WF_vars(e \in owait /\ OriginWrite(e)) /\ WF_vars(OriginEIO(e))
        /\ \A o \in OriginOnce : WF_vars(InvalidateInvalid)
        /\ \A m \in MergeOnce : WF_vars(MergeCommit)

-----------------------------------------------------------------------------
(* Properties *)
TypeOK ==
    /\ disk \in [Chunks -> Block]
    /\ \A c \in Chunks : cache[c] = NoBlock \/ cache[c] \in Block
    /\ odisk \in [Exceptions -> {"old", "new"}]
    /\ ocache \in [Exceptions -> {"none", "old", "new"}]
    /\ areaBuf \in Block /\ hdrBuf \in Block
    /\ curArea \in 0..NAreas /\ curIdx \in 0..E
    /\ nextFree \in 2..(DevChunks + 1)
    /\ newChunk \in [Exceptions -> 0..(DevChunks - 1)]
    /\ pending \in 0..N
    /\ copying \subseteq Exceptions /\ ready \subseteq Exceptions /\ cbq \subseteq Exceptions
    /\ memValid \in {0, 1}
    /\ phase \in {"init", "run", "crashed"}
    /\ owait \subseteq Exceptions

HeaderOK(b) == b = Zeros \/ b[1] \in {HDR_VALID, HDR_INVALID}

\* 1. Chunk 0 always holds either zeros or a well-formed header: both what is
\*    durable and what the device would return from its cache.
HeaderWellFormed ==
    /\ HeaderOK(disk[0])
    /\ cache[0] = NoBlock \/ HeaderOK(cache[0])

\* 2. Once initialised, the header never reads as blank again (an action
\*    property: durable non-blank stays non-blank; while running, what a read
\*    of chunk 0 returns stays non-blank).
ReadHeader(c, d) == IF c[0] # NoBlock THEN c[0] ELSE d[0]
HeaderNeverBlankAgain ==
    [][ /\ ~IsBlank(disk[0]) => ~IsBlank(disk'[0])
        /\ (phase = "run" /\ phase' = "run" /\ ~IsBlank(ReadHeader(cache, disk)))
              => ~IsBlank(ReadHeader(cache', disk')) ]_vars

Crashed == phase = "crashed"
Recovered == Crashed /\ act.status = "valid"

\* 3. Activation after a crash never says "blank" (a new, empty snapshot)
\*    once anything was acknowledged.
NoBlankAfterAck == Crashed /\ ackOk # {} => act.status # "blank"

\* 4. An invalidation whose header write completed sticks: activation after a
\*    crash neither finds the snapshot valid nor blank.
InvalidationSticks == Crashed /\ hpc = "done" => act.status \notin {"valid", "blank"}

\* 5. After a crash, a valid snapshot loads every exception acknowledged as durable
\*    (merged ones are gone from the COW on purpose).
AckedSurvive == Recovered => ackOk \ merged \subseteq act.loaded

\* 6. ... and nothing that was never committed (no stale or garbage entries).
NoStaleEntries == Recovered => act.loaded \subseteq committed

\* 7. Every loaded exception points at a chunk whose copied data is durable.
LoadedDataDurable ==
    Recovered => \A e \in act.loaded \cap Exceptions : disk[newChunk[e]] = DataBlock(e)

\* 8. The open hole: after a crash, if activation says valid, the snapshot's
\*    view holds no post-snapshot origin data: every origin chunk without a
\*    loaded exception still holds its old data durably.
SnapshotViewIntact ==
    Recovered => \A e \in Exceptions : e \notin act.loaded => odisk[e] = "old"

\* 9. No allocation onto the header or a metadata area (CVE-2013-4299).
NoAllocationOnMetadata == \A e \in Exceptions : newChunk[e] # 0 => newChunk[e] \in DataChunks

\* 10. No leaked space (2013): after a crash, every data chunk below the
\*     highest loaded one belongs to a loaded exception.
LoadedChunks == {newChunk[e] : e \in act.loaded \cap Exceptions}
NoLeakedChunks ==
    Recovered => \A c \in DataChunks : (\E d \in LoadedChunks : c < d) => c \in LoadedChunks

\* 11. No metadata I/O once every commit was acknowledged and nothing is
\*     pending (what suspend waits for, 2006).
Quiescent == pending = 0 /\ copying = {} /\ ready = {} /\ failedCopy = {} /\ cbq = {}
NoMetadataIOWhenQuiescent == Running /\ Quiescent => cpc = "idle" /\ cw = NoWrite

\* 12. Every exception on its way (copying, waiting for commit, committed
\*     and waiting for its callback) eventually gets its callback, with success
\*     or failure, unless the machine crashes first.
InFlight(e) == e \in copying \cup ready \cup failedCopy \cup cbq
Acked(e) == e \in ackOk \cup ackFail
CallbacksEventuallyRun ==
    \A e \in Exceptions : (Running /\ InFlight(e)) ~> (Acked(e) \/ Crashed)

\* 13. Every origin write that was issued (the one that needed an exception,
\*     or one retrying the header write) eventually completes or fails with
\*     EIO, unless the machine crashes first.
OriginEventuallyReleased ==
    \A e \in Exceptions : (Running /\ e \in owait) ~> (e \notin owait \/ Crashed)

\* 14. A merge step whose copy is done eventually commits (or a crash comes).
MergeEventuallyCommits == (Running /\ merging # 0) ~> (merging = 0 \/ Crashed)

\* 15. After a crash the fixed design always activates: the read of the
\*     metadata never runs past the device end (the kernel's activation
\*     error).  Blank, invalid and valid are all activations.
NoActivationError == Crashed => act.status # "error"

-----------------------------------------------------------------------------
(* Witnesses against vacuity: each is meant to be VIOLATED by the fixed      *)
(* design, showing that the interesting states are reachable at all.         *)

\* A crash after which a valid snapshot loads every exception (two areas).
NeverRecoversEverything == ~(Recovered /\ act.loaded = Exceptions)

\* The header write and an area write in flight at the same time.
NeverHeaderDuringAreaWrite == ~(hpc = "writing" /\ cpc = "areawrite")

\* A second crash after a reactivation that committed more, loading it all.
NeverRecoversAfterReload == ~(Recovered /\ crashes = 2 /\ act.loaded = Exceptions)

\* Origin data written after an invalidation, durably, and a crash after it.
NeverOriginAfterInvalidation == ~(Crashed /\ hpc = "done" /\ \E e \in Exceptions : odisk[e] = "new" /\ e \notin ackOk)

\* A merged exception whose entry is gone durably.
NeverMerged == ~(Recovered /\ merged # {})

\* Zeroing the area past the device end (the COW is full up to its last area).
NeverZeroPastEnd == ~(cw.src = "zero" /\ cw.chunk \notin Chunks)

=============================================================================
