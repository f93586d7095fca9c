/* The sans-I/O endpoint: many connections behind one address, demultiplexed by
 * connection ID; accepting new connections (with Retry when asked), version
 * negotiation and stateless reset (RFC 9000 5.2, 6, 8.1, 10.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/initial.h"
#include "crypto/retry.h"
#include "quic/conn_internal.h"
#include "quic/qlog.h"

#define EP_STATELESS_MAX 16
#define TOKEN_LIFETIME (10 * P2PQ_S)

typedef struct cid_slot {
  p2pq_cid cid;
  p2pq_conn *conn; /* NULL: empty; TOMBSTONE: deleted */
} cid_slot;

static p2pq_conn tombstone_conn;
#define TOMBSTONE (&tombstone_conn)

typedef struct stateless_pkt {
  p2pq_addr local, remote;
  size_t len;
  uint8_t data[P2PQ_MIN_INITIAL_SIZE];
} stateless_pkt;

struct p2pq_endpoint {
  p2pq_config cfg;
  p2pq_conn *conns;
  p2pq_conn *next_send; /* round-robin cursor */
  size_t nconns;
  cid_slot *cids;
  size_t cid_cap, cid_live, cid_tomb;
  p2pq_event *events;
  size_t ev_head, ev_n, ev_cap;
  stateless_pkt out[EP_STATELESS_MAX];
  size_t out_n;
  uint8_t reset_key[32];
  p2pq_token_key token_key;
  uint8_t scratch[65536];
  uint8_t probe[65536];      /* trial decryption of first Initials */
  p2pq_tstamp last_now;
};

void p2pq_settings_default(p2pq_settings *s) {
  memset(s, 0, sizeof(*s));
  s->address_discovery = -1;
}

static void fill_defaults(p2pq_settings *s) {
  if (!s->initial_max_data) s->initial_max_data = 1u << 20;
  if (!s->initial_max_stream_data) s->initial_max_stream_data = 256u << 10;
  if (!s->max_data_window) s->max_data_window = 24u << 20;
  if (!s->max_stream_window) s->max_stream_window = 16u << 20;
  if (s->max_data_window < s->initial_max_data) s->max_data_window = s->initial_max_data;
  if (s->max_stream_window < s->initial_max_stream_data)
    s->max_stream_window = s->initial_max_stream_data;
  if (!s->initial_max_streams_bidi) s->initial_max_streams_bidi = 100;
  if (!s->initial_max_streams_uni) s->initial_max_streams_uni = 100;
  if (!s->idle_timeout_ms) s->idle_timeout_ms = 30000;
  if (!s->handshake_timeout_ms) s->handshake_timeout_ms = 10000;
  if (!s->max_ack_delay_ms) s->max_ack_delay_ms = 25;
  if (!s->active_cid_limit) s->active_cid_limit = 4;
  if (s->active_cid_limit > P2PQ_MAX_PEER_CIDS / 2) s->active_cid_limit = P2PQ_MAX_PEER_CIDS / 2;
  if (s->active_cid_limit < 2) s->active_cid_limit = 2;
  if (!s->initial_rtt_ms) s->initial_rtt_ms = 333;
  if (!s->max_udp_payload) s->max_udp_payload = 1452;
  if (s->max_udp_payload > P2PQ_MAX_PKT) s->max_udp_payload = P2PQ_MAX_PKT;
  if (s->max_udp_payload < P2PQ_MIN_INITIAL_SIZE) s->max_udp_payload = P2PQ_MIN_INITIAL_SIZE;
  if (!s->cc) s->cc = "cubic";
}

