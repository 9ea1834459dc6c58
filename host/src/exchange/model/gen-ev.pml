/*
 * gen-ev/1 (../PROTOCOLS.md): O's item generateable (T can issue a replacement, an affidavit or
 * the escrow opened), R's item externally verifiable (T can check it).
 *   1. O -> R: agreement(x)   2. R -> O: R's item bound to x   3. O -> R: O's item
 *   R without step 3 before d: resolve at T (agreement + R's item as evidence).
 *   O without step 2: asks T at d: resolved (with R's evidence) or expired (final).
 * Broken variants: -DBUG_NO_BINDING, -DBUG_T_NO_DEADLINE, -DBUG_T_VOLATILE, -DBUG_T_NO_VERIFY,
 * -DBUG_O_EARLY, -DBUG_NO_TIMEOUT, -DBUG_T_EXPIRE_AFTER_RESOLVE, -DBUG_R_NO_BINDING
 * (README.md: what each breaks and the counterexample it gives).
 */
/* T's answers */
mtype = { NO_ANSWER, RESOLVED, EXPIRED, REFUSED, PENDING };
#include "common.pml"

#define RESOLVE 1
#define STATUS 2

/* T's durable store: the decision per exchange and the evidence it accepted. */
#define UNDECIDED_T 0
byte tState[2];
byte tEv[2];

/* Ghosts: what T has said about each exchange, and whether T issued O's replacement for X_NEW. */
bool saidResolved[2];
bool saidExpired[2];
bool affidavit;

/* T's check of R's evidence: valid (external verifiability) AND bound to the exchange. */
#if defined(BUG_NO_BINDING)
#define EVIDENCE_OK(e, x) (((e) % 2) == 1)
#elif defined(BUG_T_NO_VERIFY)
#define EVIDENCE_OK(e, x) (((e) / 2) == (x))
#else
#define EVIDENCE_OK(e, x) ((e) == IDX(x, 1))
#endif

/* Whoever plays R holds O's item for X_NEW: O sent it, or T generated the replacement. */
#define R_GOT_O (itemOSent[REAL] || affidavit)
/* Whoever plays O holds R's real item for X_NEW: R sent it. */
#define O_GOT_R (itemRSent[REAL])

proctype Originator() {
  if
  :: roleO == HONEST ->
    atomic { printf("@ O sends the agreement (and the escrow)\n"); SEND(agreeSent[X_NEW]) }
    if
    :: atomic { itemRSent[REAL] -> oHasR = true; oDone = true;
         printf("@ O receives R's item, checks it, sends its own: done\n"); SEND(itemOSent[REAL]) };
       goto finish
#ifdef BUG_O_EARLY
    /* sends its item as soon as an item message arrives, before checking it */
    :: atomic { (itemRSent[IDX(X_OLD, 0)] || itemRSent[OLD_REAL] || itemRSent[JUNK] || itemRSent[REAL]) ->
         printf("@ O receives an item message and sends its own before checking it\n"); SEND(itemOSent[REAL]) }
       if
       :: atomic { itemRSent[REAL] -> oHasR = true; oDone = true }; goto finish
       :: now == AFTER_D -> goto askT
       fi
#endif
    :: now == AFTER_D -> goto askT
    fi;
askT:
    do
    :: atomic { reqO == NONE -> ansO = NO_ANSWER; reqOx = X_NEW; reqO = STATUS; printf("@ O asks T the state\n") }
       ansO != NO_ANSWER;
       if
       :: atomic { ansO == RESOLVED -> oHasR = (ansOev == REAL); oDone = true;
         printf("@ O gets resolved with R's evidence (exchange %d, valid %d): done\n", ansOev / 2, ansOev % 2) }; break
       :: atomic { ansO == EXPIRED -> oDone = true; printf("@ O gets expired: done\n") }; break
       :: else -> skip  /* pending: ask again */
       fi
    od
  :: roleO == DISHONEST ->
    do
    :: budgetO > 0 ->
       atomic {
         budgetO--;
         if
         :: agreeSent[X_NEW] = true; printf("@ O (dishonest) sends the agreement\n")
         :: itemOSent[REAL] = true; printf("@ O (dishonest) sends its item\n")
         :: itemOSent[JUNK] = true; printf("@ O (dishonest) sends junk as its item\n")
         :: reqO == NONE -> reqOx = X_NEW; reqO = STATUS; printf("@ O (dishonest) asks T the state\n")
         fi
       }
    :: break  /* stops at any point */
    od
  fi;
finish:
  skip
}

