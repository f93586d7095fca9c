/* NAT-PMP client state machine. */
#include <string.h>

#include "nat/natpmp_client.h"
#include "p2pq/error.h"

void p2pq_natpmp_client_cfg_default(p2pq_natpmp_client_cfg *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->op = P2PQ_NATPMP_OP_MAP_UDP;
  cfg->lifetime = 7200;
  cfg->first_wait = 250 * P2PQ_MS;
  cfg->max_sends = 9;
}

int p2pq_natpmp_client_init(p2pq_natpmp_client *c, const p2pq_natpmp_client_cfg *cfg) {
  memset(c, 0, sizeof(*c));
  if (!cfg || cfg->op > 2 || !cfg->first_wait || !cfg->max_sends || cfg->max_sends > 32 ||
      cfg->server.family != 4)
    return P2PQ_ERR_CONFIG; /* NAT-PMP is IPv4 only */
  c->cfg = *cfg;
  return 0;
}

void p2pq_natpmp_client_clear(p2pq_natpmp_client *c) { memset(c, 0, sizeof(*c)); }

static int build(p2pq_natpmp_client *c, uint16_t suggested, uint32_t lifetime) {
  if (c->cfg.op == P2PQ_NATPMP_OP_ADDRESS)
    return p2pq_natpmp_build_address_request(c->req, sizeof(c->req), &c->req_len);
  return p2pq_natpmp_build_map_request(c->cfg.op, c->cfg.internal_port, suggested, lifetime,
                                       c->req, sizeof(c->req), &c->req_len);
}

static int emit(p2pq_natpmp_client *c, uint8_t *out, size_t cap, size_t *out_len) {
  if (!out || !out_len)
    return P2PQ_ERR_INVALID_ARG;
  if (cap < c->req_len)
    return P2PQ_ERR_NOBUF;
  memcpy(out, c->req, c->req_len);
  *out_len = c->req_len;
  c->sent++;
  c->sends++;
  return 0;
}

static int begin(p2pq_natpmp_client *c, int state, uint16_t suggested, uint32_t lifetime,
                 p2pq_tstamp now, uint8_t *out, size_t cap, size_t *out_len) {
  int rc = build(c, suggested, lifetime);
  if (rc)
    return rc;
  c->sent = 0;
  if ((rc = emit(c, out, cap, out_len)))
    return rc;
  c->state = state;
  c->first_sent = now;
  c->wait = c->cfg.first_wait;
  c->next = now + c->wait;
  return 0;
}

int p2pq_natpmp_client_start(p2pq_natpmp_client *c, p2pq_tstamp now, uint8_t *out, size_t cap,
                             size_t *out_len) {
  if (c->state != P2PQ_NATPMP_IDLE && c->state != P2PQ_NATPMP_DONE &&
      c->state != P2PQ_NATPMP_DELETED && c->state != P2PQ_NATPMP_FAILED)
    return P2PQ_ERR_STATE;
  c->last_error = 0;
  return begin(c, P2PQ_NATPMP_REQUESTING, c->cfg.suggested_port, c->cfg.lifetime, now, out,
               cap, out_len);
}

int p2pq_natpmp_client_delete(p2pq_natpmp_client *c, p2pq_tstamp now, uint8_t *out,
                              size_t cap, size_t *out_len) {
  if (c->cfg.op == P2PQ_NATPMP_OP_ADDRESS || c->state == P2PQ_NATPMP_IDLE ||
      c->state == P2PQ_NATPMP_DELETED)
    return P2PQ_ERR_STATE;
  return begin(c, P2PQ_NATPMP_DELETING, 0, 0, now, out, cap, out_len);
}

static int waiting(const p2pq_natpmp_client *c) {
  return c->state == P2PQ_NATPMP_REQUESTING || c->state == P2PQ_NATPMP_RENEWING ||
         c->state == P2PQ_NATPMP_DELETING;
}

/* When the running exchange gives up: after the wait that follows the last
 * send, at max_total, or (renewal) when the mapping expires. */
static p2pq_tstamp give_up_at(const p2pq_natpmp_client *c) {
  p2pq_tstamp g = P2PQ_TSTAMP_MAX;
  if (c->cfg.max_total)
    g = c->first_sent + c->cfg.max_total;
  if (c->state == P2PQ_NATPMP_RENEWING && c->expires < g)
    g = c->expires;
  return g;
}

p2pq_tstamp p2pq_natpmp_client_next_timeout(const p2pq_natpmp_client *c) {
  p2pq_tstamp g;
  if (c->state == P2PQ_NATPMP_MAPPED)
    return c->next;
  if (!waiting(c))
    return P2PQ_TSTAMP_MAX;
  g = give_up_at(c);
  return c->next < g ? c->next : g;
}

static int fail(p2pq_natpmp_client *c, int err) {
  c->state = P2PQ_NATPMP_FAILED;
  c->last_error = err;
  return err;
}