int p2pq_endpoint_new(p2pq_endpoint **out, const p2pq_config *cfg) {
  p2pq_endpoint *ep;
  uint8_t tk[32];
  if (cfg == NULL || cfg->rand == NULL || cfg->creds == NULL || cfg->n_alpn == 0)
    return P2PQ_ERR_CONFIG;
  if (cfg->cid_len > P2PQ_MAX_CIDLEN || (cfg->cid_len != 0 && cfg->cid_len < 4))
    return P2PQ_ERR_CONFIG;
  ep = calloc(1, sizeof(*ep));
  if (ep == NULL)
    return P2PQ_ERR_NOMEM;
  ep->cfg = *cfg;
  if (ep->cfg.cid_len == 0)
    ep->cfg.cid_len = 8;
  if (ep->cfg.max_connections == 0)
    ep->cfg.max_connections = 1024;
  fill_defaults(&ep->cfg.settings);
  cfg->rand(cfg->rand_user, ep->reset_key, sizeof(ep->reset_key));
  cfg->rand(cfg->rand_user, tk, sizeof(tk));
  if (p2pq_token_key_init(&ep->token_key, tk) != 0) {
    free(ep);
    return P2PQ_ERR_CRYPTO;
  }
  memset(tk, 0, sizeof(tk));
  *out = ep;
  return 0;
}

void p2pq_endpoint_free(p2pq_endpoint *ep) {
  if (ep == NULL)
    return;
  while (ep->conns != NULL)
    p2pq_conn_free(ep->conns);
  p2pq_token_key_clear(&ep->token_key);
  free(ep->cids);
  free(ep->events);
  free(ep);
}

void p2pq_ep_random(p2pq_endpoint *ep, uint8_t *out, size_t len) {
  ep->cfg.rand(ep->cfg.rand_user, out, len);
}

const p2pq_config *p2pq_ep_config(const p2pq_endpoint *ep) { return &ep->cfg; }

void p2pq_ep_reset_token(p2pq_endpoint *ep, const p2pq_cid *cid, uint8_t token[16]) {
  p2pq_stateless_reset_token(ep->reset_key, cid->data, cid->len, token);
}

/* ---- CID table: open addressing, linear probing ---- */

static uint64_t cid_hash(const p2pq_cid *c) {
  uint64_t h = 1469598103934665603ull;
  size_t i;
  for (i = 0; i < c->len; i++)
    h = (h ^ c->data[i]) * 1099511628211ull;
  return h;
}

static cid_slot *cid_lookup(const p2pq_endpoint *ep, const p2pq_cid *cid) {
  size_t i, mask;
  if (ep->cid_cap == 0)
    return NULL;
  mask = ep->cid_cap - 1;
  for (i = cid_hash(cid) & mask;; i = (i + 1) & mask) {
    cid_slot *s = &ep->cids[i];
    if (s->conn == NULL)
      return NULL;
    if (s->conn != TOMBSTONE && p2pq_cid_equal(&s->cid, cid))
      return s;
  }
}

static void cid_insert(p2pq_endpoint *ep, const p2pq_cid *cid, p2pq_conn *c) {
  size_t i, mask = ep->cid_cap - 1;
  for (i = cid_hash(cid) & mask;; i = (i + 1) & mask) {
    cid_slot *s = &ep->cids[i];
    if (s->conn == NULL || s->conn == TOMBSTONE) {
      if (s->conn == TOMBSTONE)
        ep->cid_tomb--;
      s->cid = *cid;
      s->conn = c;
      ep->cid_live++;
      return;
    }
  }
}

/* Rebuilds the table at a size fit for the live entries: tombstones left by
 * junk that never became a connection must not grow it (memory an attacker
 * would control). */
static int cid_rehash(p2pq_endpoint *ep) {
  size_t ncap = ep->cid_cap ? ep->cid_cap : 64, i, ocap = ep->cid_cap;
  cid_slot *old = ep->cids, *n;
  while ((ep->cid_live + 1) * 4 > ncap)
    ncap *= 2;
  n = calloc(ncap, sizeof(*n));
  if (n == NULL)
    return P2PQ_ERR_NOMEM;
  ep->cids = n;
  ep->cid_cap = ncap;
  ep->cid_live = ep->cid_tomb = 0;
  for (i = 0; i < ocap; i++)
    if (old[i].conn != NULL && old[i].conn != TOMBSTONE)
      cid_insert(ep, &old[i].cid, old[i].conn);
  free(old);
  return 0;
}

