/*
 * Shared vocabulary of the two exchange models (gen-ev.pml, rev-rev.pml): exchange ids, the
 * clock, the parties' roles, the O–R network and the request slots to T.
 * See README.md in this folder for what is modelled and what is abstracted.
 */

/* Exchange ids: X_OLD is a previous run between the same O and R (finished long ago, its
 * deadline passed), X_NEW the exchange under check. Two ids are what a replay needs. */
#define X_OLD 0
#define X_NEW 1

/* An item message, as an index: exchange id it is bound to, and whether it verifies against
 * the agreement's description (valid = 1) or is junk (valid = 0). */
#define IDX(x, v) (2 * (x) + (v))
#define REAL IDX(X_NEW, 1)
#define OLD_REAL IDX(X_OLD, 1)
#define JUNK IDX(X_NEW, 0)

/* Time as explicit events (T's clock): BEFORE; TIMEOUT = the parties' local timers fired
 * (d minus one round trip to T), T still before d; AFTER_D = the deadline passed. */
#define BEFORE 0
#define TIMEOUT 1
#define AFTER_D 2
byte now = BEFORE;

/* Roles, fixed at the start: each of O and R honest or dishonest (not both dishonest: no
 * property speaks for a dishonest party, so that case proves nothing). */
#define UNDECIDED 0
#define HONEST 1
#define DISHONEST 2
byte roleO = UNDECIDED;
byte roleR = UNDECIDED;

/* How many moves a dishonest party makes (each: send any message it can form, or a request to
 * T). Bounded so the state space is finite; the counterexamples in README.md need at most 2. */
#ifndef BUDGET
#define BUDGET 4
#endif
byte budgetO = BUDGET;
byte budgetR = BUDGET;

/* The O–R network as the SET of messages ever sent: a receiver may take any message of the set,
 * at any time, any number of times, or never. That is loss, duplication, reordering and delay
 * at once, and replay: the previous run's messages stay in the set. */
bool agreeSent[2];  /* agreement for exchange x, signed by O */
bool itemRSent[4];  /* R's item, IDX(x, valid) */
bool itemOSent[4];  /* O's item, IDX(x, valid) */

/* An honest party's send: the message joins the set, or the network loses it for good. Without
 * the second branch, weak fairness (used for timeliness) would make a waiting receiver take every
 * message sent: a network that always delivers in the end. With it, timeliness is proved for a
 * network that may never deliver. (A dishonest party's lost message is one it did not send.) */
#define SEND(m) if :: m = true :: printf("@   ... and the network loses it\n") fi

/* Requests to T, one slot per party: resilient (never lost; a crash of T loses only an answer
 * not yet sent, and the party's request stays until answered, i.e. it is retried). */
#define NONE 0
byte reqO = NONE;   /* operation */
byte reqOx;         /* exchange id of the agreement shown */
byte reqOev;        /* evidence shown (IDX) */
mtype ansO = NO_ANSWER;  /* T's answer (each model lists its answers as mtype) */
byte ansOev;        /* evidence T hands over with the answer */
byte reqR = NONE;
byte reqRx;
byte reqRev;
mtype ansR = NO_ANSWER;

/* The synchrony assumption on the path to T: R, once honest and committed (its item sent), must
 * reach T before d if O's item does not come; d passes only when it no longer needs T. (O never
 * needs T before d in either protocol: until R's item arrives it has given nothing.) */
bool rNeedsT;
/* An R without a timeout (BUG_NO_TIMEOUT) never means to go to T, so it holds no clock back:
 * d passes for the others as it would. */
#ifdef BUG_NO_TIMEOUT
#define R_COMMITS skip
#else
#define R_COMMITS rNeedsT = true
#endif

/* T may crash (at most MAXCRASH times, then it stays up) and restart. */
#ifndef MAXCRASH
#define MAXCRASH 2
#endif
bool tUp = true;
byte crashes;
bool crashAfterDecision;  /* ghost: T crashed while it had a decision stored for X_NEW */

/* Outcome of each honest party. */
bool oDone;
bool rDone;
bool oHasR;  /* honest O holds R's real item for X_NEW */
bool rHasO;  /* honest R holds O's real item for X_NEW (or T's replacement) */

#define EXPIRED_AT(x) ((x) == X_OLD || now == AFTER_D)

proctype Clock() {
  atomic { now = TIMEOUT; printf("@ the parties' timers fire (T still before d)\n") }
  atomic { !rNeedsT -> now = AFTER_D; printf("@ deadline d passes\n") }
}

/* The roles: honest/honest, honest O and dishonest R, dishonest O and honest R. */
#define CHOOSE_ROLES \
  if \
  :: roleO = HONEST; roleR = HONEST; printf("@ O and R honest\n") \
  :: roleO = HONEST; roleR = DISHONEST; printf("@ O honest, R dishonest\n") \
  :: roleO = DISHONEST; roleR = HONEST; printf("@ O dishonest, R honest\n") \
  fi

/* The previous run X_OLD finished optimistically: its agreement and both items were sent, and
 * stay available to whoever wants to replay them. */
#define PREVIOUS_RUN \
  agreeSent[X_OLD] = true; \
  itemRSent[OLD_REAL] = true; \
  itemOSent[OLD_REAL] = true
