/* Two sans-I/O endpoints wired back to back in memory with a virtual clock:
 * handshake, stream transfer both ways, loss, key update, close, Retry, and
 * hostile input. (The full network simulator lives in tests/sim/.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "p2pq/quic.h"

typedef struct rng {
  uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void rng_fill(void *user, uint8_t *out, size_t len) {
  rng *r = user;
  for (size_t i = 0; i < len; i++)
    out[i] = (uint8_t)rng_next(r);
}

/* a datagram in flight */
typedef struct flight {
  p2pq_tstamp at;
  int to_server;
  p2pq_addr from, to;
  int ecn;
  size_t len;
  uint8_t data[1500];
} flight;

typedef struct net {
  p2pq_endpoint *cli, *srv;
  p2pq_conn *cc, *sc;
  p2pq_creds *ccreds, *screds;
  rng r, crng, srng;
  p2pq_addr caddr, saddr, cli_local;
  p2pq_tstamp now, delay;
  int loss_pct;
  size_t mtu;          /* datagrams larger than this are dropped (0: no limit) */
  uint16_t nat_port;   /* non-zero: the client's source port as the server sees it */
  int srv_migrated, srv_validated, srv_datagrams, cli_observed;
  int srv_resets, cli_stops, cli_streams_available;
  uint64_t srv_reset_code, cli_stop_code;
  p2pq_addr observed;
  uint64_t big_dropped;
  int ce_pct;          /* routers mark this share of ECT packets CE */
  uint64_t ect_seen, ce_marked;
  flight *q;
  size_t qn, qcap;
  uint64_t dropped, delivered;
  int cli_connected, srv_connected, cli_closed, srv_closed;
  int cli_close_err, srv_close_err;
  /* the server echoes stream data back when echo is set, else sinks it */
  uint8_t *rx;
  size_t rx_len, rx_cap;
  int rx_fin;
  uint64_t rx_stream;
} net;

static void enqueue(net *n, int to_server, const p2pq_tx *tx, const uint8_t *d, size_t len) {
  size_t off = 0;
  size_t seg = tx->segment ? tx->segment : len;
  while (off < len) {
    size_t l = len - off < seg ? len - off : seg;
    if (n->mtu != 0 && l > n->mtu) {
      n->big_dropped++;
    } else if (n->loss_pct > 0 && (int)(rng_next(&n->r) % 100) < n->loss_pct) {
      n->dropped++;
    } else {
      if (n->qn == n->qcap) {
        n->qcap = n->qcap ? n->qcap * 2 : 256;
        n->q = realloc(n->q, n->qcap * sizeof(flight));
      }
      flight *f = &n->q[n->qn++];
      f->at = n->now + n->delay;
      f->to_server = to_server;
      f->from = tx->local.family != 0 ? tx->local : (to_server ? n->caddr : n->saddr);
      f->to = tx->remote;
      if (to_server && n->nat_port)
        f->from.port = n->nat_port; /* a NAT rewrites the source on the way out */
      f->len = l;
      f->ecn = tx->ecn;
      if (f->ecn == P2PQ_ECN_ECT0)
        n->ect_seen++;
      if (f->ecn != P2PQ_ECN_NOT && n->ce_pct > 0 && (int)(rng_next(&n->r) % 100) < n->ce_pct) {
        f->ecn = P2PQ_ECN_CE;
        n->ce_marked++;
      }
      memcpy(f->data, d + off, l);
    }
    off += l;
  }
}

static void drain_events(net *n) {
  p2pq_event ev;
  while (p2pq_endpoint_poll_event(n->cli, &ev)) {
    if (ev.type == P2PQ_EV_CONNECTED)
      n->cli_connected = 1;
    if (ev.type == P2PQ_EV_CLOSED) {
      n->cli_closed = 1;
      n->cli_close_err = ev.error;
    }
    if (ev.type == P2PQ_EV_STREAMS_AVAILABLE)
      n->cli_streams_available++;
    if (ev.type == P2PQ_EV_STREAM_STOP) {
      n->cli_stops++;
      n->cli_stop_code = ev.error_code;
    }
    if (ev.type == P2PQ_EV_OBSERVED_ADDRESS) {
      n->cli_observed++;
      n->observed = ev.addr;
    }
  }
  while (p2pq_endpoint_poll_event(n->srv, &ev)) {
    if (ev.type == P2PQ_EV_CONN_NEW)
      n->sc = ev.conn;
    if (ev.type == P2PQ_EV_CONNECTED)
      n->srv_connected = 1;
    if (ev.type == P2PQ_EV_CLOSED) {
      n->srv_closed = 1;
      n->srv_close_err = ev.error;
    }
    if (ev.type == P2PQ_EV_STREAM_READABLE || ev.type == P2PQ_EV_STREAM_OPENED)
      n->rx_stream = ev.stream_id;
    if (ev.type == P2PQ_EV_MIGRATED)
      n->srv_migrated++;
    if (ev.type == P2PQ_EV_STREAM_RESET) {
      n->srv_resets++;
      n->srv_reset_code = ev.error_code;
    }
    if (ev.type == P2PQ_EV_PATH_VALIDATED)
      n->srv_validated++;
    if (ev.type == P2PQ_EV_DATAGRAM) {
      uint8_t d[1500];
      while (p2pq_conn_recv_datagram(ev.conn, d, sizeof(d)) > 0)
        n->srv_datagrams++;
    }
  }
  /* the server sinks everything readable on the stream */
  if (n->sc != NULL && !n->rx_fin && n->rx_stream != UINT64_MAX) {
    for (;;) {
      uint8_t buf[16384];
      int fin = 0;
      int64_t r = p2pq_stream_read(n->sc, n->rx_stream, buf, sizeof(buf), &fin);
      if (r <= 0 && !fin)
        break;
      if (r > 0) {
        if (n->rx_len + (size_t)r > n->rx_cap) {
          n->rx_cap = (n->rx_len + (size_t)r) * 2;
          n->rx = realloc(n->rx, n->rx_cap);
        }
        memcpy(n->rx + n->rx_len, buf, (size_t)r);
        n->rx_len += (size_t)r;
      }
      if (fin) {
        n->rx_fin = 1;
        break;
      }
    }
  }
}