int p2pq_ep_register_cid(p2pq_endpoint *ep, const p2pq_cid *cid, p2pq_conn *c) {
  if ((ep->cid_live + ep->cid_tomb + 1) * 2 > ep->cid_cap && cid_rehash(ep) != 0)
    return P2PQ_ERR_NOMEM;
  if (cid_lookup(ep, cid) != NULL)
    return P2PQ_ERR_EXISTS;
  cid_insert(ep, cid, c);
  return 0;
}

void p2pq_ep_unregister_cid(p2pq_endpoint *ep, const p2pq_cid *cid) {
  cid_slot *s = cid_lookup(ep, cid);
  if (s == NULL)
    return; /* CIDs are random and collision-checked: one owner */
  ep->cid_live--;
  if (ep->cids[(size_t)(s - ep->cids + 1) & (ep->cid_cap - 1)].conn == NULL) {
    s->conn = NULL; /* end of a probe chain: no tombstone needed */
  } else {
    s->conn = TOMBSTONE;
    ep->cid_tomb++;
  }
}

/* ---- events ---- */

void p2pq_ep_push_event(p2pq_endpoint *ep, const p2pq_event *ev) {
  if (ep->ev_n == ep->ev_cap) {
    size_t ncap = ep->ev_cap ? ep->ev_cap * 2 : 64, i;
    p2pq_event *n = malloc(ncap * sizeof(*n));
    if (n == NULL)
      return; /* events are advisory except CLOSED, which is re-derivable */
    for (i = 0; i < ep->ev_n; i++)
      n[i] = ep->events[(ep->ev_head + i) % ep->ev_cap];
    free(ep->events);
    ep->events = n;
    ep->ev_cap = ncap;
    ep->ev_head = 0;
  }
  ep->events[(ep->ev_head + ep->ev_n) % ep->ev_cap] = *ev;
  ep->ev_n++;
}

int p2pq_endpoint_poll_event(p2pq_endpoint *ep, p2pq_event *ev) {
  if (ep->ev_n == 0)
    return 0;
  *ev = ep->events[ep->ev_head];
  ep->ev_head = (ep->ev_head + 1) % ep->ev_cap;
  ep->ev_n--;
  return 1;
}

/* Drops queued events of a connection being freed so none dangles. */
static void purge_events(p2pq_endpoint *ep, p2pq_conn *c) {
  size_t i, w = 0;
  for (i = 0; i < ep->ev_n; i++) {
    p2pq_event *e = &ep->events[(ep->ev_head + i) % ep->ev_cap];
    if (e->conn != c)
      ep->events[(ep->ev_head + w++) % ep->ev_cap] = *e;
  }
  ep->ev_n = w;
}

void p2pq_ep_detach(p2pq_endpoint *ep, p2pq_conn *c) {
  p2pq_conn **pp;
  for (pp = &ep->conns; *pp != NULL; pp = &(*pp)->next_in_ep)
    if (*pp == c) {
      *pp = c->next_in_ep;
      ep->nconns--;
      break;
    }
  if (ep->next_send == c)
    ep->next_send = c->next_in_ep;
  purge_events(ep, c);
}

static void attach(p2pq_endpoint *ep, p2pq_conn *c) {
  c->next_in_ep = ep->conns;
  ep->conns = c;
  ep->nconns++;
}

/* ---- connection setup ---- */

static int init_local_cid(p2pq_conn *c) {
  p2pq_local_cid *lc = &c->local_cids[0];
  lc->cid.len = (uint8_t)c->ep->cfg.cid_len;
  do {
    p2pq_ep_random(c->ep, lc->cid.data, lc->cid.len);
  } while (cid_lookup(c->ep, &lc->cid) != NULL);
  lc->seq = c->next_local_seq++;
  p2pq_ep_reset_token(c->ep, &lc->cid, lc->reset_token);
  lc->in_use = 1;
  return p2pq_ep_register_cid(c->ep, &lc->cid, c);
}

