/* Binding transaction: retransmission per RFC 8489 6.2.1 (RTO doubling, Rc
 * sends, final wait Rm * RTO), response matching per 6.3.3. */
#include <string.h>

#include "nat/stun_client.h"
#include "p2pq/error.h"

void p2pq_stun_client_cfg_default(p2pq_stun_client_cfg *cfg) {
  memset(cfg, 0, sizeof(*cfg)); /* no stray CHANGE-REQUEST or expect_from */
  cfg->rto = 500 * P2PQ_MS;
  cfg->rc = 7;
  cfg->rm = 16;
  cfg->fingerprint = 1;
}

int p2pq_stun_client_init(p2pq_stun_client *c, const p2pq_stun_client_cfg *cfg,
                          const p2pq_addr *server) {
  memset(c, 0, sizeof(*c));
  if (cfg)
    c->cfg = *cfg;
  else
    p2pq_stun_client_cfg_default(&c->cfg);
  if (!c->cfg.rto || !c->cfg.rc || !c->cfg.rm || c->cfg.rc > 32)
    return P2PQ_ERR_CONFIG;
  if (!server || (server->family != 4 && server->family != 6))
    return P2PQ_ERR_INVALID_ARG;
  c->server = *server;
  return 0;
}

void p2pq_stun_client_clear(p2pq_stun_client *c) { memset(c, 0, sizeof(*c)); }

static int copy_out(const p2pq_stun_client *c, uint8_t *out, size_t cap, size_t *out_len) {
  if (cap < c->req_len)
    return P2PQ_ERR_NOBUF;
  memcpy(out, c->req, c->req_len);
  *out_len = c->req_len;
  return 0;
}

/* Schedules the wait after a send: RTO doubling, but Rm * RTO after the last. */
static void after_send(p2pq_stun_client *c, p2pq_tstamp now) {
  c->sent++;
  if (c->sent >= c->cfg.rc) {
    c->next = now + (p2pq_tstamp)c->cfg.rm * c->cfg.rto;
  } else {
    c->next = now + c->cur_rto;
    c->cur_rto *= 2;
  }
}

int p2pq_stun_client_start(p2pq_stun_client *c, p2pq_tstamp now, p2pq_rand_fn rand,
                           void *rand_user, uint8_t *out, size_t cap, size_t *out_len) {
  p2pq_stun_builder b;
  int n;
  if (!rand || !out || !out_len)
    return P2PQ_ERR_INVALID_ARG;
  if (c->state == P2PQ_STUN_CLIENT_RUNNING)
    return P2PQ_ERR_STATE;
  rand(rand_user, c->txid, sizeof(c->txid));
  p2pq_stun_build_init(&b, c->req, sizeof(c->req), P2PQ_STUN_METHOD_BINDING,
                       P2PQ_STUN_REQUEST, c->txid);
  if (c->cfg.change_request)
    p2pq_stun_build_u32(&b, P2PQ_STUN_ATTR_CHANGE_REQUEST, c->cfg.change_request);
  if (c->cfg.fingerprint)
    p2pq_stun_build_fingerprint(&b);
  n = p2pq_stun_build_finish(&b);
  if (n < 0)
    return n;
  c->req_len = (size_t)n;
  n = copy_out(c, out, cap, out_len);
  if (n)
    return n;
  c->state = P2PQ_STUN_CLIENT_RUNNING;
  c->sent = 0;
  c->cur_rto = c->cfg.rto;
  c->error_code = 0;
  c->last_error = 0;
  after_send(c, now);
  return 0;
}

static int fail(p2pq_stun_client *c, int err) {
  c->state = P2PQ_STUN_CLIENT_FAILED;
  c->last_error = err;
  return err;
}

/* A response that matched our transaction: success, error, or unusable. */
static int on_match(p2pq_stun_client *c, const p2pq_stun_msg *m, p2pq_addr *mapped) {
  if (m->n_unknown_required)
    return fail(c, P2PQ_ERR_STUN); /* RFC 8489 6.3.3: the transaction failed */
  if (m->cls == P2PQ_STUN_ERROR) {
    c->error_code = (m->present & P2PQ_STUN_HAS_ERROR_CODE) ? m->error_code : 0;
    return fail(c, P2PQ_ERR_STUN);
  }
  if (m->present & P2PQ_STUN_HAS_XOR_MAPPED)
    c->mapped = m->xor_mapped;
  else if (m->present & P2PQ_STUN_HAS_MAPPED) /* RFC 3489 servers */
    c->mapped = m->mapped;
  else
    return fail(c, P2PQ_ERR_MALFORMED);
  if (m->present & P2PQ_STUN_HAS_OTHER_ADDRESS)
    c->other_address = m->other_address;
  if (m->present & P2PQ_STUN_HAS_RESPONSE_ORIGIN)
    c->response_origin = m->response_origin;
  c->state = P2PQ_STUN_CLIENT_DONE;
  if (mapped)
    *mapped = c->mapped;
  return 0;
}