static void flush(net *n) {
  uint8_t buf[1500 * 8];
  p2pq_tx tx;
  int len;
  while ((len = p2pq_endpoint_send(n->cli, buf, sizeof(buf), 8, &tx, n->now)) > 0)
    enqueue(n, 1, &tx, buf, (size_t)len);
  while ((len = p2pq_endpoint_send(n->srv, buf, sizeof(buf), 8, &tx, n->now)) > 0)
    enqueue(n, 0, &tx, buf, (size_t)len);
}

/* One step: deliver the earliest datagram or fire the earliest timer. */
static int step(net *n, p2pq_tstamp limit) {
  p2pq_tstamp tc = p2pq_endpoint_next_timeout(n->cli);
  p2pq_tstamp ts = p2pq_endpoint_next_timeout(n->srv);
  p2pq_tstamp tq = P2PQ_TSTAMP_MAX, t;
  size_t i, qi = 0;
  for (i = 0; i < n->qn; i++)
    if (n->q[i].at < tq) {
      tq = n->q[i].at;
      qi = i;
    }
  t = tq < tc ? tq : tc;
  t = ts < t ? ts : t;
  if (t == P2PQ_TSTAMP_MAX || t > limit)
    return 0;
  if (t > n->now)
    n->now = t;
  if (tq == t) {
    flight f = n->q[qi];
    /* keep FIFO order among equal delivery times */
    memmove(&n->q[qi], &n->q[qi + 1], (n->qn - qi - 1) * sizeof(flight));
    n->qn--;
    n->delivered++;
    if (!f.to_server && n->nat_port && f.to.port != n->cli_local.port)
      f.to = n->cli_local; /* ... and back to the inside address */
    /* half the datagrams go through the zero-copy entry point */
    if (n->delivered & 1)
      p2pq_endpoint_recv_inplace(f.to_server ? n->srv : n->cli, f.data, f.len, &f.to, &f.from,
                                 f.ecn, n->now);
    else
      p2pq_endpoint_recv(f.to_server ? n->srv : n->cli, f.data, f.len, &f.to, &f.from, f.ecn,
                         n->now);
  } else {
    if (tc <= n->now)
      p2pq_endpoint_on_timeout(n->cli, n->now);
    if (ts <= n->now)
      p2pq_endpoint_on_timeout(n->srv, n->now);
  }
  drain_events(n);
  flush(n);
  return 1;
}

static void run_until(net *n, p2pq_tstamp limit, int (*done)(net *)) {
  while (!done(n) && step(n, limit))
    ;
}

static int handshake_done(net *n) { return n->cli_connected && n->srv_connected; }

static char *g_cert, *g_key;
static int g_address_discovery;
/* per-test adjustments of the endpoint configuration (NULL: none) */
static void (*g_tweak)(p2pq_config *cfg);
/* raw public keys (RFC 7250) with pins both ways instead of an X.509 server cert */
static int g_rpk, g_rpk_wrong_pin;
static char *g_ckey, *g_skey;
static size_t g_ckey_len, g_skey_len;
static int g_qlog;

typedef struct qlog_stats {
  int records, headers, sent, received, metrics, closed, bad;
} qlog_stats;
static qlog_stats g_qs;

/* Every record: RS, one balanced JSON object, LF. */
static void qlog_hook(void *user, p2pq_conn *c, const char *rec, size_t len) {
  int depth = 0, in_str = 0;
  (void)user;
  (void)c;
  g_qs.records++;
  if (len < 3 || rec[0] != 0x1e || rec[1] != '{' || rec[len - 1] != '\n') {
    g_qs.bad++;
    return;
  }
  for (size_t i = 1; i < len - 1; i++) {
    char ch = rec[i];
    if (in_str) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_str = 0;
    } else if (ch == '"') {
      in_str = 1;
    } else if (ch == '{' || ch == '[') {
      depth++;
    } else if (ch == '}' || ch == ']') {
      depth--;
    }
  }
  if (depth != 0 || in_str)
    g_qs.bad++;
  if (strstr(rec, "\"qlog_format\":\"JSON-SEQ\""))
    g_qs.headers++;
  if (strstr(rec, "transport:packet_sent"))
    g_qs.sent++;
  if (strstr(rec, "transport:packet_received"))
    g_qs.received++;
  if (strstr(rec, "recovery:metrics_updated"))
    g_qs.metrics++;
  if (strstr(rec, "connectivity:connection_closed"))
    g_qs.closed++;
}
static size_t g_cert_len, g_key_len;

