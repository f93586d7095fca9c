/* PCP MAP client state machine. */
#include <string.h>

#include "nat/pcp_client.h"
#include "p2pq/error.h"

void p2pq_pcp_client_cfg_default(p2pq_pcp_client_cfg *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->protocol = 17;
  cfg->lifetime = 7200;
  cfg->irt = 3 * P2PQ_S;
  cfg->mrt = 1024 * P2PQ_S;
}

int p2pq_pcp_client_init(p2pq_pcp_client *c, const p2pq_pcp_client_cfg *cfg) {
  memset(c, 0, sizeof(*c));
  if (!cfg || !cfg->rand || !cfg->irt || cfg->mrt < cfg->irt)
    return P2PQ_ERR_CONFIG;
  if ((cfg->server.family != 4 && cfg->server.family != 6) ||
      (cfg->client.family != 4 && cfg->client.family != 6))
    return P2PQ_ERR_CONFIG;
  c->cfg = *cfg;
  return 0;
}

void p2pq_pcp_client_clear(p2pq_pcp_client *c) { memset(c, 0, sizeof(*c)); }

/* (1 + RAND) * t with RAND uniform in [-0.1, +0.1], in integer arithmetic. */
static p2pq_tstamp jitter(p2pq_pcp_client *c, p2pq_tstamp t) {
  uint8_t b[2];
  c->cfg.rand(c->cfg.rand_user, b, 2);
  uint64_t u = ((uint64_t)b[0] << 8) | b[1]; /* 0..65535 */
  return t / 1000 * (900 + u * 200 / 65535);
}

static int build_req(p2pq_pcp_client *c, uint32_t lifetime) {
  p2pq_pcp_map_req r;
  memset(&r, 0, sizeof(r));
  r.lifetime = lifetime;
  r.client = c->cfg.client;
  memcpy(r.nonce, c->nonce, sizeof(r.nonce));
  r.protocol = c->cfg.protocol;
  r.internal_port = c->cfg.internal_port;
  r.suggested = c->cfg.suggested;
  return p2pq_pcp_build_map(&r, c->req, sizeof(c->req), &c->req_len);
}

static int emit(p2pq_pcp_client *c, uint8_t *out, size_t cap, size_t *out_len) {
  if (!out || !out_len)
    return P2PQ_ERR_INVALID_ARG;
  if (cap < c->req_len)
    return P2PQ_ERR_NOBUF;
  memcpy(out, c->req, c->req_len);
  *out_len = c->req_len;
  c->sends++;
  return 0;
}

/* Starts an exchange (first send now, RT = (1 + RAND) * IRT). */
static int begin(p2pq_pcp_client *c, int state, uint32_t lifetime, p2pq_tstamp now,
                 uint8_t *out, size_t cap, size_t *out_len) {
  int rc = build_req(c, lifetime);
  if (rc)
    return rc;
  if ((rc = emit(c, out, cap, out_len)))
    return rc;
  c->state = state;
  c->first_sent = now;
  c->rt = jitter(c, c->cfg.irt);
  c->next = now + c->rt;
  return 0;
}

int p2pq_pcp_client_start(p2pq_pcp_client *c, p2pq_tstamp now, uint8_t *out, size_t cap,
                          size_t *out_len) {
  if (c->state != P2PQ_PCP_IDLE && c->state != P2PQ_PCP_DELETED && c->state != P2PQ_PCP_FAILED)
    return P2PQ_ERR_STATE;
  c->cfg.rand(c->cfg.rand_user, c->nonce, sizeof(c->nonce));
  c->last_error = 0;
  return begin(c, P2PQ_PCP_REQUESTING, c->cfg.lifetime, now, out, cap, out_len);
}

int p2pq_pcp_client_delete(p2pq_pcp_client *c, p2pq_tstamp now, uint8_t *out, size_t cap,
                           size_t *out_len) {
  if (c->state == P2PQ_PCP_IDLE || c->state == P2PQ_PCP_DELETED)
    return P2PQ_ERR_STATE;
  return begin(c, P2PQ_PCP_DELETING, 0, now, out, cap, out_len);
}

/* Deadline of the running exchange: max_total for a fresh MAP or delete, the
 * mapping's expiry for a renewal. */
static p2pq_tstamp give_up_at(const p2pq_pcp_client *c) {
  if (c->state == P2PQ_PCP_RENEWING)
    return c->expires;
  if (c->cfg.max_total)
    return c->first_sent + c->cfg.max_total;
  return P2PQ_TSTAMP_MAX;
}

p2pq_tstamp p2pq_pcp_client_next_timeout(const p2pq_pcp_client *c) {
  p2pq_tstamp g;
  switch (c->state) {
  case P2PQ_PCP_MAPPED: return c->next;
  case P2PQ_PCP_REQUESTING:
  case P2PQ_PCP_RENEWING:
  case P2PQ_PCP_DELETING:
    g = give_up_at(c);
    return c->next < g ? c->next : g;
  default: return P2PQ_TSTAMP_MAX;
  }
}

static int fail(p2pq_pcp_client *c, int err) {
  c->state = P2PQ_PCP_FAILED;
  c->last_error = err;
  return err;
}

