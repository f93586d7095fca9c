/* Loss detection (RFC 9002 section 6 and appendix A) and the sent-packet
 * table it works on (sentpkt.h). */
#include <stdlib.h>
#include <string.h>

#include "p2pq/error.h"
#include "quic/recovery.h"

/* ---- sent-packet table ---- */

#define SENTQ_MIN_CAP 64

static p2pq_sentpkt *slot(const p2pq_sentq *q, size_t i) {
  return &q->ring[(q->head + i) & (q->cap - 1)];
}

int p2pq_sentq_init(p2pq_sentq *q, uint8_t space) {
  memset(q, 0, sizeof(*q));
  if (space >= P2PQ_PNS_COUNT)
    return P2PQ_ERR_INVALID_ARG;
  q->space = space;
  return 0;
}

void p2pq_sentq_clear(p2pq_sentq *q) {
  uint8_t space = q->space;
  free(q->ring);
  memset(q, 0, sizeof(*q));
  q->space = space;
}

static int sentq_grow(p2pq_sentq *q) {
  size_t ncap = q->cap ? q->cap * 2 : SENTQ_MIN_CAP, i;
  p2pq_sentpkt *n;
  if (ncap > SIZE_MAX / sizeof(*n))
    return P2PQ_ERR_NOMEM;
  n = malloc(ncap * sizeof(*n));
  if (!n)
    return P2PQ_ERR_NOMEM;
  for (i = 0; i < q->len; i++)
    n[i] = *slot(q, i);
  free(q->ring);
  q->ring = n;
  q->cap = ncap;
  q->head = 0;
  return 0;
}

static int sentq_append(p2pq_sentq *q, const p2pq_sentpkt *pkt, p2pq_sentpkt **out) {
  p2pq_sentpkt *s;
  int rc;
  if (q->any_sent && pkt->pn <= q->largest_sent)
    return P2PQ_ERR_INVALID_ARG;
  /* Loss detection relies on send times rising with packet numbers. */
  if (q->len && pkt->time_sent < slot(q, q->len - 1)->time_sent)
    return P2PQ_ERR_INVALID_ARG;
  if (q->len == q->cap && (rc = sentq_grow(q)) < 0)
    return rc;
  s = slot(q, q->len++);
  *s = *pkt;
  s->flags &= P2PQ_SENT_USER_MASK;
  s->space = q->space;
  q->live++;
  q->largest_sent = pkt->pn;
  q->any_sent = 1;
  if (s->flags & P2PQ_SENT_IN_FLIGHT)
    q->bytes_in_flight += s->size;
  if (s->flags & P2PQ_SENT_ACK_ELICITING) {
    q->ack_eliciting_in_flight++;
    q->last_ack_eliciting = s->time_sent;
    q->non_eliciting_streak = 0;
  } else {
    q->non_eliciting_streak++;
  }
  if (s->flags & P2PQ_SENT_ECT0)
    q->ect0_sent++;
  *out = s;
  return 0;
}

int p2pq_sentq_push(p2pq_sentq *q, const p2pq_sentpkt *pkt) {
  p2pq_sentpkt *s;
  return sentq_append(q, pkt, &s);
}

/* First index whose pn >= pn (len if none). Packet numbers rise by at least
 * one per slot, so the answer is at most pn - (oldest pn): with contiguous
 * numbers (the usual case) that first guess is exact and no search runs. */
