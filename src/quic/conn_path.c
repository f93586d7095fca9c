/* Paths (RFC 9000 8.2, 9): validation with PATH_CHALLENGE/PATH_RESPONSE,
 * migration and NAT rebinding; connection IDs (5.1); DPLPMTUD (RFC 8899). */
#include <string.h>

#include "quic/conn_internal.h"
#include "quic/qlog.h"

#define PATH_CHALLENGE_TRIES 3
#define PMTUD_STEP_FAILS 3

static const size_t pmtud_sizes[] = {1280, 1350, 1400, 1452, 1472, 1500};

int p2pq_path_find(p2pq_conn *c, const p2pq_addr *local, const p2pq_addr *remote) {
  int i;
  for (i = 0; i < P2PQ_MAX_PATHS; i++) {
    p2pq_path *p = &c->paths[i];
    if (!p->in_use || !p2pq_addr_equal(&p->remote, remote))
      continue;
    if (local == NULL || local->family == 0 || p->local.family == 0 ||
        p2pq_addr_equal(&p->local, local))
      return i;
  }
  return -1;
}

int p2pq_path_new(p2pq_conn *c, const p2pq_addr *local, const p2pq_addr *remote,
                  p2pq_tstamp now) {
  const p2pq_config *cfg = p2pq_ep_config(c->ep);
  p2pq_recovery_config rc;
  int i;
  (void)now;
  for (i = 0; i < P2PQ_MAX_PATHS; i++)
    if (!c->paths[i].in_use)
      break;
  if (i == P2PQ_MAX_PATHS) {
    /* full: evict a non-active path, unvalidated ones first, then the oldest */
    int victim = -1;
    for (i = 0; i < P2PQ_MAX_PATHS; i++) {
      if (i == c->active_path)
        continue;
      if (victim < 0 || (!c->paths[i].validated && c->paths[victim].validated) ||
          (c->paths[i].validated == c->paths[victim].validated &&
           c->paths[i].id < c->paths[victim].id))
        victim = i;
    }
    if (victim < 0)
      return -1;
    p2pq_path_free(c, victim);
    i = victim;
  }
  p2pq_path *p = &c->paths[i];
  memset(p, 0, sizeof(*p));
  p->in_use = 1;
  p->id = c->next_path_id++;
  if (local != NULL)
    p->local = *local;
  p->remote = *remote;
  p->mtu = P2PQ_MIN_INITIAL_SIZE;
  p->peer_cid_index = -1;
  memset(&rc, 0, sizeof(rc));
  rc.cc = cfg->settings.cc;
  rc.mds = P2PQ_MIN_INITIAL_SIZE;
  rc.initial_rtt = cfg->settings.initial_rtt_ms * P2PQ_MS;
  rc.path_id = p->id;
  if (p2pq_recovery_init(&p->rec, &rc) != 0) {
    p->in_use = 0;
    return -1;
  }
  p->next_probe_time = 0;
  p->pmtud_done = cfg->settings.disable_pmtud;
  if (c->local_tp.address_discovery == P2PQ_AD_PROVIDE ||
      c->local_tp.address_discovery == P2PQ_AD_BOTH) {
    /* sent once the peer has said it wants observations */
    p->observed_seq_sent = 0;
  }
  return i;
}

void p2pq_path_free(p2pq_conn *c, int idx) {
  p2pq_path *p = &c->paths[idx];
  if (!p->in_use)
    return;
  if (p->peer_cid_index >= 0)
    c->peer_cids[p->peer_cid_index].path_id = -1;
  p2pq_recovery_clear(&p->rec);
  p->in_use = 0;
}

/* RFC 9000 8.2.4: three times the larger of the current PTO and the new path's
 * (whose RTT is not known yet, so kInitialRtt-based). */
static p2pq_tstamp validation_timeout(const p2pq_conn *c, const p2pq_path *p) {
  const p2pq_rtt *r = &p->rec.rtt;
  p2pq_tstamp v = 4 * r->rttvar, mine, cur = p2pq_conn_pto(c);
  if (v < P2PQ_MS)
    v = P2PQ_MS;
  mine = (r->has_sample ? r->smoothed : r->initial) + v;
  return 3 * (mine > cur ? mine : cur);
}