int p2pq_endpoint_connect(p2pq_endpoint *ep, p2pq_conn **out, const p2pq_addr *local,
                          const p2pq_addr *remote, const char *sni, p2pq_tstamp now) {
  p2pq_conn *c;
  int rv, pi;
  if (ep->cfg.is_server)
    return P2PQ_ERR_STATE;
  c = p2pq_conn_alloc(ep, 0, now);
  if (c == NULL)
    return P2PQ_ERR_NOMEM;
  attach(ep, c);
  pi = p2pq_path_new(c, local, remote, now);
  if (pi < 0 || (rv = init_local_cid(c)) != 0) {
    p2pq_conn_free(c);
    return P2PQ_ERR_NOMEM;
  }
  c->active_path = pi;
  c->paths[pi].is_active = 1;
  c->paths[pi].validated = 1; /* the client chose this address */
  /* RFC 9000 7.2: a random DCID of at least 8 bytes */
  c->odcid.len = 8;
  p2pq_ep_random(ep, c->odcid.data, 8);
  c->peer_cids[0].cid = c->odcid;
  c->peer_cids[0].in_use = 1;
  c->peer_cids[0].used = 1;
  c->peer_cids[0].path_id = pi;
  c->paths[pi].peer_cid_index = 0;
  c->peer_cid_from_initial = 1;
  p2pq_qlog_start(c, now);
  if ((rv = p2pq_conn_derive_initial(c, &c->odcid)) != 0 ||
      (rv = p2pq_conn_tls_init(c, sni)) != 0) {
    p2pq_conn_free(c);
    return rv;
  }
  *out = c;
  return 0;
}

/* ---- stateless replies ---- */

static stateless_pkt *out_slot(p2pq_endpoint *ep, const p2pq_addr *local,
                               const p2pq_addr *remote) {
  stateless_pkt *s;
  if (ep->out_n == EP_STATELESS_MAX)
    return NULL; /* bounded: excess stateless replies are simply not sent */
  s = &ep->out[ep->out_n];
  if (local != NULL)
    s->local = *local;
  else
    memset(&s->local, 0, sizeof(s->local));
  s->remote = *remote;
  return s;
}

int p2pq_endpoint_queue_raw(p2pq_endpoint *ep, const uint8_t *data, size_t len,
                            const p2pq_addr *local, const p2pq_addr *remote) {
  stateless_pkt *s;
  if (len > sizeof(s->data))
    return P2PQ_ERR_NOBUF;
  s = out_slot(ep, local, remote);
  if (s == NULL)
    return P2PQ_ERR_AGAIN;
  memcpy(s->data, data, len);
  s->len = len;
  ep->out_n++;
  return 0;
}

static void send_vn(p2pq_endpoint *ep, const p2pq_pkt_hdr *h, const p2pq_addr *local,
                    const p2pq_addr *remote) {
  static const uint32_t versions[] = {P2PQ_QUIC_V1, 0x1a2a3a4a /* grease */};
  stateless_pkt *s = out_slot(ep, local, remote);
  p2pq_wr w;
  uint8_t rb;
  if (s == NULL)
    return;
  p2pq_ep_random(ep, &rb, 1);
  p2pq_wr_init(&w, s->data, sizeof(s->data));
  /* RFC 9000 17.2.1: echo the client's CIDs swapped */
  if (p2pq_pkt_write_vn(&w, &h->scid, &h->dcid, versions, 2, rb) == 0) {
    s->len = (size_t)(w.p - s->data);
    ep->out_n++;
  }
}

