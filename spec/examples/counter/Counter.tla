---------------------------- MODULE Counter ----------------------------
(* A tiny spec to try dmsnap-tlc on: a counter that counts up to Max. *)
EXTENDS Naturals
CONSTANT Max
VARIABLE x

Init == x = 0
Next == x < Max /\ x' = x + 1
Spec == Init /\ [][Next]_x

TypeOK == x \in 0..Max
BelowThree == x < 3
=========================================================================