void p2pq_path_start_validation(p2pq_conn *c, int idx, p2pq_tstamp now) {
  p2pq_path *p = &c->paths[idx];
  p2pq_ep_random(c->ep, p->challenge, 8);
  memset(p->old_challenges, 0, sizeof(p->old_challenges));
  p->challenge_pending = 1;
  p->challenge_outstanding = 0;
  p->challenge_tries = 1;
  p->challenge_deadline = now + validation_timeout(c, p);
  if (idx != c->active_path)
    p2pq_cid_pick_for_path(c, idx);
}

static int peer_wants_observations(const p2pq_conn *c) {
  return c->have_peer_tp && (c->peer_tp.address_discovery == P2PQ_AD_RECEIVE ||
                             c->peer_tp.address_discovery == P2PQ_AD_BOTH) &&
         (c->local_tp.address_discovery == P2PQ_AD_PROVIDE ||
          c->local_tp.address_discovery == P2PQ_AD_BOTH);
}

/* Queues an OBSERVED_ADDRESS for the path if its remote address changed. */
void p2pq_path_observe(p2pq_conn *c, int idx) {
  p2pq_path *p = &c->paths[idx];
  if (!peer_wants_observations(c) || !c->handshake_complete)
    return;
  if (p->observed_seq_sent != 0 && p2pq_addr_equal(&p->observed_sent, &p->remote))
    return;
  p->observed_sent = p->remote;
  p->observed_seq_sent = ++c->observed_tx_seq; /* seq + 1, increasing per connection */
  p->observed_pending = 1;
}

void p2pq_path_on_response(p2pq_conn *c, int idx, const uint8_t data[8], p2pq_tstamp now) {
  int i;
  (void)idx;
  /* RFC 9000 8.2.2: a response is valid on any path, it names the challenge */
  for (i = 0; i < P2PQ_MAX_PATHS; i++) {
    p2pq_path *p = &c->paths[i];
    if (!p->in_use || !p->challenge_outstanding ||
        (memcmp(p->challenge, data, 8) != 0 && memcmp(p->old_challenges[0], data, 8) != 0 &&
         memcmp(p->old_challenges[1], data, 8) != 0))
      continue;
    p->challenge_outstanding = 0;
    p->challenge_pending = 0;
    if (!p->validated) {
      p->validated = 1;
      p2pq_conn_push_event(c, P2PQ_EV_PATH_VALIDATED, 0, 0, &p->remote);
    }
    (void)now;
  }
}

void p2pq_path_set_active(p2pq_conn *c, int idx, p2pq_tstamp now) {
  p2pq_path *old = &c->paths[c->active_path];
  p2pq_path *p = &c->paths[idx];
  int same_ip = p2pq_addr_equal_ip(&old->remote, &p->remote);
  if (idx == c->active_path)
    return;
  c->paths[c->active_path].is_active = 0;
  c->active_path = idx;
  p->is_active = 1;
  /* RFC 9000 9.4: a new path starts with fresh congestion state, except when
   * only the port changed (likely a NAT rebinding) */
  if (same_ip) {
    p->rec.rtt = old->rec.rtt;
    p->rec.cc = old->rec.cc;
    p->mtu = old->mtu;
    p->pmtud_done = old->pmtud_done;
    p2pq_recovery_set_mds(&p->rec, (uint32_t)p->mtu);
  }
  if (!p->validated && !p->challenge_pending && !p->challenge_outstanding)
    p2pq_path_start_validation(c, idx, now);
  if (p->peer_cid_index < 0)
    p2pq_cid_pick_for_path(c, idx);
  p2pq_path_observe(c, idx);
  p2pq_qlog_path(c, "connectivity:path_updated", &p->local, &p->remote, now);
  p2pq_conn_push_event(c, P2PQ_EV_MIGRATED, 0, 0, &p->remote);
}

p2pq_tstamp p2pq_path_next_timeout(const p2pq_conn *c) {
  p2pq_tstamp t = P2PQ_TSTAMP_MAX;
  int i;
  for (i = 0; i < P2PQ_MAX_PATHS; i++) {
    const p2pq_path *p = &c->paths[i];
    if (!p->in_use)
      continue;
    if (p->challenge_outstanding && p->challenge_deadline < t)
      t = p->challenge_deadline;
    if (!p->pmtud_done && p->validated && p->probe_size == 0 && p->next_probe_time < t &&
        c->handshake_confirmed && i == c->active_path)
      t = p->next_probe_time;
  }
  return t;
}