static void net_init(net *n, uint64_t seed, int loss, int retry) {
  static const char *alpn[] = {"hq-interop"};
  p2pq_creds_config cc;
  p2pq_config cfg;
  memset(n, 0, sizeof(*n));
  n->r.s = seed;
  n->crng.s = seed * 3 + 1;
  n->srng.s = seed * 7 + 2;
  n->delay = 10 * P2PQ_MS;
  n->now = 1000 * P2PQ_MS;
  n->loss_pct = loss;
  p2pq_addr_parse(&n->caddr, "192.0.2.1:5000", -1);
  p2pq_addr_parse(&n->saddr, "198.51.100.1:4433", -1);
  n->cli_local = n->caddr;
  n->rx_stream = UINT64_MAX;

  if (g_rpk) {
    static uint8_t spin[1][32], cpin[1][32];
    assert_int_equal(p2pq_fingerprint_from_key_pem(g_skey, g_skey_len, spin[0]), 0);
    assert_int_equal(p2pq_fingerprint_from_key_pem(g_ckey, g_ckey_len, cpin[0]), 0);
    if (g_rpk_wrong_pin)
      spin[0][0] ^= 1;
    memset(&cc, 0, sizeof(cc));
    cc.is_server = 1;
    cc.key_pem = g_skey;
    cc.key_pem_len = g_skey_len;
    cc.raw_public_key = 1;
    cc.verify = P2PQ_VERIFY_PIN;
    cc.pins = (const uint8_t(*)[32])cpin;
    cc.n_pins = 1;
    cc.require_client_auth = 1;
    assert_int_equal(p2pq_creds_new(&n->screds, &cc), 0);
    memset(&cc, 0, sizeof(cc));
    cc.key_pem = g_ckey;
    cc.key_pem_len = g_ckey_len;
    cc.raw_public_key = 1;
    cc.verify = P2PQ_VERIFY_PIN;
    cc.pins = (const uint8_t(*)[32])spin;
    cc.n_pins = 1;
    assert_int_equal(p2pq_creds_new(&n->ccreds, &cc), 0);
  } else {
    memset(&cc, 0, sizeof(cc));
    cc.is_server = 1;
    cc.cert_pem = g_cert;
    cc.cert_pem_len = g_cert_len;
    cc.key_pem = g_key;
    cc.key_pem_len = g_key_len;
    assert_int_equal(p2pq_creds_new(&n->screds, &cc), 0);
    memset(&cc, 0, sizeof(cc));
    cc.verify = P2PQ_VERIFY_NONE;
    assert_int_equal(p2pq_creds_new(&n->ccreds, &cc), 0);
  }

  memset(&cfg, 0, sizeof(cfg));
  p2pq_settings_default(&cfg.settings);
  cfg.alpn = alpn;
  cfg.n_alpn = 1;
  cfg.rand = rng_fill;
  cfg.is_server = 1;
  cfg.rand_user = &n->srng;
  cfg.creds = n->screds;
  cfg.settings.retry = retry;
  if (g_qlog) {
    cfg.qlog = qlog_hook;
    cfg.qlog_enabled = 1;
  }
  cfg.settings.max_datagram_frame_size = 1200;
  if (g_address_discovery)
    cfg.settings.address_discovery = 0; /* server: provide */
  if (g_tweak)
    g_tweak(&cfg);
  assert_int_equal(p2pq_endpoint_new(&n->srv, &cfg), 0);
  if (g_address_discovery)
    cfg.settings.address_discovery = 1; /* client: receive */
  cfg.is_server = 0;
  cfg.rand_user = &n->crng;
  cfg.creds = n->ccreds;
  if (g_tweak)
    g_tweak(&cfg);
  assert_int_equal(p2pq_endpoint_new(&n->cli, &cfg), 0);
  assert_int_equal(p2pq_endpoint_connect(n->cli, &n->cc, &n->caddr, &n->saddr, "localhost", n->now),
                   0);
  flush(n);
}

static void net_free(net *n) {
  p2pq_endpoint_free(n->cli);
  p2pq_endpoint_free(n->srv);
  p2pq_creds_free(n->ccreds);
  p2pq_creds_free(n->screds);
  free(n->q);
  free(n->rx);
}

/* Key updates back to back from both sides (as fast as RFC 9001 6.1 allows),
 * with reordering: no packet may fail to decrypt. */
static int g_churn;

static void churn_keys(net *n) {
  if (n->sc != NULL) {
    p2pq_conn_key_update(n->cc, n->now);
    p2pq_conn_key_update(n->sc, n->now);
  }
}

typedef void (*midway_fn)(net *n);