/* Token: sealed (client address, odcid, expiry); the address is AEAD data. */
static int make_retry_token(p2pq_endpoint *ep, const p2pq_addr *remote, const p2pq_cid *odcid,
                            p2pq_tstamp now, uint8_t *out, size_t cap) {
  uint8_t plain[1 + P2PQ_MAX_CIDLEN + 8], nonce[12];
  p2pq_wr w;
  p2pq_wr_init(&w, plain, sizeof(plain));
  p2pq_wr_u8(&w, odcid->len);
  p2pq_wr_bytes(&w, odcid->data, odcid->len);
  p2pq_wr_u64(&w, now + TOKEN_LIFETIME);
  p2pq_ep_random(ep, nonce, sizeof(nonce));
  return p2pq_token_seal_ad(&ep->token_key, nonce, (const uint8_t *)remote, sizeof(*remote),
                            plain, (size_t)(w.p - plain), out, cap);
}

static int check_retry_token(p2pq_endpoint *ep, const p2pq_pkt_hdr *h, const p2pq_addr *remote,
                             p2pq_tstamp now, p2pq_cid *odcid) {
  uint8_t plain[64];
  uint64_t expiry;
  uint8_t n;
  p2pq_rd r;
  int len = p2pq_token_open_ad(&ep->token_key, (const uint8_t *)remote, sizeof(*remote),
                               h->token, h->token_len, plain, sizeof(plain));
  if (len < 0)
    return P2PQ_ERR_INVALID_TOKEN;
  p2pq_rd_init(&r, plain, (size_t)len);
  if (p2pq_rd_u8(&r, &n) != 0 || n > P2PQ_MAX_CIDLEN || p2pq_rd_copy(&r, odcid->data, n) != 0 ||
      p2pq_rd_u64(&r, &expiry) != 0 || expiry < now)
    return P2PQ_ERR_INVALID_TOKEN;
  odcid->len = n;
  return 0;
}

static void send_retry(p2pq_endpoint *ep, const p2pq_pkt_hdr *h, const p2pq_addr *local,
                       const p2pq_addr *remote, p2pq_tstamp now) {
  stateless_pkt *s = out_slot(ep, local, remote);
  uint8_t token[128];
  p2pq_cid scid;
  p2pq_wr w;
  int tlen;
  size_t len;
  if (s == NULL)
    return;
  tlen = make_retry_token(ep, remote, &h->dcid, now, token, sizeof(token));
  if (tlen < 0)
    return;
  scid.len = (uint8_t)ep->cfg.cid_len;
  p2pq_ep_random(ep, scid.data, scid.len);
  p2pq_wr_init(&w, s->data, sizeof(s->data) - P2PQ_RETRY_TAG_LEN);
  if (p2pq_pkt_write_retry(&w, h->version, &h->scid, &scid, token, (size_t)tlen) != 0)
    return;
  len = (size_t)(w.p - s->data);
  if (p2pq_retry_tag(h->version, h->dcid.data, h->dcid.len, s->data, len, s->data + len) != 0)
    return;
  s->len = len + P2PQ_RETRY_TAG_LEN;
  ep->out_n++;
}

static void send_stateless_reset(p2pq_endpoint *ep, const p2pq_cid *dcid, size_t in_len,
                                 const p2pq_addr *local, const p2pq_addr *remote) {
  stateless_pkt *s;
  size_t len;
  /* RFC 9000 10.3: smaller than what triggered it, at least 21 bytes, so that
   * two endpoints can't loop */
  if (in_len <= 21 + 1 || ep->cfg.cid_len == 0)
    return;
  s = out_slot(ep, local, remote);
  if (s == NULL)
    return;
  len = in_len - 1 < 43 ? in_len - 1 : 43;
  p2pq_ep_random(ep, s->data, len - 16);
  s->data[0] = (uint8_t)((s->data[0] & 0x3f) | 0x40);
  p2pq_ep_reset_token(ep, dcid, s->data + len - 16);
  s->len = len;
  ep->out_n++;
}