proctype Responder() {
  if
  :: roleR == HONEST ->
    if
    :: atomic { agreeSent[X_NEW] && now == BEFORE -> R_COMMITS;
         printf("@ R accepts the agreement and sends its item\n"); SEND(itemRSent[REAL]) }
    :: atomic { now != BEFORE -> rDone = true; printf("@ R got no agreement in time: done, nothing given\n") }; goto finish  /* no agreement in time: nothing given */
    fi;
    if
    :: atomic { itemOSent[REAL] -> rHasO = true; rNeedsT = false; rDone = true; printf("@ R receives O's item: done\n") }
#ifdef BUG_R_NO_BINDING
    /* takes a receipt of the previous run for this exchange's */
    :: atomic { itemOSent[OLD_REAL] -> rNeedsT = false; rDone = true;
         printf("@ R takes O's item of the previous run as this exchange's: done\n") }
#endif
#ifndef BUG_NO_TIMEOUT
    :: atomic { now == TIMEOUT -> ansR = NO_ANSWER; reqRx = X_NEW; reqRev = REAL; reqR = RESOLVE;
         printf("@ R times out without O's item and resolves at T\n") }
       ansR != NO_ANSWER;
       atomic { rHasO = (ansR == RESOLVED); rNeedsT = false; rDone = true;
         printf("@ R gets %e: done\n", ansR) }
#endif
    fi
  :: roleR == DISHONEST ->
    do
    :: budgetR > 0 ->
       atomic {
         budgetR--;
         if
         :: itemRSent[REAL] = true; printf("@ R (dishonest) sends its item\n")
         :: itemRSent[JUNK] = true; printf("@ R (dishonest) sends junk as its item\n")
         /* resolve with any agreement it holds and any evidence it can form: its real item, junk,
          * or its item of the previous run (the replay) */
         :: reqR == NONE ->
            if
            :: reqRx = X_OLD
            :: agreeSent[X_NEW] -> reqRx = X_NEW
            fi;
            if
            :: reqRev = REAL
            :: reqRev = JUNK
            :: reqRev = OLD_REAL
            fi;
            reqR = RESOLVE;
            printf("@ R (dishonest) resolves exchange %d at T with evidence of exchange %d, valid %d\n", reqRx, reqRev / 2, reqRev % 2)
         fi
       }
    :: break
    od
  fi;
finish:
  skip
}

proctype ThirdParty() {
  byte x;
end:
  do
  /* resolve: stored decision first, then the deadline, then the evidence */
  :: atomic { tUp && reqR == RESOLVE ->
       x = reqRx;
       if
       :: tState[x] == RESOLVED -> ansR = RESOLVED
       :: else ->
          if
#ifndef BUG_T_NO_DEADLINE
          :: EXPIRED_AT(x) -> ansR = EXPIRED
#endif
          :: else ->
             if
             :: EVIDENCE_OK(reqRev, x) -> tState[x] = RESOLVED; tEv[x] = reqRev; ansR = RESOLVED
             :: else -> ansR = REFUSED
             fi
          fi
       fi;
       if
       :: ansR == RESOLVED -> saidResolved[x] = true; affidavit = affidavit || x == X_NEW
       :: ansR == EXPIRED -> saidExpired[x] = true
       :: else -> skip
       fi;
       printf("@ T answers R %e on exchange %d\n", ansR, x);
       reqR = NONE; x = 0 }
  /* status: resolved (with R's evidence), expired, or not yet */
  :: atomic { tUp && reqO == STATUS ->
       x = reqOx;
       if
#ifdef BUG_T_EXPIRE_AFTER_RESOLVE
       /* the deadline looked at before the stored decision */
       :: EXPIRED_AT(x) -> ansO = EXPIRED
       :: else ->
          if
          :: tState[x] == RESOLVED -> ansO = RESOLVED; ansOev = tEv[x]
          :: else -> ansO = PENDING
          fi
#else
       :: tState[x] == RESOLVED -> ansO = RESOLVED; ansOev = tEv[x]
       :: else ->
          if
          :: EXPIRED_AT(x) -> ansO = EXPIRED
          :: else -> ansO = PENDING
          fi
#endif
       fi;
       if
       :: ansO == RESOLVED -> saidResolved[x] = true
       :: ansO == EXPIRED -> saidExpired[x] = true
       :: else -> skip
       fi;
       printf("@ T answers O %e on exchange %d\n", ansO, x);
       reqO = NONE; x = 0 }
  /* crash: requests in the slots survive (the parties retry); the store survives unless volatile */
  :: atomic { tUp && crashes < MAXCRASH -> tUp = false; crashes++; crashAfterDecision = crashAfterDecision || tState[X_NEW] != UNDECIDED_T;
       printf("@ T crashes\n")
#ifdef BUG_T_VOLATILE
       ; tState[X_OLD] = UNDECIDED_T; tState[X_NEW] = UNDECIDED_T; tEv[X_OLD] = 0; tEv[X_NEW] = 0;
       printf("@ T's decisions were in memory only: lost\n")
#endif
     }
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

/* Fairness: once an honest party has finished, if the other holds its item, it holds the
 * other's (checked in every later state too: a late resolve must not break it). */
ltl fair_O { [] ((roleO == HONEST && oDone && R_GOT_O) -> oHasR) }
ltl fair_R { [] ((roleR == HONEST && rDone && O_GOT_R) -> rHasO) }
/* T consistency: never both resolved and expired for the same exchange. */
ltl consistent_T { [] (!(saidResolved[X_OLD] && saidExpired[X_OLD]) && !(saidResolved[X_NEW] && saidExpired[X_NEW])) }
/* Timeliness: every honest party finishes (checked under weak fairness, pan -a -f). */
ltl term_O { <> (roleO == DISHONEST || oDone) }
ltl term_R { <> (roleR == DISHONEST || rDone) }

/* Reachability witnesses (the checker expects a counterexample for each: the situation occurs, so
 * the properties above are not proved by a model that never gets there). */
#define BOTH_HONEST (roleO == HONEST && roleR == HONEST)
/* the optimistic run: both items exchanged, T never asked */
ltl reach_optimistic { [] !(BOTH_HONEST && oDone && rDone && oHasR && rHasO && !saidResolved[X_NEW] && !saidExpired[X_NEW]) }
/* R resolved; O got R's item from T; a crash of T came between and T still knew */
ltl reach_resolved { [] !(BOTH_HONEST && oDone && rDone && ansO == RESOLVED && oHasR && rHasO && crashAfterDecision) }
/* the exchange expired for an honest O facing a dishonest R */
ltl reach_expired { [] !(roleO == HONEST && roleR == DISHONEST && oDone && ansO == EXPIRED) }
