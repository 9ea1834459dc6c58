/*
 * rev-rev/1 (../PROTOCOLS.md): both items revocable (T can undo them: a T-signed refund
 * authorisation the bank honours).
 *   1. O -> R: agreement(x)   2. R -> O: R's item bound to x   3. O -> R: O's item bound to x
 *   Either party, before d: abort at T. T decides aborted and revokes every transfer of x.
 *   After d, an exchange nobody aborted is completed (abort refused).
 * Broken variants: -DBUG_PARTIAL_REFUND, -DBUG_T_ABORT_AFTER_COMPLETE, -DBUG_NO_TIMEOUT
 * (README.md: what each breaks and the counterexample it gives).
 */
/* T's answers */
mtype = { NO_ANSWER, ABORTED, COMPLETED, PENDING };
#include "common.pml"

#define ABORT 1
#define STATUS 2

/* T's durable store: aborted or not, per exchange (completed follows from the deadline). */
byte tState[2];

/* Ghosts: what T has said per exchange; which transfers of X_NEW the bank has refunded. */
bool saidAborted[2];
bool saidCompleted[2];
bool refundO;  /* O's transfer revoked */
bool refundR;  /* R's transfer revoked */

/* What an abort request shows: nothing, the requester's own transfer. */
#define SHOWS_NOTHING 0
#define SHOWS_OWN 1

/* Whoever plays R keeps O's item: O sent its real item for X_NEW and it was not revoked. */
#define R_KEEPS_O (itemOSent[REAL] && !refundO)
#define O_KEEPS_R (itemRSent[REAL] && !refundR)

proctype Originator() {
  if
  :: roleO == HONEST ->
    atomic { printf("@ O sends the agreement\n"); SEND(agreeSent[X_NEW]) }
    if
    :: atomic { itemRSent[REAL] && now != AFTER_D -> oHasR = true; oDone = true;
         printf("@ O receives R's item and sends its own: done\n"); SEND(itemOSent[REAL]) }
    /* O has given nothing: its abort needs no deadline (after d, T answers completed) */
    :: atomic { now != BEFORE -> ansO = NO_ANSWER; reqOx = X_NEW; reqOev = SHOWS_NOTHING; reqO = ABORT;
         printf("@ O times out without R's item and aborts at T\n") }
       ansO != NO_ANSWER;
       atomic { oDone = true; printf("@ O gets %e: done\n", ansO) }
    fi
  :: roleO == DISHONEST ->
    do
    :: budgetO > 0 ->
       atomic {
         budgetO--;
         if
         :: agreeSent[X_NEW] = true; printf("@ O (dishonest) sends the agreement\n")
         :: itemOSent[REAL] = true; printf("@ O (dishonest) sends its item\n")
         :: itemOSent[JUNK] = true; printf("@ O (dishonest) sends junk\n")
         :: reqO == NONE -> reqOx = X_NEW; reqOev = SHOWS_OWN; reqO = ABORT; printf("@ O (dishonest) aborts at T\n")
         :: reqO == NONE -> reqOx = X_NEW; reqO = STATUS; printf("@ O (dishonest) asks T the state\n")
         fi
       }
    :: break
    od
  fi
}

proctype Responder() {
  if
  :: roleR == HONEST ->
    if
    :: atomic { agreeSent[X_NEW] && now == BEFORE -> R_COMMITS;
         printf("@ R accepts the agreement and sends its item\n"); SEND(itemRSent[REAL]) }
    :: atomic { now != BEFORE -> rDone = true; printf("@ R got no agreement in time: done, nothing given\n") }; goto finish
    fi;
    if
    :: atomic { itemOSent[REAL] -> rHasO = true; rNeedsT = false; rDone = true; printf("@ R receives O's item: done\n") }
#ifndef BUG_NO_TIMEOUT
    :: atomic { now == TIMEOUT -> ansR = NO_ANSWER; reqRx = X_NEW; reqRev = SHOWS_OWN; reqR = ABORT;
         printf("@ R times out without O's item and aborts at T\n") }
       ansR != NO_ANSWER;
       atomic { rNeedsT = false; rDone = true; printf("@ R gets %e: done\n", ansR) }
#endif
    fi
  :: roleR == DISHONEST ->
    do
    :: budgetR > 0 ->
       atomic {
         budgetR--;
         if
         :: itemRSent[REAL] = true; printf("@ R (dishonest) sends its item\n")
         :: itemRSent[JUNK] = true; printf("@ R (dishonest) sends junk\n")
         :: reqR == NONE -> reqRx = X_NEW; reqRev = SHOWS_OWN; reqR = ABORT; printf("@ R (dishonest) aborts at T, showing its own transfer\n")
         :: reqR == NONE -> reqRx = X_OLD; reqRev = SHOWS_OWN; reqR = ABORT; printf("@ R (dishonest) aborts the previous run at T\n")
         :: reqR == NONE -> reqRx = X_NEW; reqR = STATUS; printf("@ R (dishonest) asks T the state\n")
         fi
       }
    :: break
    od
  fi;
finish:
  skip
}