/* Does the first packet decrypt with the Initial keys of its DCID? Checked
 * before any state is allocated, so junk costs a key derivation, not a
 * connection (the check works on a copy: the real one decrypts in place). */
static int initial_authentic(p2pq_endpoint *ep, const p2pq_pkt_hdr *h, const uint8_t *pkt) {
  p2pq_pp_key rx, tx;
  uint64_t pn;
  size_t pn_len;
  int rv;
  memset(&rx, 0, sizeof(rx));
  memset(&tx, 0, sizeof(tx));
  if (h->pkt_len > sizeof(ep->probe))
    return 0;
  if (p2pq_initial_keys(h->version, h->dcid.data, h->dcid.len, 1, &rx, &tx) != 0)
    return 0;
  memcpy(ep->probe, pkt, h->pkt_len);
  rv = p2pq_pp_unprotect(&rx, ep->probe, h->pkt_len, h->pn_offset, UINT64_MAX, &pn, &pn_len);
  p2pq_pp_key_clear(&rx);
  p2pq_pp_key_clear(&tx);
  return rv >= 0;
}

static int accept_conn(p2pq_endpoint *ep, const p2pq_pkt_hdr *h, uint8_t *data, size_t len,
                       const p2pq_addr *local, const p2pq_addr *remote, int ecn,
                       p2pq_tstamp now) {
  p2pq_cid odcid = h->dcid;
  p2pq_conn *c;
  int pi, rv, retried = 0;
  if (len < P2PQ_MIN_INITIAL_SIZE || h->dcid.len < 8)
    return P2PQ_ERR_MALFORMED; /* RFC 9000 14.1 / 7.2 */
  if (!initial_authentic(ep, h, data))
    return P2PQ_ERR_DECRYPT;
  if (ep->nconns >= ep->cfg.max_connections)
    return P2PQ_ERR_LIMIT;
  if (ep->cfg.settings.retry) {
    if (h->token_len == 0) {
      send_retry(ep, h, local, remote, now);
      return 0;
    }
    if (check_retry_token(ep, h, remote, now, &odcid) != 0)
      return P2PQ_ERR_INVALID_TOKEN; /* RFC 9000 8.1.3: may drop */
    retried = 1;
  }
  c = p2pq_conn_alloc(ep, 1, now);
  if (c == NULL)
    return P2PQ_ERR_NOMEM;
  attach(ep, c);
  pi = p2pq_path_new(c, local, remote, now);
  if (pi < 0 || init_local_cid(c) != 0) {
    p2pq_conn_free(c);
    return P2PQ_ERR_NOMEM;
  }
  c->active_path = pi;
  c->paths[pi].is_active = 1;
  c->paths[pi].validated = retried; /* a valid Retry token proves the address */
  c->odcid = odcid;
  if (retried) {
    c->got_retry = 1;
    c->retry_scid = h->dcid;
  }
  c->peer_cids[0].cid = h->scid;
  c->peer_cids[0].in_use = 1;
  c->peer_cids[0].used = 1;
  c->peer_cids[0].path_id = pi;
  c->paths[pi].peer_cid_index = 0;
  /* packets to the client's chosen DCID reach this connection too */
  p2pq_ep_register_cid(ep, &h->dcid, c);
  if ((rv = p2pq_conn_derive_initial(c, &h->dcid)) != 0 ||
      (rv = p2pq_conn_tls_init(c, NULL)) != 0) {
    p2pq_ep_unregister_cid(ep, &h->dcid);
    p2pq_conn_free(c);
    return rv;
  }
  p2pq_qlog_start(c, now);
  p2pq_conn_push_event(c, P2PQ_EV_CONN_NEW, 0, 0, remote);
  rv = p2pq_conn_on_udp(c, data, len, local, remote, ecn, now);
  if (c->state == CONN_HANDSHAKE && c->stats.pkts_recv == 0) {
    /* nothing authentic in it: forget the connection */
    p2pq_ep_unregister_cid(ep, &h->dcid);
    p2pq_conn_free(c);
    return rv ? rv : P2PQ_ERR_MALFORMED;
  }
  return 0;
}