static void send_all_hook(net *n, const uint8_t *data, size_t len, p2pq_tstamp limit,
                          midway_fn midway) {
  uint64_t sid;
  size_t off = 0;
  int hooked = 0;
  assert_int_equal(p2pq_conn_open_stream(n->cc, 1, &sid), 0);
  while (off < len || !n->rx_fin) {
    if (g_churn)
      churn_keys(n);
    if (midway != NULL && !hooked && n->rx_len >= len / 2) {
      hooked = 1;
      midway(n);
      flush(n);
    }
    if (off < len) {
      int64_t w = p2pq_stream_write(n->cc, sid, data + off, len - off, 1);
      assert_true(w >= 0);
      off += (size_t)w;
      flush(n);
    }
    if (!step(n, limit))
      break;
  }
}

static void send_all(net *n, const uint8_t *data, size_t len, p2pq_tstamp limit) {
  send_all_hook(n, data, len, limit, NULL);
}

static void check_transfer(uint64_t seed, int loss, size_t size, int retry) {
  net n;
  uint8_t *data = malloc(size);
  rng r = {seed};
  rng_fill(&r, data, size);
  net_init(&n, seed, loss, retry);
  run_until(&n, n.now + 30 * P2PQ_S, handshake_done);
  if (!handshake_done(&n))
    fail_msg("seed %llu loss %d: no handshake", (unsigned long long)seed, loss);
  send_all(&n, data, size, n.now + 120 * P2PQ_S);
  if (n.rx_len != size || memcmp(n.rx, data, size) != 0)
    fail_msg("seed %llu loss %d: received %zu of %zu bytes (fin %d)", (unsigned long long)seed,
             loss, n.rx_len, size, n.rx_fin);
  assert_false(n.cli_closed);
  free(data);
  net_free(&n);
}

static void test_handshake(void **state) {
  net n;
  (void)state;
  net_init(&n, 1, 0, 0);
  run_until(&n, n.now + 10 * P2PQ_S, handshake_done);
  assert_true(n.cli_connected);
  assert_true(n.srv_connected);
  assert_string_equal(p2pq_conn_alpn(n.cc), "hq-interop");
  net_free(&n);
}

static void test_transfer_clean(void **state) {
  (void)state;
  check_transfer(2, 0, 1 << 20, 0);
}

static void test_transfer_loss(void **state) {
  (void)state;
  for (uint64_t seed = 10; seed < 14; seed++)
    check_transfer(seed, 5, 256 << 10, 0);
  check_transfer(20, 20, 128 << 10, 0);
}

static void test_retry(void **state) {
  (void)state;
  check_transfer(30, 0, 64 << 10, 1);
}

static int both_closed(net *n) { return n->cli_closed && n->srv_closed; }

static void test_close(void **state) {
  net n;
  (void)state;
  net_init(&n, 40, 0, 0);
  run_until(&n, n.now + 10 * P2PQ_S, handshake_done);
  assert_int_equal(p2pq_conn_close(n.cc, 1, 42, "bye", n.now), 0);
  flush(&n);
  run_until(&n, n.now + 10 * P2PQ_S, both_closed);
  assert_true(n.cli_closed);
  assert_true(n.srv_closed);
  assert_int_equal(n.srv_close_err, P2PQ_ERR_PEER_CLOSED);
  net_free(&n);
}

static void test_garbage_ignored(void **state) {
  net n;
  uint8_t junk[1300];
  rng r = {99};
  (void)state;
  net_init(&n, 50, 0, 0);
  run_until(&n, n.now + 10 * P2PQ_S, handshake_done);
  for (int i = 0; i < 200; i++) {
    rng_fill(&r, junk, sizeof(junk));
    size_t len = 1 + rng_next(&r) % sizeof(junk);
    p2pq_endpoint_recv(n.srv, junk, len, &n.saddr, &n.caddr, 0, n.now);
    p2pq_endpoint_recv(n.cli, junk, len, &n.caddr, &n.saddr, 0, n.now);
  }
  drain_events(&n);
  assert_false(n.cli_closed);
  assert_false(n.srv_closed);
  net_free(&n);
}


static uint8_t *random_data(uint64_t seed, size_t size) {
  uint8_t *d = malloc(size);
  rng r = {seed};
  rng_fill(&r, d, size);
  return d;
}

static void connect_and_send(net *n, size_t size, midway_fn midway, uint64_t seed) {
  uint8_t *data = random_data(seed, size);
  run_until(n, n->now + 30 * P2PQ_S, handshake_done);
  assert_true(handshake_done(n));
  send_all_hook(n, data, size, n->now + 120 * P2PQ_S, midway);
  if (n->rx_len != size || memcmp(n->rx, data, size) != 0)
    fail_msg("seed %llu: received %zu of %zu bytes (fin %d)", (unsigned long long)seed, n->rx_len,
             size, n->rx_fin);
  free(data);
}

static void test_pmtud(void **state) {
  net n;
  p2pq_conn_stats st;
  (void)state;
  net_init(&n, 60, 0, 0);
  n.mtu = 1400;
  connect_and_send(&n, 512 << 10, NULL, 60);
  p2pq_conn_get_stats(n.cc, &st);
  assert_int_equal(st.pmtu, 1400); /* 1452 probes die, 1400 is confirmed */
  assert_true(n.big_dropped > 0);
  net_free(&n);
}

static void do_key_update(net *n) { assert_int_equal(p2pq_conn_key_update(n->cc, n->now), 0); }

