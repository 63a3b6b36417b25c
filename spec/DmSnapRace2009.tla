-------------------------- MODULE DmSnapRace2009 --------------------------
(***************************************************************************)
(* The 2009 header race (61578dcd, BUG-HISTORY #5) at the granularity of  *)
(* the CPU's stores: the first 16 bytes of the buffer both threads use.   *)
(*                                                                         *)
(*  - drop_snapshot -> write_header (another context): clear the buffer,  *)
(*    then four 4-byte little-endian stores: magic "SnAp", valid = 0,     *)
(*    version = 1, chunk_size; then the write of chunk 0 is issued.        *)
(*  - commit_exception -> write_exception (the copy-callback thread), at  *)
(*    current_committed = 0 of a fresh area: two 8-byte stores,            *)
(*    old_chunk (bytes 0-7) then new_chunk (bytes 8-15).  An 8-byte value  *)
(*    below 2^32 is its low word then a zero word.                         *)
(*  - the device takes the buffer's bytes at one moment after the write   *)
(*    was issued and lands them on chunk 0.                                *)
(*                                                                         *)
(* With HeaderInAreaBuffer (the 2009 kernel) both threads use ps->area;   *)
(* the fix gives the header its own buffer.  The state is the four words  *)
(* of each buffer and the program counters; the main model               *)
(* (DmSnapStore.tla) has the rest of the protocol at 16-byte granularity. *)
(***************************************************************************)
EXTENDS Naturals

CONSTANTS
    HeaderInAreaBuffer,   \* the 2009 kernel: TRUE; fixed: FALSE
    MAGIC,                \* the word "SnAp" (0x70416e53)
    CS,                   \* the real chunk size (a non-zero power of two)
    OLDLO, NEWLO              \* the low words of the entry's old_chunk and new_chunk (non-zero)

ASSUME HeaderInAreaBuffer \in BOOLEAN

Words == 1..4
Zero4 == [w \in Words |-> 0]

VARIABLES
    area,      \* first 16 bytes of ps->area, as four 32-bit words
    hdr,       \* first 16 bytes of ps->header_area
    hpc,       \* write_header: "memset", "magic", "valid", "version", "chunk_size", "issue", "inflight", "done"
    epc,       \* write_exception: "old", "new", "done"
    taken,     \* the words the device took for the header write (<<>>: not yet)
    chunk0     \* the first 16 bytes of chunk 0 on the device

vars == <<area, hdr, hpc, epc, taken, chunk0>>

HeaderWords(v) == <<MAGIC, v, 1, CS>>

Init ==
    /\ area = Zero4 /\ hdr = Zero4
    /\ hpc = "memset" /\ epc = "old"
    /\ taken = <<>>
    /\ chunk0 = HeaderWords(1)       \* a valid snapshot before the invalidation

\* write_header's buffer.
HBuf == IF HeaderInAreaBuffer THEN area ELSE hdr
SetH(b) == IF HeaderInAreaBuffer THEN area' = b /\ hdr' = hdr ELSE hdr' = b /\ area' = area

\* The four stores of write_header (one action each, so a trace names them).
HeaderMemset ==
    /\ hpc = "memset" /\ SetH(Zero4) /\ hpc' = "magic"
    /\ UNCHANGED <<epc, taken, chunk0>>
HeaderStoreMagic ==
    /\ hpc = "magic" /\ SetH([HBuf EXCEPT ![1] = MAGIC]) /\ hpc' = "valid"
    /\ UNCHANGED <<epc, taken, chunk0>>
HeaderStoreValid ==
    /\ hpc = "valid" /\ SetH([HBuf EXCEPT ![2] = 0]) /\ hpc' = "version"
    /\ UNCHANGED <<epc, taken, chunk0>>
HeaderStoreVersion ==
    /\ hpc = "version" /\ SetH([HBuf EXCEPT ![3] = 1]) /\ hpc' = "chunk_size"
    /\ UNCHANGED <<epc, taken, chunk0>>
HeaderStoreChunkSize ==
    /\ hpc = "chunk_size" /\ SetH([HBuf EXCEPT ![4] = CS]) /\ hpc' = "issue"
    /\ UNCHANGED <<epc, taken, chunk0>>

IssueHeaderWrite ==
    /\ hpc = "issue" /\ hpc' = "inflight"
    /\ UNCHANGED <<area, hdr, epc, taken, chunk0>>

\* The device takes the buffer's bytes (DMA) at some moment before completion.
TakeHeaderWrite ==
    /\ hpc = "inflight" /\ taken = <<>>
    /\ taken' = HBuf
    /\ UNCHANGED <<area, hdr, hpc, epc, chunk0>>

CompleteHeaderWrite ==
    /\ hpc = "inflight" /\ taken # <<>>
    /\ chunk0' = taken
    /\ hpc' = "done"
    /\ UNCHANGED <<area, hdr, epc, taken>>

\* write_exception at index 0 of ps->area: two 8-byte stores.
EntryStoreOld ==
    /\ epc = "old"
    /\ area' = [area EXCEPT ![1] = OLDLO, ![2] = 0]
    /\ epc' = "new"
    /\ UNCHANGED <<hdr, hpc, taken, chunk0>>

EntryStoreNew ==
    /\ epc = "new"
    /\ area' = [area EXCEPT ![3] = NEWLO, ![4] = 0]
    /\ epc' = "done"
    /\ UNCHANGED <<hdr, hpc, taken, chunk0>>

Done == hpc = "done" /\ epc = "done" /\ UNCHANGED vars

Next ==
    \/ HeaderMemset \/ HeaderStoreMagic \/ HeaderStoreValid \/ HeaderStoreVersion
    \/ HeaderStoreChunkSize \/ IssueHeaderWrite \/ TakeHeaderWrite \/ CompleteHeaderWrite
    \/ EntryStoreOld \/ EntryStoreNew
    \/ Done

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
TypeOK == chunk0 \in [Words -> {0, MAGIC, 1, CS, OLDLO, NEWLO}]

\* Chunk 0 holds a well-formed header (valid 0 or 1, version 1, the real chunk size).
HeaderWellFormed ==
    \/ chunk0 = Zero4
    \/ chunk0[1] = MAGIC /\ chunk0[2] \in {0, 1} /\ chunk0[3] = 1 /\ chunk0[4] = CS

\* The 2009 kernel trusted the chunk size of a header with the right magic:
\* a header that says "SnAp" must carry the real chunk size.
HeaderChunkSizeSane == chunk0[1] = MAGIC => chunk0[4] = CS

\* Non-vacuity (fixed design): the entry stores run while the header write is in flight.
NeverEntryDuringHeaderWrite == ~(hpc = "inflight" /\ taken = <<>> /\ epc = "new")

=============================================================================