/* With a CHANGE-REQUEST the answer comes, by design, from the server's other
 * address: the source check then only wants the same family. */
static int source_ok(const p2pq_stun_client *c, const p2pq_addr *from) {
  if (!from)
    return 0;
  if (c->cfg.change_request && c->cfg.expect_from.family)
    return p2pq_addr_equal(from, &c->cfg.expect_from);
  if (c->cfg.change_request)
    return from->family == c->server.family && !p2pq_addr_equal(from, &c->server);
  return p2pq_addr_equal(from, &c->server);
}

int p2pq_stun_client_on_recv(p2pq_stun_client *c, const uint8_t *p, size_t len,
                             const p2pq_addr *from, p2pq_tstamp now, p2pq_addr *mapped) {
  p2pq_stun_msg m;
  (void)now;
  if (c->state != P2PQ_STUN_CLIENT_RUNNING)
    return P2PQ_ERR_STATE;
  if (p2pq_stun_decode(&m, p, len) != 0 || m.method != P2PQ_STUN_METHOD_BINDING ||
      (m.cls != P2PQ_STUN_SUCCESS && m.cls != P2PQ_STUN_ERROR)) {
    c->dropped_malformed++;
    return P2PQ_ERR_MALFORMED;
  }
  if (memcmp(m.txid, c->txid, sizeof(c->txid)) != 0 || !source_ok(c, from)) {
    c->dropped_spoofed++;
    return P2PQ_ERR_SPOOFED;
  }
  return on_match(c, &m, mapped);
}

p2pq_tstamp p2pq_stun_client_next_timeout(const p2pq_stun_client *c) {
  return c->state == P2PQ_STUN_CLIENT_RUNNING ? c->next : P2PQ_TSTAMP_MAX;
}

int p2pq_stun_client_on_timeout(p2pq_stun_client *c, p2pq_tstamp now, uint8_t *out,
                                size_t cap, size_t *out_len) {
  int rc;
  if (out_len)
    *out_len = 0;
  if (c->state != P2PQ_STUN_CLIENT_RUNNING || now < c->next)
    return 0;
  if (c->sent >= c->cfg.rc) {
    c->state = P2PQ_STUN_CLIENT_TIMEOUT;
    c->last_error = P2PQ_ERR_TIMEOUT;
    return P2PQ_ERR_TIMEOUT;
  }
  if (!out || !out_len)
    return P2PQ_ERR_INVALID_ARG;
  rc = copy_out(c, out, cap, out_len);
  if (rc)
    return rc;
  /* Schedule from the deadline, not from a late wake-up, so the total stays exact. */
  after_send(c, c->next);
  return 0;
}

p2pq_nat_mapping p2pq_stun_mapping_behaviour(const p2pq_addr *local, const p2pq_addr *server1,
                                             const p2pq_addr *mapped1,
                                             const p2pq_addr *server2,
                                             const p2pq_addr *mapped2) {
  if (!mapped1 || !mapped1->family)
    return P2PQ_NAT_MAPPING_UNKNOWN;
  if (local && local->family && p2pq_addr_equal(local, mapped1))
    return P2PQ_NAT_MAPPING_NONE;
  if (!server1 || !server2 || !mapped2 || !mapped2->family)
    return P2PQ_NAT_MAPPING_UNKNOWN;
  /* Only a second server at another IP address can reveal address dependence. */
  if (p2pq_addr_equal_ip(server1, server2))
    return P2PQ_NAT_MAPPING_UNKNOWN;
  return p2pq_addr_equal(mapped1, mapped2) ? P2PQ_NAT_MAPPING_ENDPOINT_INDEPENDENT
                                           : P2PQ_NAT_MAPPING_DEPENDENT;
}

p2pq_nat_filtering p2pq_stun_filtering_behaviour(int test2_answered, int test3_answered) {
  if (test2_answered)
    return P2PQ_NAT_FILTERING_ENDPOINT_INDEPENDENT;
  return test3_answered ? P2PQ_NAT_FILTERING_ADDRESS_DEPENDENT
                        : P2PQ_NAT_FILTERING_ADDRESS_PORT_DEPENDENT;
}