static void path_failed(p2pq_conn *c, int idx, p2pq_tstamp now) {
  int i;
  if (idx != c->active_path) {
    p2pq_path_free(c, idx);
    return;
  }
  /* RFC 9000 9.3.2: fall back to the last validated path */
  for (i = 0; i < P2PQ_MAX_PATHS; i++)
    if (i != idx && c->paths[i].in_use && c->paths[i].validated) {
      p2pq_path_set_active(c, i, now);
      p2pq_path_free(c, idx);
      return;
    }
  p2pq_conn_set_error(c, P2PQ_ERR_NO_VIABLE_PATH, 0, "path validation failed", now);
}

void p2pq_path_on_timeout(p2pq_conn *c, p2pq_tstamp now) {
  int i;
  for (i = 0; i < P2PQ_MAX_PATHS; i++) {
    p2pq_path *p = &c->paths[i];
    if (!p->in_use || !p->challenge_outstanding || now < p->challenge_deadline)
      continue;
    if (p->challenge_tries >= PATH_CHALLENGE_TRIES) {
      p->challenge_outstanding = 0;
      path_failed(c, i, now);
      continue;
    }
    p->challenge_tries++;
    memcpy(p->old_challenges[1], p->old_challenges[0], 8);
    memcpy(p->old_challenges[0], p->challenge, 8);
    p2pq_ep_random(c->ep, p->challenge, 8);
    p->challenge_pending = 1;
    p->challenge_outstanding = 0;
    p->challenge_deadline = now + validation_timeout(c, p);
  }
  /* PMTU probe due: ask the sender for one */
  {
    p2pq_path *p = &c->paths[c->active_path];
    if (!p->pmtud_done && p->validated && p->probe_size == 0 && now >= p->next_probe_time &&
        c->handshake_confirmed)
      p2pq_pmtud_start_probe(c, c->active_path);
  }
}

/* ---- DPLPMTUD ---- */

size_t p2pq_pmtud_next_size(const p2pq_conn *c, int idx) {
  const p2pq_path *p = &c->paths[idx];
  const p2pq_config *cfg = p2pq_ep_config(c->ep);
  size_t max = cfg->settings.max_udp_payload;
  size_t i;
  if (c->have_peer_tp && c->peer_tp.max_udp_payload_size < max)
    max = (size_t)c->peer_tp.max_udp_payload_size;
  for (i = 0; i < sizeof(pmtud_sizes) / sizeof(pmtud_sizes[0]); i++)
    if (pmtud_sizes[i] > p->mtu && pmtud_sizes[i] <= max)
      return pmtud_sizes[i];
  return 0;
}

void p2pq_pmtud_start_probe(p2pq_conn *c, int idx) {
  p2pq_path *p = &c->paths[idx];
  size_t size = p2pq_pmtud_next_size(c, idx);
  if (size == 0 || size > P2PQ_MAX_PKT) {
    p->pmtud_done = 1;
    return;
  }
  p->probe_size = size; /* conn_send builds it */
}

void p2pq_pmtud_on_ack(p2pq_conn *c, int idx, uint64_t pn) {
  p2pq_path *p = &c->paths[idx];
  if (p->probe_size == 0 || !p->probe_sent || pn != p->probe_pn)
    return;
  p->probe_sent = 0;
  p->mtu = p->probe_size;
  p2pq_recovery_set_mds(&p->rec, (uint32_t)p->mtu);
  p->probe_size = 0;
  p->probe_fails = 0;
  p->next_probe_time = 0; /* try the next size at once */
  if (p2pq_pmtud_next_size(c, idx) == 0)
    p->pmtud_done = 1;
}

void p2pq_pmtud_on_lost(p2pq_conn *c, int idx, uint64_t pn) {
  p2pq_path *p = &c->paths[idx];
  if (p->probe_size == 0 || !p->probe_sent || pn != p->probe_pn)
    return;
  p->probe_size = 0;
  p->probe_sent = 0;
  p->next_probe_time = 0;
  if (++p->probe_fails >= PMTUD_STEP_FAILS)
    p->pmtud_done = 1; /* RFC 8899: settle on the last confirmed size */
}