int p2pq_pcp_client_on_timeout(p2pq_pcp_client *c, p2pq_tstamp now, uint8_t *out, size_t cap,
                               size_t *out_len) {
  p2pq_tstamp rt;
  if (out_len)
    *out_len = 0;
  if (now < p2pq_pcp_client_next_timeout(c))
    return 0;
  if (c->state == P2PQ_PCP_MAPPED) { /* renewal or re-map: same nonce, 11.2.1 */
    int remap = c->remap;
    c->remap = 0;
    return begin(c, remap ? P2PQ_PCP_REQUESTING : P2PQ_PCP_RENEWING, c->cfg.lifetime, now,
                 out, cap, out_len);
  }
  if (now >= give_up_at(c))
    return fail(c, P2PQ_ERR_TIMEOUT);
  /* RT = (1 + RAND) * MIN(2 * RTprev, MRT) */
  rt = 2 * c->rt < c->cfg.mrt ? 2 * c->rt : c->cfg.mrt;
  int rc = emit(c, out, cap, out_len);
  if (rc)
    return rc;
  c->rt = jitter(c, rt);
  c->next = c->next + c->rt;
  return 0;
}

/* RFC 6887 8.5: with client delta C and server delta S (seconds) the server
 * lost state if S + 2 < C - C/16 or C + 2 < S - S/16, or the epoch went back. */
static int epoch_lost(p2pq_pcp_client *c, uint32_t epoch, p2pq_tstamp now) {
  int lost = 0;
  if (c->have_epoch) {
    uint64_t cd = (now - c->epoch_at) / P2PQ_S;
    if (epoch < c->epoch) {
      lost = 1;
    } else {
      uint64_t sd = epoch - c->epoch;
      lost = (sd + 2 < cd - cd / 16) || (cd + 2 < sd - sd / 16);
    }
  }
  c->have_epoch = 1;
  c->epoch = epoch;
  c->epoch_at = now;
  if (lost)
    c->epoch_resets++;
  return lost;
}

/* Renew at a random point between 1/2 and 5/8 of the granted lifetime. */
static void schedule_renewal(p2pq_pcp_client *c, p2pq_tstamp now) {
  p2pq_tstamp life = (p2pq_tstamp)c->granted * P2PQ_S;
  uint8_t b[2];
  c->cfg.rand(c->cfg.rand_user, b, 2);
  uint64_t u = ((uint64_t)b[0] << 8) | b[1];
  c->expires = now + life;
  c->next = now + life / 2 + life / 8 / 65535 * u;
  c->state = P2PQ_PCP_MAPPED;
}

static int on_announce(p2pq_pcp_client *c, const p2pq_pcp_resp *r, p2pq_tstamp now) {
  if (r->result != P2PQ_PCP_SUCCESS)
    return 0;
  if (epoch_lost(c, r->epoch, now) &&
      (c->state == P2PQ_PCP_MAPPED || c->state == P2PQ_PCP_RENEWING)) {
    /* The server restarted and lost the mapping: map again at once. */
    c->state = P2PQ_PCP_MAPPED;
    c->remap = 1;
    c->next = now;
  }
  return 0;
}

static int matches(const p2pq_pcp_client *c, const p2pq_pcp_resp *r) {
  return r->has_map && memcmp(r->nonce, c->nonce, sizeof(c->nonce)) == 0 &&
         r->protocol == c->cfg.protocol && r->internal_port == c->cfg.internal_port;
}

static int on_map(p2pq_pcp_client *c, const p2pq_pcp_resp *r, p2pq_tstamp now) {
  int waiting = c->state == P2PQ_PCP_REQUESTING || c->state == P2PQ_PCP_RENEWING ||
                c->state == P2PQ_PCP_DELETING;
  if (!matches(c, r)) {
    c->dropped_spoofed++;
    return P2PQ_ERR_SPOOFED;
  }
  if (!waiting)
    return 0; /* duplicate answer */
  epoch_lost(c, r->epoch, now); /* this answer itself re-creates the mapping */
  c->result = r->result;
  if (r->result != P2PQ_PCP_SUCCESS) {
    c->error_lifetime = r->lifetime; /* RFC 6887 7.2: retry no sooner than this */
    return fail(c, P2PQ_ERR_PORTMAP);
  }
  if (c->state == P2PQ_PCP_DELETING || r->lifetime == 0) {
    c->state = P2PQ_PCP_DELETED;
    return 0;
  }
  c->external = r->external;
  c->granted = r->lifetime;
  schedule_renewal(c, now);
  return 0;
}

int p2pq_pcp_client_on_recv(p2pq_pcp_client *c, const uint8_t *p, size_t len,
                            const p2pq_addr *from, p2pq_tstamp now) {
  p2pq_pcp_resp r;
  int rc;
  if (!from || !p2pq_addr_equal_ip(from, &c->cfg.server)) {
    c->dropped_spoofed++;
    return P2PQ_ERR_SPOOFED;
  }
  rc = p2pq_pcp_parse_response(p, len, &r);
  if (rc == P2PQ_ERR_UNSUPPORTED && r.result == P2PQ_PCP_UNSUPP_VERSION &&
      c->state == P2PQ_PCP_REQUESTING && from->port == c->cfg.server.port) {
    c->result = r.result;
    return fail(c, P2PQ_ERR_UNSUPPORTED);
  }
  if (rc) {
    c->dropped_malformed++;
    return P2PQ_ERR_MALFORMED;
  }
  if (r.opcode == P2PQ_PCP_OP_ANNOUNCE)
    return on_announce(c, &r, now);
  if (r.opcode != P2PQ_PCP_OP_MAP || from->port != c->cfg.server.port) {
    c->dropped_spoofed++;
    return P2PQ_ERR_SPOOFED;
  }
  return on_map(c, &r, now);
}