/* T's decision on abort(x) or status(x); `shows` = the requester's own transfer shown (abort).
 * `fromO` says whose transfer that is. */
inline decide(op, x, shows, fromO, ans) {
  if
  :: tState[x] == ABORTED -> ans = ABORTED
  :: else ->
     if
#ifndef BUG_T_ABORT_AFTER_COMPLETE
     :: EXPIRED_AT(x) -> ans = COMPLETED
#else
     /* the deadline is looked at for status only: abort is decided whatever was said before */
     :: op == STATUS && EXPIRED_AT(x) -> ans = COMPLETED
#endif
     :: else ->
        if
        :: op == ABORT -> tState[x] = ABORTED; ans = ABORTED
        :: else -> ans = PENDING
        fi
     fi
  fi;
  if
  :: ans == ABORTED && x == X_NEW ->
#ifdef BUG_PARTIAL_REFUND
     /* refunds only the transfers shown in this request */
     if
     :: op == ABORT && shows == SHOWS_OWN && fromO -> refundO = true
     :: op == ABORT && shows == SHOWS_OWN && !fromO -> refundR = true
     :: else -> skip
     fi
#else
     /* the refund authorisation names x: every transfer bound to x, shown now or later */
     refundO = true; refundR = true
#endif
  :: else -> skip
  fi;
  if
  :: ans == ABORTED -> saidAborted[x] = true
  :: ans == COMPLETED -> saidCompleted[x] = true
  :: else -> skip
  fi;
  if
  :: fromO -> printf("@ T answers O %e on exchange %d\n", ans, x)
  :: else -> printf("@ T answers R %e on exchange %d\n", ans, x)
  fi
}

proctype ThirdParty() {
end:
  do
  :: atomic { tUp && reqO != NONE -> decide(reqO, reqOx, reqOev, true, ansO); reqO = NONE }
  :: atomic { tUp && reqR != NONE -> decide(reqR, reqRx, reqRev, false, ansR); reqR = NONE }
  /* crash: requests in the slots survive (the parties retry); the store survives */
  :: atomic { tUp && crashes < MAXCRASH -> tUp = false; crashes++; crashAfterDecision = crashAfterDecision || tState[X_NEW] == ABORTED;
       printf("@ T crashes\n") }
  :: atomic { !tUp -> tUp = true; printf("@ T restarts\n") }
  od
}

init {
  atomic {
    PREVIOUS_RUN;
    CHOOSE_ROLES;
    run Clock();
    run ThirdParty();
    run Originator();
    run Responder()
  }
}

/* Fairness with revocation: once an honest party has finished, if the other keeps its item
 * (not revoked), it keeps the other's (not revoked). */
ltl fair_O { [] ((roleO == HONEST && oDone && R_KEEPS_O) -> (oHasR && !refundR)) }
ltl fair_R { [] ((roleR == HONEST && rDone && O_KEEPS_R) -> (rHasO && !refundO)) }
/* T consistency: never both aborted and completed for the same exchange. */
ltl consistent_T { [] (!(saidAborted[X_OLD] && saidCompleted[X_OLD]) && !(saidAborted[X_NEW] && saidCompleted[X_NEW])) }
/* Timeliness: every honest party finishes (pan -a -f: weak fairness). */
ltl term_O { <> (roleO == DISHONEST || oDone) }
ltl term_R { <> (roleR == DISHONEST || rDone) }

/* Reachability witnesses (the checker expects a counterexample for each: the situation occurs). */
#define BOTH_HONEST (roleO == HONEST && roleR == HONEST)
/* the optimistic run: both items exchanged, T never asked, nothing refunded */
ltl reach_optimistic { [] !(BOTH_HONEST && oDone && rDone && oHasR && rHasO && !refundO && !refundR && !saidAborted[X_NEW]) }
/* R aborted after sending its item; both transfers refunded; a crash of T came after the decision */
ltl reach_aborted { [] !(BOTH_HONEST && rDone && ansR == ABORTED && refundR && refundO && crashAfterDecision) }
/* a dishonest party hears completed after d */
ltl reach_completed { [] !(saidCompleted[X_NEW]) }