int p2pq_natpmp_client_on_timeout(p2pq_natpmp_client *c, p2pq_tstamp now, uint8_t *out,
                                  size_t cap, size_t *out_len) {
  int rc;
  if (out_len)
    *out_len = 0;
  if (now < p2pq_natpmp_client_next_timeout(c))
    return 0;
  if (c->state == P2PQ_NATPMP_MAPPED) {
    int remap = c->remap;
    c->remap = 0;
    return begin(c, remap ? P2PQ_NATPMP_REQUESTING : P2PQ_NATPMP_RENEWING,
                 c->cfg.suggested_port, c->cfg.lifetime, now, out, cap, out_len);
  }
  if (now >= give_up_at(c) || c->sent >= c->cfg.max_sends)
    return fail(c, P2PQ_ERR_TIMEOUT);
  if ((rc = emit(c, out, cap, out_len)))
    return rc;
  c->wait *= 2;
  c->next += c->wait;
  return 0;
}

/* RFC 6886 3.6: the gateway lost state if its epoch is below the previous one
 * plus 7/8 of the time we saw pass, minus 2 s of slack. */
static int epoch_lost(p2pq_natpmp_client *c, uint32_t epoch, p2pq_tstamp now) {
  int lost = 0;
  if (c->have_epoch) {
    int64_t elapsed = (int64_t)((now - c->epoch_at) / P2PQ_S);
    int64_t expected = (int64_t)c->epoch + elapsed * 7 / 8 - 2;
    lost = (int64_t)epoch < expected;
  }
  c->have_epoch = 1;
  c->epoch = epoch;
  c->epoch_at = now;
  if (lost)
    c->epoch_resets++;
  return lost;
}

/* An address response while we hold a mapping: the gateway's announcement
 * (3.2.1) or an answer to someone's query; a reboot means re-map. */
static int on_announcement(p2pq_natpmp_client *c, const p2pq_natpmp_resp *r, p2pq_tstamp now) {
  if (epoch_lost(c, r->epoch, now) &&
      (c->state == P2PQ_NATPMP_MAPPED || c->state == P2PQ_NATPMP_RENEWING)) {
    c->state = P2PQ_NATPMP_MAPPED;
    c->remap = 1;
    c->next = now;
  }
  return 0;
}

static void mapped(p2pq_natpmp_client *c, const p2pq_natpmp_resp *r, p2pq_tstamp now) {
  p2pq_tstamp life = (p2pq_tstamp)r->lifetime * P2PQ_S;
  c->external_port = r->external_port;
  c->granted = r->lifetime;
  c->expires = now + life;
  c->next = now + life / 2;
  c->state = P2PQ_NATPMP_MAPPED;
}

static int on_answer(p2pq_natpmp_client *c, const p2pq_natpmp_resp *r, p2pq_tstamp now) {
  if (c->state == P2PQ_NATPMP_DONE && r->result == P2PQ_NATPMP_SUCCESS && r->has_body) {
    /* 3.2.1: the gateway announces a new public address (or repeats it). */
    epoch_lost(c, r->epoch, now);
    memcpy(c->external_ip, r->external_ip, 4);
    return 0;
  }
  if (!waiting(c))
    return 0; /* duplicate */
  epoch_lost(c, r->epoch, now);
  c->result = r->result;
  if (r->result != P2PQ_NATPMP_SUCCESS)
    return fail(c, P2PQ_ERR_PORTMAP);
  if (!r->has_body) {
    c->dropped_malformed++;
    return P2PQ_ERR_MALFORMED;
  }
  if (c->cfg.op == P2PQ_NATPMP_OP_ADDRESS) {
    memcpy(c->external_ip, r->external_ip, 4);
    c->state = P2PQ_NATPMP_DONE;
  } else if (c->state == P2PQ_NATPMP_DELETING || r->lifetime == 0) {
    c->state = P2PQ_NATPMP_DELETED;
  } else {
    mapped(c, r, now);
  }
  return 0;
}

int p2pq_natpmp_client_on_recv(p2pq_natpmp_client *c, const uint8_t *p, size_t len,
                               const p2pq_addr *from, p2pq_tstamp now) {
  p2pq_natpmp_resp r;
  int rc;
  if (!from || !p2pq_addr_equal(from, &c->cfg.server)) {
    c->dropped_spoofed++;
    return P2PQ_ERR_SPOOFED;
  }
  rc = p2pq_natpmp_parse_response(p, len, &r);
  if (rc == P2PQ_ERR_UNSUPPORTED && waiting(c))
    return fail(c, P2PQ_ERR_UNSUPPORTED);
  if (rc) {
    c->dropped_malformed++;
    return P2PQ_ERR_MALFORMED;
  }
  if (r.op == P2PQ_NATPMP_OP_ADDRESS && c->cfg.op != P2PQ_NATPMP_OP_ADDRESS)
    return on_announcement(c, &r, now);
  if (r.op != c->cfg.op ||
      (c->cfg.op != P2PQ_NATPMP_OP_ADDRESS && r.has_body &&
       r.internal_port != c->cfg.internal_port)) {
    c->dropped_spoofed++;
    return P2PQ_ERR_SPOOFED;
  }
  return on_answer(c, &r, now);
}