static void test_key_update(void **state) {
  net n;
  p2pq_conn_stats cs, ss;
  (void)state;
  net_init(&n, 61, 2, 0);
  connect_and_send(&n, 512 << 10, do_key_update, 61);
  p2pq_conn_get_stats(n.cc, &cs);
  p2pq_conn_get_stats(n.sc, &ss);
  assert_true(cs.key_updates >= 1);
  assert_true(ss.key_updates >= 1); /* the server followed the client's update */
  /* a second update, from the server this time, also goes through */
  assert_int_equal(p2pq_conn_key_update(n.sc, n.now), 0);
  n.rx_fin = 0;
  n.rx_len = 0;
  n.rx_stream = UINT64_MAX;
  connect_and_send(&n, 64 << 10, NULL, 62);
  p2pq_conn_get_stats(n.cc, &cs);
  assert_true(cs.key_updates >= 2);
  net_free(&n);
}

static int never(net *n) {
  (void)n;
  return 0;
}

/* Lets in-flight packets and timers play out for dt of virtual time. */
static void settle(net *n, p2pq_tstamp dt) { run_until(n, n->now + dt, never); }

static void rebind(net *n) { n->nat_port = n->nat_port == 0 ? 40001 : n->nat_port + 1; }

static void test_key_update_churn(void **state) {
  net n;
  p2pq_conn_stats cs, ss;
  (void)state;
  net_init(&n, 85, 1, 0);
  g_churn = 1;
  connect_and_send(&n, 2 << 20, NULL, 85);
  g_churn = 0;
  p2pq_conn_get_stats(n.cc, &cs);
  p2pq_conn_get_stats(n.sc, &ss);
  assert_true(cs.key_updates + ss.key_updates > 20);
  assert_int_equal(cs.pkts_dropped, 0);
  assert_int_equal(ss.pkts_dropped, 0);
  net_free(&n);
}

static void test_nat_rebinding(void **state) {
  net n;
  (void)state;
  net_init(&n, 62, 0, 0);
  n.nat_port = 40000;
  connect_and_send(&n, 1 << 20, rebind, 62);
  settle(&n, P2PQ_S);
  assert_true(n.srv_migrated >= 1);  /* the server followed the new port */
  assert_true(n.srv_validated >= 1); /* ... and validated it */
  assert_false(n.cli_closed);
  net_free(&n);
}

static void migrate(net *n) {
  p2pq_addr a;
  p2pq_addr_parse(&a, "192.0.2.77:6000", -1);
  assert_int_equal(p2pq_conn_migrate(n->cc, &a, n->now), 0);
  n->cli_local = a;
}

static void test_active_migration(void **state) {
  net n;
  (void)state;
  net_init(&n, 63, 1, 0);
  connect_and_send(&n, 1 << 20, migrate, 63);
  settle(&n, P2PQ_S);
  assert_true(n.srv_migrated >= 1);
  assert_true(n.srv_validated >= 1);
  net_free(&n);
}

static void test_datagrams(void **state) {
  net n;
  uint8_t d[100];
  (void)state;
  net_init(&n, 64, 0, 0);
  run_until(&n, n.now + 10 * P2PQ_S, handshake_done);
  memset(d, 7, sizeof(d));
  for (int i = 0; i < 10; i++)
    assert_int_equal(p2pq_conn_send_datagram(n.cc, d, sizeof(d)), 0);
  /* too large for the peer's max_datagram_frame_size (1200) */
  {
    uint8_t big[1300] = {0};
    assert_int_equal(p2pq_conn_send_datagram(n.cc, big, sizeof(big)), P2PQ_ERR_LIMIT);
  }
  flush(&n);
  for (int i = 0; i < 100 && step(&n, n.now + 5 * P2PQ_S); i++)
    ;
  assert_int_equal(n.srv_datagrams, 10);
  net_free(&n);
}

static int cli_closed(net *n) { return n->cli_closed; }

static void test_idle_timeout(void **state) {
  net n;
  (void)state;
  net_init(&n, 65, 0, 0);
  run_until(&n, n.now + 10 * P2PQ_S, handshake_done);
  n.loss_pct = 100; /* the network goes silent */
  p2pq_tstamp start = n.now;
  run_until(&n, n.now + 120 * P2PQ_S, cli_closed);
  assert_true(n.cli_closed);
  assert_int_equal(n.cli_close_err, P2PQ_ERR_IDLE_TIMEOUT);
  assert_true(n.now - start >= 29 * P2PQ_S && n.now - start <= 35 * P2PQ_S);
  net_free(&n);
}

static void test_stateless_reset(void **state) {
  net n;
  (void)state;
  net_init(&n, 66, 0, 0);
  run_until(&n, n.now + 10 * P2PQ_S, handshake_done);
  run_until(&n, n.now + 1 * P2PQ_S, cli_closed); /* let HANDSHAKE_DONE settle */
  /* the server forgets the connection without a word */
  p2pq_conn_free(n.sc);
  n.sc = NULL;
  assert_int_equal(p2pq_conn_send_datagram(n.cc, (const uint8_t *)"x", 1), 0);
  flush(&n);
  run_until(&n, n.now + 60 * P2PQ_S, cli_closed);
  assert_true(n.cli_closed);
  assert_int_equal(n.cli_close_err, P2PQ_ERR_STATELESS_RESET);
  net_free(&n);
}