static size_t lower_bound(const p2pq_sentq *q, uint64_t pn) {
  size_t lo = 0, hi = q->len;
  uint64_t first;
  if (hi == 0 || pn <= (first = slot(q, 0)->pn))
    return 0;
  if (pn - first < hi) {
    hi = (size_t)(pn - first);
    if (slot(q, hi)->pn == pn)
      return hi;
    hi++;
  }
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (slot(q, mid)->pn < pn)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

p2pq_sentpkt *p2pq_sentq_find(p2pq_sentq *q, uint64_t pn) {
  size_t i = lower_bound(q, pn);
  p2pq_sentpkt *s;
  if (i >= q->len)
    return NULL;
  s = slot(q, i);
  return s->pn == pn && !(s->flags & P2PQ_SENT_REMOVED) ? s : NULL;
}

p2pq_sentpkt *p2pq_sentq_next(p2pq_sentq *q, size_t *it) {
  for (size_t i = *it; i < q->len; i++) {
    p2pq_sentpkt *s = slot(q, i);
    if (!(s->flags & P2PQ_SENT_REMOVED)) {
      *it = i + 1;
      return s;
    }
  }
  *it = q->len;
  return NULL;
}

/* Turns a live record into a tombstone and updates the space's counters. */
static void sentq_remove(p2pq_sentq *q, p2pq_sentpkt *s, uint8_t how) {
  s->flags |= how;
  q->live--;
  if (s->flags & P2PQ_SENT_IN_FLIGHT)
    q->bytes_in_flight -= s->size;
  if (s->flags & P2PQ_SENT_ACK_ELICITING)
    q->ack_eliciting_in_flight--;
}

/* Drops tombstones from both ends so the ring holds only the live window. */
static void sentq_compact(p2pq_sentq *q) {
  while (q->len && (slot(q, 0)->flags & P2PQ_SENT_REMOVED)) {
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
  }
  while (q->len && (slot(q, q->len - 1)->flags & P2PQ_SENT_REMOVED))
    q->len--;
}

/* ---- helpers ---- */

static p2pq_tstamp sat_add(p2pq_tstamp a, p2pq_tstamp b) {
  return a > P2PQ_TSTAMP_MAX - b ? P2PQ_TSTAMP_MAX : a + b;
}
static p2pq_tstamp sat_shl(p2pq_tstamp a, uint32_t n) {
  if (a == 0)
    return 0;
  if (n >= 63 || a > (P2PQ_TSTAMP_MAX >> n))
    return P2PQ_TSTAMP_MAX;
  return a << n;
}

/* The recovery object whose bytes_in_flight a packet counts in. */
static p2pq_recovery *owner(p2pq_recovery *rec, const p2pq_recovery_env *env,
                            const p2pq_sentpkt *s) {
  if (s->path_id == rec->path_id || !env->path_recovery)
    return rec;
  return env->path_recovery(env->user, s->path_id);
}

static void settle(p2pq_recovery *o, const p2pq_sentpkt *s) {
  if (!o || !(s->flags & P2PQ_SENT_IN_FLIGHT))
    return;
  o->bytes_in_flight = o->bytes_in_flight >= s->size ? o->bytes_in_flight - s->size : 0;
}

static int any_ack_eliciting_in_flight(const p2pq_recovery_env *env) {
  for (int sp = 0; sp < P2PQ_PNS_COUNT; sp++)
    if (env->spaces[sp] && env->spaces[sp]->ack_eliciting_in_flight)
      return 1;
  return 0;
}

/* ---- life cycle ---- */

int p2pq_recovery_init(p2pq_recovery *rec, const p2pq_recovery_config *cfg) {
  static const p2pq_recovery_config defaults = {0};
  uint32_t mds;
  int rc;
  memset(rec, 0, sizeof(*rec));
  if (!cfg)
    cfg = &defaults;
  mds = cfg->mds ? cfg->mds : 1200;
  if ((rc = p2pq_cc_init(&rec->cc, cfg->cc, mds)) < 0)
    return rc;
  p2pq_rtt_init(&rec->rtt, cfg->initial_rtt);
  p2pq_pacer_init(&rec->pacer, mds, cfg->pacing_burst);
  rec->path_id = cfg->path_id;
  return 0;
}

void p2pq_recovery_clear(p2pq_recovery *rec) {
  p2pq_cc_clear(&rec->cc);
  p2pq_pacer_clear(&rec->pacer);
  memset(rec, 0, sizeof(*rec));
}

void p2pq_recovery_reset(p2pq_recovery *rec) {
  rec->ecn_failed = 0;
  p2pq_rtt_reset(&rec->rtt);
  p2pq_cc_reset(&rec->cc);
  p2pq_pacer_init(&rec->pacer, rec->cc.mds, rec->pacer.burst);
  rec->pto_count = 0;
}

void p2pq_recovery_set_mds(p2pq_recovery *rec, uint32_t mds) {
  p2pq_cc_set_mds(&rec->cc, mds);
  p2pq_pacer_set_mds(&rec->pacer, mds);
}

void p2pq_recovery_rearm(p2pq_recovery *rec, p2pq_tstamp now) { rec->arm_time = now; }

/* ---- sending ---- */

/* Was the window (not the application) the limit since the last ACK? Only
 * then may acknowledgements grow cwnd (RFC 9002 7.8). Slow start counts as
 * limited from half the window on, since it doubles per round trip. */
static int cwnd_limited(const p2pq_recovery *rec) {
  uint64_t peak = rec->peak_in_flight, cwnd = rec->cc.cwnd;
  if (peak + 3ull * rec->cc.mds >= cwnd)
    return 1;
  return p2pq_cc_in_slow_start(&rec->cc) && 2 * peak >= cwnd;
}

int p2pq_recovery_on_packet_sent(p2pq_recovery *rec, const p2pq_recovery_env *env,
                                 const p2pq_sentpkt *pkt) {
  p2pq_sentq *q;
  p2pq_sentpkt *s;
  uint64_t before = rec->bytes_in_flight;
  int rc;
  if (pkt->space >= P2PQ_PNS_COUNT || !(q = env->spaces[pkt->space]))
    return P2PQ_ERR_INVALID_ARG;
  if ((rc = sentq_append(q, pkt, &s)) < 0)
    return rc;
  s->path_id = rec->path_id;
  rec->pkts_sent++;
  if (!(s->flags & P2PQ_SENT_IN_FLIGHT))
    return 0;
  rec->bytes_in_flight += s->size;
  if (rec->bytes_in_flight > rec->peak_in_flight)
    rec->peak_in_flight = rec->bytes_in_flight;
  p2pq_cc_on_sent(&rec->cc, s->pn, s->space == P2PQ_PNS_APP, before, s->time_sent);
  p2pq_pacer_on_sent(&rec->pacer, rec->cc.cwnd, rec->rtt.smoothed, s->size, s->time_sent);
  rec->arm_time = s->time_sent;
  return 0;
}

/* ---- loss detection ---- */

/* DetectAndRemoveLostPackets for one space plus OnPacketsLost. Records are in
 * packet-number order with rising send times, so the scan stops at the first
 * packet that is not lost: everything after it is newer on both thresholds.
 * Returns 1 if the congestion window was cut. */
static int detect_lost(p2pq_recovery *rec, const p2pq_recovery_env *env, p2pq_sentq *q,
                       p2pq_tstamp now) {
  p2pq_tstamp delay = p2pq_rtt_loss_delay(&rec->rtt);
  p2pq_tstamp pc_dur = p2pq_rtt_pc_duration(&rec->rtt, env->max_ack_delay);
  p2pq_tstamp newest = 0, run_start = 0;
  int congested = 0, run = 0, persistent = 0, cut = 0;
  q->loss_time = 0;
  if (!q->any_acked)
    return 0;
  for (size_t i = 0; i < q->len; i++) {
    p2pq_sentpkt *s = slot(q, i);
    p2pq_recovery *o;
    if (s->pn > q->largest_acked)
      break;
    if (s->flags & P2PQ_SENT_REMOVED) {
      /* An acknowledgement between two losses ends a persistent-congestion run. */
      if (s->flags & P2PQ_SENT_ACKED)
        run = 0;
      continue;
    }
    if (!(q->largest_acked >= s->pn + P2PQ_PACKET_THRESHOLD ||
          (now >= delay && s->time_sent <= now - delay))) {
      q->loss_time = s->time_sent + delay;
      break;
    }
    o = owner(rec, env, s);
    sentq_remove(q, s, P2PQ_SENT_LOST);
    settle(o, s);
    if (s->flags & P2PQ_SENT_IN_FLIGHT) {
      rec->pkts_lost++;
      rec->bytes_lost += s->size;
    }
    if (o && o != rec && (s->flags & P2PQ_SENT_IN_FLIGHT) &&
        !(s->flags & P2PQ_SENT_PMTU_PROBE))
      p2pq_cc_on_congestion_event(&o->cc, s->time_sent, now); /* once per its period */
    if (o == rec && (s->flags & P2PQ_SENT_IN_FLIGHT) && !(s->flags & P2PQ_SENT_PMTU_PROBE)) {
      congested = 1;
      if (s->time_sent > newest)
        newest = s->time_sent;
      /* Persistent congestion counts only packets sent after the first RTT
       * sample (RFC 9002 7.6.2). */
      if ((s->flags & P2PQ_SENT_ACK_ELICITING) && rec->rtt.has_sample &&
          s->time_sent > rec->rtt.first_sample_time) {
        if (!run) {
          run = 1;
          run_start = s->time_sent;
        } else if (s->time_sent - run_start > pc_dur) {
          persistent = 1;
        }
      }
    }
    if (env->on_lost)
      env->on_lost(env->user, s);
  }
  if (congested)
    cut = p2pq_cc_on_congestion_event(&rec->cc, newest, now);
  if (persistent) {
    p2pq_cc_on_persistent_congestion(&rec->cc, now);
    /* RFC 9002 5.2: restart min_rtt from the newest sample, so that a path
     * whose RTT grew is not declared persistently congested again and again. */
    rec->rtt.min_rtt = rec->rtt.latest;
    cut = 1;
  }
  sentq_compact(q);
  return cut;
}

/* ---- ACK processing ---- */

static int check_ranges(const p2pq_sentq *q, const p2pq_recovery_range *r, size_t n) {
  if (n == 0 || !r)
    return P2PQ_ERR_INVALID_ARG;
  for (size_t i = 0; i < n; i++) {
    if (r[i].smallest > r[i].largest)
      return P2PQ_ERR_INVALID_ARG;
    if (i > 0 && r[i].largest >= r[i - 1].smallest)
      return P2PQ_ERR_INVALID_ARG;
  }
  if (!q->any_sent || r[0].largest > q->largest_sent)
    return P2PQ_ERR_PROTOCOL;
  return 0;
}

typedef struct acked_sum {
  size_t n;
  int ack_eliciting;
  uint64_t largest_pn;
  p2pq_tstamp largest_time;
  p2pq_recovery *largest_owner; /* its path takes the RTT sample */
  uint64_t ect0;                /* newly acked packets sent with ECT(0) */
  uint64_t growth;              /* bytes that may grow cwnd */
} acked_sum;

/* DetectAndRemoveAckedPackets for one range. */
static void ack_range(p2pq_recovery *rec, const p2pq_recovery_env *env, p2pq_sentq *q,
                      const p2pq_recovery_range *r, acked_sum *a) {
  for (size_t i = lower_bound(q, r->smallest); i < q->len; i++) {
    p2pq_sentpkt *s = slot(q, i);
    p2pq_recovery *o;
    if (s->pn > r->largest)
      break;
    if (s->flags & P2PQ_SENT_REMOVED)
      continue; /* already acked, or declared lost: never counted twice */
    o = owner(rec, env, s);
    sentq_remove(q, s, P2PQ_SENT_ACKED);
    settle(o, s);
    if (a->n++ == 0 || s->pn > a->largest_pn) {
      a->largest_pn = s->pn;
      a->largest_time = s->time_sent;
      a->largest_owner = o;
    }
    if (s->flags & P2PQ_SENT_ACK_ELICITING)
      a->ack_eliciting = 1;
    if (s->flags & P2PQ_SENT_ECT0)
      a->ect0++;
    if (o == rec && (s->flags & P2PQ_SENT_IN_FLIGHT) &&
        !p2pq_cc_in_recovery(&rec->cc, s->time_sent))
      a->growth += s->size;
    rec->pkts_acked++;
    if (env->on_acked)
      env->on_acked(env->user, s);
  }
}

/* ECN validation (RFC 9000 13.4.2.1) and the CE signal (RFC 9002 7.1), for an
 * ACK that raised the largest acknowledged. Returns 1 if the window was cut. */
static int process_ecn(p2pq_recovery *rec, p2pq_sentq *q, const p2pq_recovery_ecn *ecn,
                       const acked_sum *a, p2pq_tstamp now) {
  int cut = 0;
  if (rec->ecn_failed)
    return 0;
  if (!ecn) {
    /* marked packets acknowledged without counts: the path bleaches ECN */
    rec->ecn_failed = a->ect0 > 0;
    return 0;
  }
  if (ecn->ect0 < q->ecn_ect0 || ecn->ect1 < q->ecn_ect1 || ecn->ce < q->ecn_ce ||
      ecn->ect1 > 0 || ecn->ect0 + ecn->ce > q->ect0_sent ||
      (ecn->ect0 - q->ecn_ect0) + (ecn->ce - q->ecn_ce) < a->ect0) {
    rec->ecn_failed = 1;
    return 0;
  }
  if (ecn->ce > q->ecn_ce)
    cut = p2pq_cc_on_congestion_event(&rec->cc, a->largest_time, now);
  q->ecn_ect0 = ecn->ect0;
  q->ecn_ce = ecn->ce;
  return cut;
}

int p2pq_recovery_on_ack_received(p2pq_recovery *rec, const p2pq_recovery_env *env,
                                  uint8_t space, const p2pq_recovery_range *ranges,
                                  size_t nranges, p2pq_tstamp ack_delay,
                                  const p2pq_recovery_ecn *ecn, p2pq_tstamp now) {
  p2pq_sentq *q;
  acked_sum a = {0};
  p2pq_cc_ack info;
  int rc, cut = 0, sampled = 0, raised = 0;
  if (space >= P2PQ_PNS_COUNT || !(q = env->spaces[space]))
    return P2PQ_ERR_INVALID_ARG;
  if ((rc = check_ranges(q, ranges, nranges)) < 0)
    return rc;
  if (!q->any_acked || ranges[0].largest > q->largest_acked) {
    q->largest_acked = ranges[0].largest;
    q->any_acked = 1;
    raised = 1;
  }
  /* Ranges descend: once one lies below the oldest record, the rest do too. */
  for (size_t i = 0; i < nranges && q->len && ranges[i].largest >= slot(q, 0)->pn; i++)
    ack_range(rec, env, q, &ranges[i], &a);
  if (a.n == 0) {
    sentq_compact(q);
    return 0;
  }
  if (a.largest_pn == ranges[0].largest && a.ack_eliciting && now >= a.largest_time &&
      a.largest_owner) {
    sampled = a.largest_owner == rec;
    /* Initial ACKs are never delayed on purpose: their ack_delay is ignored. */
    p2pq_rtt_update(&a.largest_owner->rtt, now - a.largest_time,
                    space == P2PQ_PNS_INITIAL ? 0 : ack_delay, env->max_ack_delay,
                    env->handshake_confirmed, now);
  }
  /* Counts in reordered ACKs may be stale: only a raised largest counts. */
  if (raised)
    cut |= process_ecn(rec, q, ecn, &a, now);
  cut |= detect_lost(rec, env, q, now);
  /* A window cut starts a recovery period that covers every packet acked
   * here, so none of them may grow the window. */
  info.bytes = !cut && cwnd_limited(rec) ? a.growth : 0;
  info.largest_pn = a.largest_pn;
  info.app = space == P2PQ_PNS_APP;
  info.rtt_sample = (uint8_t)sampled;
  p2pq_cc_on_ack_info(&rec->cc, &info, &rec->rtt, now);
  rec->peak_in_flight = rec->bytes_in_flight;
  if (env->peer_validated)
    rec->pto_count = 0;
  rec->arm_time = now;
  return 0;
}

/* ---- timers ---- */

/* GetLossTimeAndSpace: earliest loss_time, or 0. */
static p2pq_tstamp loss_time(const p2pq_recovery_env *env, uint8_t *space) {
  p2pq_tstamp t = 0;
  for (int sp = 0; sp < P2PQ_PNS_COUNT; sp++) {
    const p2pq_sentq *q = env->spaces[sp];
    if (q && q->loss_time && (t == 0 || q->loss_time < t)) {
      t = q->loss_time;
      *space = (uint8_t)sp;
    }
  }
  return t;
}

/* GetPtoTimeAndSpace */
static p2pq_tstamp pto_time(const p2pq_recovery *rec, const p2pq_recovery_env *env,
                            uint8_t *space) {
  p2pq_tstamp dur = sat_shl(p2pq_rtt_pto_base(&rec->rtt), rec->pto_count), best = P2PQ_TSTAMP_MAX;
  if (!any_ack_eliciting_in_flight(env)) {
    /* Client anti-deadlock PTO: nothing in flight, but the server may be
     * blocked by its amplification limit waiting for us. */
    *space = env->has_handshake_keys ? P2PQ_PNS_HANDSHAKE : P2PQ_PNS_INITIAL;
    return sat_add(rec->arm_time, dur);
  }
  *space = P2PQ_PNS_INITIAL;
  for (int sp = 0; sp < P2PQ_PNS_COUNT; sp++) {
    const p2pq_sentq *q = env->spaces[sp];
    p2pq_tstamp d = dur, t;
    if (!q || !q->ack_eliciting_in_flight)
      continue;
    if (sp == P2PQ_PNS_APP) {
      /* No application-data PTO before the handshake is confirmed. */
      if (!env->handshake_confirmed)
        break;
      d = sat_add(d, sat_shl(env->max_ack_delay, rec->pto_count));
    }
    t = sat_add(q->last_ack_eliciting, d);
    if (t < best) {
      best = t;
      *space = (uint8_t)sp;
    }
  }
  return best;
}

p2pq_tstamp p2pq_recovery_next_timeout(const p2pq_recovery *rec, const p2pq_recovery_env *env) {
  uint8_t space;
  p2pq_tstamp t = loss_time(env, &space);
  if (t)
    return t;
  /* A server at its amplification limit could not send a probe anyway. */
  if (env->amplification_blocked)
    return P2PQ_TSTAMP_MAX;
  if (!any_ack_eliciting_in_flight(env) && env->peer_validated)
    return P2PQ_TSTAMP_MAX;
  return pto_time(rec, env, &space);
}

void p2pq_recovery_on_timeout(p2pq_recovery *rec, const p2pq_recovery_env *env, p2pq_tstamp now,
                              p2pq_recovery_action *out) {
  uint8_t space = 0;
  p2pq_tstamp deadline = p2pq_recovery_next_timeout(rec, env);
  memset(out, 0, sizeof(*out));
  if (deadline == P2PQ_TSTAMP_MAX || deadline > now)
    return;
  if (loss_time(env, &space)) {
    detect_lost(rec, env, env->spaces[space], now);
    out->kind = P2PQ_RECOVERY_LOST;
    rec->arm_time = now;
    return;
  }
  out->kind = P2PQ_RECOVERY_PROBE;
  if (!any_ack_eliciting_in_flight(env)) {
    out->space = env->has_handshake_keys ? P2PQ_PNS_HANDSHAKE : P2PQ_PNS_INITIAL;
    out->probes = 1;
  } else {
    pto_time(rec, env, &space);
    out->space = space;
    out->probes = 2;
  }
  rec->pto_count++;
  rec->ptos++;
  rec->arm_time = now;
}

void p2pq_recovery_discard_space(p2pq_recovery *rec, const p2pq_recovery_env *env, uint8_t space,
                                 p2pq_tstamp now) {
  p2pq_sentq *q;
  if (space >= P2PQ_PNS_COUNT || !(q = env->spaces[space]))
    return;
  for (size_t i = 0; i < q->len; i++) {
    p2pq_sentpkt *s = slot(q, i);
    if (s->flags & P2PQ_SENT_REMOVED)
      continue;
    sentq_remove(q, s, P2PQ_SENT_LOST);
    settle(owner(rec, env, s), s);
    if (env->on_discarded)
      env->on_discarded(env->user, s);
  }
  sentq_compact(q);
  q->loss_time = 0;
  q->last_ack_eliciting = 0;
  rec->pto_count = 0;
  rec->arm_time = now;
}

p2pq_tstamp p2pq_recovery_pto_duration(const p2pq_recovery *rec, const p2pq_recovery_env *env) {
  return sat_add(p2pq_rtt_pto_base(&rec->rtt), env->max_ack_delay);
}

/* ---- pacing ---- */

p2pq_tstamp p2pq_recovery_pacing_time(const p2pq_recovery *rec, uint32_t bytes, p2pq_tstamp now) {
  return p2pq_pacer_next_time(&rec->pacer, rec->cc.cwnd, rec->rtt.smoothed, bytes, now);
}

size_t p2pq_recovery_send_quota(const p2pq_recovery *rec, p2pq_tstamp now) {
  size_t n = p2pq_pacer_burst(&rec->pacer, rec->cc.cwnd, rec->rtt.smoothed, now);
  uint64_t room = rec->cc.cwnd > rec->bytes_in_flight ? rec->cc.cwnd - rec->bytes_in_flight : 0;
  uint64_t pk = room / rec->cc.mds;
  return pk < n ? (size_t)pk : n;
}