/* Last 16 bytes equal to the reset token of a CID we used (RFC 9000 10.3.1),
 * compared in constant time. */
static int is_stateless_reset(const p2pq_conn *c, const uint8_t *data, size_t len) {
  int i, found = 0;
  if (len < 21)
    return 0;
  for (i = 0; i < P2PQ_MAX_PEER_CIDS; i++) {
    const p2pq_peer_cid *pc = &c->peer_cids[i];
    uint8_t diff = 0;
    for (int k = 0; k < 16; k++)
      diff |= (uint8_t)(pc->reset_token[k] ^ data[len - 16 + k]);
    found |= pc->in_use && pc->has_token && pc->used && diff == 0;
  }
  return found;
}

/* data is decrypted in place; the last 16 bytes (a stateless reset token's
 * place) are never written, so they can still be checked after a failure. */
static int recv_datagram(p2pq_endpoint *ep, uint8_t *data, size_t len, const p2pq_addr *local,
                         const p2pq_addr *remote, int ecn, p2pq_tstamp now) {
  p2pq_cid dcid;
  cid_slot *slot;
  p2pq_pkt_hdr h;
  int rv;
  ep->last_now = now;
  if (len == 0 || len > sizeof(ep->scratch))
    return P2PQ_ERR_MALFORMED;
  if ((data[0] & 0xc0) == 0) {
    /* RFC 9443: 0..63 is not QUIC (the fixed bit is clear); STUN lives here */
    if (ep->cfg.on_other != NULL) {
      ep->cfg.on_other(ep->cfg.other_user, ep, data, len, local, remote, now);
      return 0;
    }
    return P2PQ_ERR_MALFORMED;
  }
  if (p2pq_pkt_peek_dcid(data, len, ep->cfg.cid_len, &dcid) != 0)
    return P2PQ_ERR_MALFORMED;
  slot = cid_lookup(ep, &dcid);
  if (slot != NULL) {
    p2pq_conn *c = slot->conn;
    int short_hdr = !(data[0] & 0x80);
    rv = p2pq_conn_on_udp(c, data, len, local, remote, ecn, now);
    P2PQ_CONN_TOUCH(c);
    if (rv != 0 && short_hdr && is_stateless_reset(c, data, len))
      p2pq_conn_enter_draining(c, P2PQ_ERR_STATELESS_RESET, now);
    p2pq_streammap_gc(&c->streams);
    return rv;
  }
  /* not ours (yet) */
  rv = p2pq_pkt_parse(data, len, ep->cfg.cid_len, &h);
  if (!(data[0] & 0x80)) {
    /* a stateless reset carries a random DCID: match it by its token */
    p2pq_conn *c;
    for (c = ep->conns; c != NULL; c = c->next_in_ep)
      if (c->state < CONN_DRAINING && is_stateless_reset(c, data, len)) {
        p2pq_conn_enter_draining(c, P2PQ_ERR_STATELESS_RESET, now);
        return 0;
      }
    /* a short header for an unknown connection: maybe our state was lost */
    send_stateless_reset(ep, &dcid, len, local, remote);
    return P2PQ_ERR_NOT_FOUND;
  }
  if (rv == P2PQ_ERR_UNSUPPORTED) {
    if (ep->cfg.is_server && len >= P2PQ_MIN_INITIAL_SIZE)
      send_vn(ep, &h, local, remote);
    return rv;
  }
  if (rv != 0)
    return rv;
  if (!ep->cfg.is_server || h.type != P2PQ_PKT_INITIAL)
    return P2PQ_ERR_NOT_FOUND;
  return accept_conn(ep, &h, data, len, local, remote, ecn, now);
}