static void test_version_negotiation(void **state) {
  net n;
  uint8_t pkt[1200], out[1500];
  p2pq_tx tx;
  int len;
  (void)state;
  net_init(&n, 67, 0, 0);
  memset(pkt, 0, sizeof(pkt));
  pkt[0] = 0xc0;
  pkt[1] = 0x1a; pkt[2] = 0x2a; pkt[3] = 0x3a; pkt[4] = 0x4a; /* unknown version */
  pkt[5] = 8; memset(pkt + 6, 0xaa, 8);                        /* DCID */
  pkt[14] = 4; memset(pkt + 15, 0xbb, 4);                      /* SCID */
  p2pq_endpoint_recv(n.srv, pkt, sizeof(pkt), &n.saddr, &n.caddr, 0, n.now);
  len = p2pq_endpoint_send(n.srv, out, sizeof(out), 1, &tx, n.now);
  assert_true(len > 0);
  assert_true(out[0] & 0x80);
  assert_memory_equal(out + 1, "\0\0\0\0", 4);  /* version 0: VN */
  assert_int_equal(out[5], 4);                    /* DCID = the client's SCID */
  assert_memory_equal(out + 6, "\xbb\xbb\xbb\xbb", 4);
  assert_true(p2pq_addr_equal(&tx.remote, &n.caddr));
  /* and the v1 version is listed */
  int found = 0;
  for (int off = 6 + 4 + 1 + 8; off + 4 <= len; off += 4)
    if (memcmp(out + off, "\0\0\0\1", 4) == 0)
      found = 1;
  assert_true(found);
  net_free(&n);
}

static void test_observed_address(void **state) {
  net n;
  (void)state;
  net_init(&n, 68, 0, 0);
  /* re-create both endpoints with address discovery on */
  net_free(&n);
  g_address_discovery = 1;
  net_init(&n, 68, 0, 0);
  n.nat_port = 41000;
  connect_and_send(&n, 256 << 10, rebind, 68);
  settle(&n, P2PQ_S);
  g_address_discovery = 0;
  assert_true(n.cli_observed >= 2); /* first mapping, then the rebinding */
  assert_int_equal(n.observed.port, 41001);
  net_free(&n);
}

static void test_qlog(void **state) {
  net n;
  (void)state;
  memset(&g_qs, 0, sizeof(g_qs));
  g_qlog = 1;
  net_init(&n, 70, 5, 0);
  connect_and_send(&n, 128 << 10, NULL, 70);
  assert_int_equal(p2pq_conn_close(n.cc, 1, 0, "done", n.now), 0);
  flush(&n);
  run_until(&n, n.now + 10 * P2PQ_S, both_closed);
  g_qlog = 0;
  assert_int_equal(g_qs.bad, 0);
  assert_int_equal(g_qs.headers, 2); /* one trace per side */
  assert_true(g_qs.sent > 100);
  assert_true(g_qs.received > 100);
  assert_true(g_qs.metrics > 10);
  assert_int_equal(g_qs.closed, 2);
  net_free(&n);
}

/* ECN end to end: packets go out ECT(0), ACK_ECN reports them, CE marks act as
 * congestion signals (the window shrinks) without any loss. */
static void test_ecn(void **state) {
  net n;
  p2pq_conn_stats st;
  (void)state;
  net_init(&n, 72, 0, 0);
  n.ce_pct = 3;
  connect_and_send(&n, 1 << 20, NULL, 72);
  p2pq_conn_get_stats(n.cc, &st);
  assert_true(n.ect_seen > 500);
  assert_true(n.ce_marked > 0);
  assert_true(st.cwnd < 200000); /* CE held the window down */
  net_free(&n);
}

/* Forged Initials (right shape, wrong keys) cost no connection state and get
 * no answer: nothing to amplify, nothing to keep. */
static void test_junk_initials(void **state) {
  net n;
  uint8_t pkt[1200], out[1500];
  p2pq_tx tx;
  p2pq_event ev;
  rng r = {123};
  int news = 0;
  (void)state;
  net_init(&n, 86, 0, 0);
  for (int i = 0; i < 3000; i++) {
    rng_fill(&r, pkt, sizeof(pkt));
    pkt[0] = 0xc3;                                  /* Initial, 4-byte pn */
    pkt[1] = 0; pkt[2] = 0; pkt[3] = 0; pkt[4] = 1; /* version 1 */
    pkt[5] = 8;                                     /* DCID 8 */
    pkt[14] = 0;                                    /* SCID empty */
    pkt[15] = 0;                                    /* token empty */
    pkt[16] = 0x44; pkt[17] = 0x00;                 /* Length 1024 */
    p2pq_endpoint_recv(n.srv, pkt, sizeof(pkt), &n.saddr, &n.caddr, 0, n.now);
  }
  while (p2pq_endpoint_poll_event(n.srv, &ev))
    news += ev.type == P2PQ_EV_CONN_NEW;
  assert_int_equal(news, 0);
  assert_int_equal(p2pq_endpoint_send(n.srv, out, sizeof(out), 1, &tx, n.now), 0);
  net_free(&n);
}