/* ---- connection IDs ---- */

const p2pq_cid *p2pq_conn_scid(const p2pq_conn *c) { return &c->local_cids[0].cid; }

const p2pq_cid *p2pq_conn_dcid(const p2pq_conn *c, int path_idx) {
  int i = c->paths[path_idx].peer_cid_index;
  if (i < 0 || !c->peer_cids[i].in_use)
    i = c->paths[c->active_path].peer_cid_index;
  if (i < 0 || !c->peer_cids[i].in_use) {
    /* any live one (after the peer retired the one in use) */
    for (i = 0; i < P2PQ_MAX_PEER_CIDS - 1 && !c->peer_cids[i].in_use; i++)
      ;
  }
  return &c->peer_cids[i].cid;
}

/* Issues a fresh local CID (NEW_CONNECTION_ID) while below the peer's limit. */
int p2pq_cid_issue(p2pq_conn *c, p2pq_tstamp now) {
  const p2pq_config *cfg = p2pq_ep_config(c->ep);
  uint64_t limit = c->have_peer_tp ? c->peer_tp.active_connection_id_limit : 2;
  int i, active = 0, slot = -1;
  (void)now;
  for (i = 0; i < P2PQ_MAX_LOCAL_CIDS; i++) {
    if (c->local_cids[i].in_use)
      active++;
    else if (slot < 0)
      slot = i;
  }
  if (slot < 0 || (uint64_t)active >= limit)
    return 0;
  p2pq_local_cid *lc = &c->local_cids[slot];
  memset(lc, 0, sizeof(*lc));
  lc->cid.len = (uint8_t)cfg->cid_len;
  p2pq_ep_random(c->ep, lc->cid.data, lc->cid.len);
  lc->seq = c->next_local_seq++;
  p2pq_ep_reset_token(c->ep, &lc->cid, lc->reset_token);
  if (p2pq_ep_register_cid(c->ep, &lc->cid, c) != 0)
    return 0;
  lc->in_use = 1;
  lc->advertise = 1;
  return 1;
}

int p2pq_cid_any_advertise(const p2pq_conn *c) {
  int i;
  for (i = 0; i < P2PQ_MAX_LOCAL_CIDS; i++)
    if (c->local_cids[i].in_use && c->local_cids[i].advertise)
      return 1;
  return 0;
}

/* Queues a RETIRE_CONNECTION_ID; a full queue means a peer churning CIDs far
 * faster than we can answer, which RFC 9000 5.1.2 lets us treat as an error. */
int p2pq_cid_queue_retire(p2pq_conn *c, uint64_t seq) {
  if (c->retire_n == P2PQ_RETIRE_QUEUE)
    return P2PQ_ERR_CONNECTION_ID_LIMIT;
  c->retire_q[c->retire_n++] = seq;
  return 0;
}

int p2pq_cid_on_new(p2pq_conn *c, const p2pq_frame *f) {
  uint64_t limit = c->local_tp.active_connection_id_limit;
  int i, active = 0, slot = -1, rv;
  if (c->peer_cids[0].cid.len == 0)
    return P2PQ_ERR_PROTOCOL; /* RFC 9000 19.15: zero-length CID peers can't send it */
  for (i = 0; i < P2PQ_MAX_PEER_CIDS; i++) {
    p2pq_peer_cid *pc = &c->peer_cids[i];
    if (pc->in_use && pc->seq == f->u.new_cid.seq) {
      if (!p2pq_cid_equal(&pc->cid, &f->u.new_cid.cid))
        return P2PQ_ERR_PROTOCOL;
      return 0; /* retransmission */
    }
  }
  if (f->u.new_cid.seq < c->peer_retire_prior_to)
    return p2pq_cid_queue_retire(c, f->u.new_cid.seq); /* retired before it arrived */
  if (f->u.new_cid.retire_prior_to > c->peer_retire_prior_to) {
    c->peer_retire_prior_to = f->u.new_cid.retire_prior_to;
    for (i = 0; i < P2PQ_MAX_PEER_CIDS; i++) {
      p2pq_peer_cid *pc = &c->peer_cids[i];
      if (pc->in_use && pc->seq < c->peer_retire_prior_to) {
        pc->in_use = 0;
        if ((rv = p2pq_cid_queue_retire(c, pc->seq)) != 0)
          return rv;
        if (pc->path_id >= 0)
          c->paths[pc->path_id].peer_cid_index = -1;
      }
    }
  }
  for (i = 0; i < P2PQ_MAX_PEER_CIDS; i++) {
    if (c->peer_cids[i].in_use)
      active++;
    else if (slot < 0)
      slot = i;
  }
  if ((uint64_t)active >= limit || slot < 0)
    return P2PQ_ERR_CONNECTION_ID_LIMIT;
  p2pq_peer_cid *pc = &c->peer_cids[slot];
  memset(pc, 0, sizeof(*pc));
  pc->cid = f->u.new_cid.cid;
  pc->seq = f->u.new_cid.seq;
  memcpy(pc->reset_token, f->u.new_cid.reset_token, 16);
  pc->has_token = 1;
  pc->in_use = 1;
  pc->path_id = -1;
  /* paths that lost their CID take a fresh one */
  for (i = 0; i < P2PQ_MAX_PATHS; i++)
    if (c->paths[i].in_use && c->paths[i].peer_cid_index < 0)
      p2pq_cid_pick_for_path(c, i);
  return 0;
}