int p2pq_endpoint_recv(p2pq_endpoint *ep, const uint8_t *data, size_t len,
                       const p2pq_addr *local, const p2pq_addr *remote, int ecn,
                       p2pq_tstamp now) {
  if (len == 0 || len > sizeof(ep->scratch))
    return P2PQ_ERR_MALFORMED;
  memcpy(ep->scratch, data, len);
  return recv_datagram(ep, ep->scratch, len, local, remote, ecn, now);
}

int p2pq_endpoint_recv_inplace(p2pq_endpoint *ep, uint8_t *data, size_t len,
                               const p2pq_addr *local, const p2pq_addr *remote, int ecn,
                               p2pq_tstamp now) {
  return recv_datagram(ep, data, len, local, remote, ecn, now);
}

int p2pq_endpoint_send(p2pq_endpoint *ep, uint8_t *buf, size_t cap, size_t gso_max,
                       p2pq_tx *tx, p2pq_tstamp now) {
  size_t tries;
  ep->last_now = now;
  if (ep->out_n > 0) {
    stateless_pkt *s = &ep->out[--ep->out_n];
    if (s->len > cap)
      return P2PQ_ERR_NOBUF;
    memcpy(buf, s->data, s->len);
    tx->local = s->local;
    tx->remote = s->remote;
    tx->ecn = P2PQ_ECN_NOT;
    tx->segment = s->len;
    return (int)s->len;
  }
  if (gso_max == 0)
    gso_max = 1;
  for (tries = 0; tries < ep->nconns; tries++) {
    p2pq_conn *c = ep->next_send != NULL ? ep->next_send : ep->conns;
    size_t used = 0, seg = 0, count = 0;
    int n;
    ep->next_send = c->next_in_ep;
    P2PQ_CONN_TOUCH(c);
    /* GSO: keep filling equal-size datagrams to the same destination */
    while (count < gso_max && cap - used >= P2PQ_MIN_INITIAL_SIZE) {
      p2pq_tx t;
      size_t room = cap - used;
      /* later segments get at most the first one's size, and never past cap */
      n = p2pq_conn_write_datagram(c, buf + used, seg != 0 && seg < room ? seg : room, &t, now);
      if (n < 0)
        return n;
      if (n == 0)
        break;
      if (count == 0) {
        *tx = t;
        seg = (size_t)n;
        if (!p2pq_addr_equal(&t.remote, &c->paths[c->active_path].remote))
          count = gso_max; /* a path probe travels alone */
      } else if (!p2pq_addr_equal(&t.remote, &tx->remote)) {
        /* cannot happen with seg-sized room for one path, but never mix */
        break;
      }
      used += (size_t)n;
      count++;
      if ((size_t)n < seg)
        break; /* a short one ends the batch */
    }
    if (used > 0) {
      tx->segment = seg;
      return (int)used;
    }
  }
  return 0;
}

p2pq_tstamp p2pq_endpoint_next_timeout(p2pq_endpoint *ep) {
  p2pq_tstamp t = P2PQ_TSTAMP_MAX;
  p2pq_conn *c;
  if (ep->out_n > 0)
    return ep->last_now;
  for (c = ep->conns; c != NULL; c = c->next_in_ep) {
    if (c->timer_dirty) {
      c->timer_cache = p2pq_conn_next_timeout(c);
      c->timer_dirty = 0;
    }
    if (c->timer_cache < t)
      t = c->timer_cache;
  }
  return t;
}

void p2pq_endpoint_on_timeout(p2pq_endpoint *ep, p2pq_tstamp now) {
  p2pq_conn *c;
  ep->last_now = now;
  for (c = ep->conns; c != NULL; c = c->next_in_ep) {
    if (c->timer_dirty) {
      c->timer_cache = p2pq_conn_next_timeout(c);
      c->timer_dirty = 0;
    }
    if (c->timer_cache <= now) {
      p2pq_conn_on_timeout(c, now);
      P2PQ_CONN_TOUCH(c);
    }
  }
}