static int g_other_calls;

static void echo_other(void *user, p2pq_endpoint *ep, const uint8_t *data, size_t len,
                       const p2pq_addr *local, const p2pq_addr *remote, p2pq_tstamp now) {
  (void)user;
  (void)now;
  g_other_calls++;
  assert_int_equal(p2pq_endpoint_queue_raw(ep, data, len, local, remote), 0);
}

/* Non-QUIC datagrams (first byte < 64, e.g. STUN) reach the hook, and what it
 * queues leaves through p2pq_endpoint_send; without a hook they are dropped. */
static void test_other_protocols(void **state) {
  net n;
  uint8_t stunlike[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
  uint8_t out[1500];
  p2pq_tx tx;
  p2pq_endpoint *ep;
  p2pq_config cfg;
  static const char *alpn[] = {"x"};
  (void)state;
  net_init(&n, 71, 0, 0);
  assert_int_equal(p2pq_endpoint_recv(n.srv, stunlike, sizeof(stunlike), &n.saddr, &n.caddr, 0,
                                      n.now),
                   P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_endpoint_send(n.srv, out, sizeof(out), 1, &tx, n.now), 0);
  memset(&cfg, 0, sizeof(cfg));
  p2pq_settings_default(&cfg.settings);
  cfg.is_server = 1;
  cfg.rand = rng_fill;
  cfg.rand_user = &n.srng;
  cfg.creds = n.screds;
  cfg.alpn = alpn;
  cfg.n_alpn = 1;
  cfg.on_other = echo_other;
  assert_int_equal(p2pq_endpoint_new(&ep, &cfg), 0);
  g_other_calls = 0;
  assert_int_equal(p2pq_endpoint_recv(ep, stunlike, sizeof(stunlike), &n.saddr, &n.caddr, 0, n.now),
                   0);
  assert_int_equal(g_other_calls, 1);
  assert_int_equal(p2pq_endpoint_send(ep, out, sizeof(out), 1, &tx, n.now), (int)sizeof(stunlike));
  assert_memory_equal(out, stunlike, sizeof(stunlike));
  assert_true(p2pq_addr_equal(&tx.remote, &n.caddr));
  p2pq_endpoint_free(ep);
  net_free(&n);
}


/* Peers named by Ed25519 public keys: both pin the other's key. */
static void test_raw_public_keys(void **state) {
  net n;
  uint8_t fp[32], want[32];
  (void)state;
  g_rpk = 1;
  net_init(&n, 80, 0, 0);
  connect_and_send(&n, 64 << 10, NULL, 80);
  assert_int_equal(p2pq_conn_peer_fingerprint(n.cc, fp), 0);
  assert_int_equal(p2pq_fingerprint_from_key_pem(g_skey, g_skey_len, want), 0);
  assert_memory_equal(fp, want, 32);
  assert_int_equal(p2pq_conn_peer_fingerprint(n.sc, fp), 0);
  assert_int_equal(p2pq_fingerprint_from_key_pem(g_ckey, g_ckey_len, want), 0);
  assert_memory_equal(fp, want, 32);
  net_free(&n);
  /* a pin that does not match: the client refuses, both sides learn why */
  g_rpk_wrong_pin = 1;
  net_init(&n, 81, 0, 0);
  run_until(&n, n.now + 10 * P2PQ_S, both_closed);
  g_rpk = g_rpk_wrong_pin = 0;
  assert_false(n.cli_connected);
  assert_true(n.cli_closed);
  assert_true(n.cli_close_err == P2PQ_ERR_PEER_AUTH || n.cli_close_err == P2PQ_ERR_TLS_ALERT ||
              n.cli_close_err == P2PQ_ERR_TLS);
  assert_true(n.srv_closed);
  assert_int_equal(n.srv_close_err, P2PQ_ERR_PEER_CLOSED);
  net_free(&n);
}

static void tiny_windows(p2pq_config *cfg) {
  cfg->settings.initial_max_data = 4096;
  cfg->settings.max_data_window = 16384;
  cfg->settings.initial_max_stream_data = 2048;
  cfg->settings.max_stream_window = 8192;
  cfg->settings.initial_max_streams_bidi = 2;
}

/* Flow control at every level: tiny windows still deliver everything, and the
 * stream limit is enforced then lifted as streams finish. */
static void test_flow_control_limits(void **state) {
  net n;
  uint64_t sid[3];
  (void)state;
  g_tweak = tiny_windows;
  net_init(&n, 82, 3, 0);
  connect_and_send(&n, 300 << 10, NULL, 82);
  /* stream 0 is done; one more bidi stream may open, the next one may not */
  assert_int_equal(p2pq_conn_open_stream(n.cc, 1, &sid[0]), 0);
  assert_int_equal(p2pq_conn_open_stream(n.cc, 1, &sid[1]), P2PQ_ERR_STREAM_LIMIT);
  /* finishing both directions gives credit back (MAX_STREAMS) */
  assert_true(p2pq_stream_write(n.cc, sid[0], (const uint8_t *)"x", 1, 1) == 1);
  n.rx_fin = 0;
  n.rx_stream = UINT64_MAX;
  flush(&n);
  for (int i = 0; i < 200 && !n.rx_fin; i++)
    step(&n, n.now + 10 * P2PQ_S);
  assert_true(n.rx_fin);
  assert_true(p2pq_stream_write(n.sc, 0, NULL, 0, 1) == 0);
  assert_true(p2pq_stream_write(n.sc, sid[0], NULL, 0, 1) == 0);
  flush(&n);
  for (int i = 0; i < 2000 && p2pq_conn_open_stream(n.cc, 1, &sid[2]) != 0; i++)
    if (!step(&n, n.now + 10 * P2PQ_S))
      break;
  assert_int_equal(sid[2], 8);
  assert_true(n.cli_streams_available >= 1); /* the app heard about the new credit */
  g_tweak = NULL;
  net_free(&n);
}

/* RESET_STREAM and STOP_SENDING reach the peer with their codes. */
static void test_reset_and_stop(void **state) {
  net n;
  uint64_t a, b;
  uint8_t buf[4096];
  (void)state;
  net_init(&n, 83, 0, 0);
  run_until(&n, n.now + 10 * P2PQ_S, handshake_done);
  assert_int_equal(p2pq_conn_open_stream(n.cc, 1, &a), 0);
  assert_int_equal(p2pq_conn_open_stream(n.cc, 1, &b), 0);
  memset(buf, 1, sizeof(buf));
  assert_true(p2pq_stream_write(n.cc, a, buf, sizeof(buf), 0) > 0);
  assert_true(p2pq_stream_write(n.cc, b, buf, sizeof(buf), 0) > 0);
  flush(&n);
  for (int i = 0; i < 20; i++)
    step(&n, n.now + P2PQ_S);
  assert_int_equal(p2pq_stream_reset(n.cc, a, 77), 0);
  assert_int_equal(p2pq_stream_stop_sending(n.sc, b, 99), 0);
  flush(&n);
  for (int i = 0; i < 200; i++)
    if (!step(&n, n.now + 5 * P2PQ_S))
      break;
  /* stream a was reset (77); b was reset in answer to STOP_SENDING (RFC 9000
   * 3.5: with the code the peer gave, 99) */
  assert_int_equal(n.srv_resets, 2);
  assert_true(n.srv_reset_code == 77 || n.srv_reset_code == 99);
  assert_int_equal(n.cli_stops, 1);
  assert_int_equal(n.cli_stop_code, 99);
  /* a write to a stream the peer stopped fails */
  assert_true(p2pq_stream_write(n.cc, b, buf, 10, 0) < 0);
  net_free(&n);
}

/* One server, many clients at once: each connection stays separate. */
static void test_many_connections(void **state) {
  enum { N = 20 };
  net n;
  p2pq_conn *cc[N];
  p2pq_addr ca[N];
  int connected = 0;
  (void)state;
  net_init(&n, 84, 0, 0);
  run_until(&n, n.now + 10 * P2PQ_S, handshake_done);
  for (int i = 0; i < N; i++) {
    char s[32];
    snprintf(s, sizeof(s), "192.0.2.%d:%d", 10 + i, 7000 + i);
    p2pq_addr_parse(&ca[i], s, -1);
    assert_int_equal(p2pq_endpoint_connect(n.cli, &cc[i], &ca[i], &n.saddr, NULL, n.now), 0);
  }
  flush(&n);
  for (int i = 0; i < 5000 && step(&n, n.now + 10 * P2PQ_S); i++)
    ;
  for (int i = 0; i < N; i++)
    connected += p2pq_conn_is_established(cc[i]);
  assert_int_equal(connected, N);
  assert_true(p2pq_conn_is_established(n.cc));
  net_free(&n);
}

static int setup(void **state) {
  (void)state;
  if (p2pq_key_generate_ed25519(&g_ckey, &g_ckey_len) != 0 ||
      p2pq_key_generate_ed25519(&g_skey, &g_skey_len) != 0)
    return -1;
  return p2pq_cert_self_signed("localhost", 3600, &g_cert, &g_cert_len, &g_key, &g_key_len);
}

static int teardown(void **state) {
  (void)state;
  free(g_cert);
  free(g_key);
  free(g_ckey);
  free(g_skey);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake),      cmocka_unit_test(test_transfer_clean),
      cmocka_unit_test(test_transfer_loss),  cmocka_unit_test(test_retry),
      cmocka_unit_test(test_close),          cmocka_unit_test(test_garbage_ignored),
      cmocka_unit_test(test_pmtud),          cmocka_unit_test(test_key_update),
      cmocka_unit_test(test_nat_rebinding),  cmocka_unit_test(test_active_migration),
      cmocka_unit_test(test_datagrams),      cmocka_unit_test(test_idle_timeout),
      cmocka_unit_test(test_stateless_reset), cmocka_unit_test(test_version_negotiation),
      cmocka_unit_test(test_observed_address), cmocka_unit_test(test_qlog),
      cmocka_unit_test(test_other_protocols), cmocka_unit_test(test_ecn),
      cmocka_unit_test(test_raw_public_keys), cmocka_unit_test(test_flow_control_limits),
      cmocka_unit_test(test_reset_and_stop), cmocka_unit_test(test_many_connections),
      cmocka_unit_test(test_key_update_churn), cmocka_unit_test(test_junk_initials),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