int p2pq_cid_on_retire(p2pq_conn *c, uint64_t seq, const p2pq_cid *pkt_dcid) {
  int i;
  if (seq >= c->next_local_seq)
    return P2PQ_ERR_PROTOCOL;
  for (i = 0; i < P2PQ_MAX_LOCAL_CIDS; i++) {
    p2pq_local_cid *lc = &c->local_cids[i];
    if (!lc->in_use || lc->seq != seq)
      continue;
    if (p2pq_cid_equal(&lc->cid, pkt_dcid))
      return P2PQ_ERR_PROTOCOL; /* can't retire the CID the packet used */
    p2pq_ep_unregister_cid(c->ep, &lc->cid);
    lc->in_use = 0;
    if (i == 0) {
      /* keep slot 0 meaningful as "our current SCID" */
      int j;
      for (j = 1; j < P2PQ_MAX_LOCAL_CIDS; j++)
        if (c->local_cids[j].in_use) {
          c->local_cids[0] = c->local_cids[j];
          c->local_cids[j].in_use = 0;
          break;
        }
    }
    p2pq_cid_issue(c, 0);
    return 0;
  }
  return 0;
}

/* Gives a path its own peer CID (RFC 9000 9.5: no CID reuse across paths). */
int p2pq_cid_pick_for_path(p2pq_conn *c, int path_idx) {
  p2pq_path *p = &c->paths[path_idx];
  int i;
  if (p->peer_cid_index >= 0 && c->peer_cids[p->peer_cid_index].in_use)
    return 0;
  for (i = 0; i < P2PQ_MAX_PEER_CIDS; i++) {
    p2pq_peer_cid *pc = &c->peer_cids[i];
    if (pc->in_use && pc->path_id < 0) {
      pc->path_id = path_idx;
      pc->used = 1;
      p->peer_cid_index = i;
      return 0;
    }
  }
  /* none spare: the path borrows the active path's (p2pq_conn_dcid) until the
   * peer issues more (a zero-length-CID peer, or none yet) */
  return P2PQ_ERR_AGAIN;
}

int p2pq_conn_migrate(p2pq_conn *c, const p2pq_addr *new_local, p2pq_tstamp now) {
  int idx;
  P2PQ_CONN_TOUCH(c);
  if (c->is_server || !c->handshake_confirmed)
    return P2PQ_ERR_STATE;
  if (c->have_peer_tp && c->peer_tp.disable_active_migration)
    return P2PQ_ERR_STATE;
  idx = p2pq_path_new(c, new_local, &c->paths[c->active_path].remote, now);
  if (idx < 0)
    return P2PQ_ERR_LIMIT;
  if (p2pq_cid_pick_for_path(c, idx) != 0) {
    /* RFC 9000 9.5: a new local address needs a connection ID of its own */
    p2pq_path_free(c, idx);
    return P2PQ_ERR_AGAIN;
  }
  p2pq_path_start_validation(c, idx, now);
  p2pq_path_set_active(c, idx, now);
  return 0;
}
