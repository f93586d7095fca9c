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
  size_t len;
  uint8_t data[1500];
} flight;

typedef struct net {
  p2pq_endpoint *cli, *srv;
  p2pq_conn *cc, *sc;
  p2pq_creds *ccreds, *screds;
  rng r, crng, srng;
  p2pq_addr caddr, saddr;
  p2pq_tstamp now, delay;
  int loss_pct;
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
    if (n->loss_pct > 0 && (int)(rng_next(&n->r) % 100) < n->loss_pct) {
      n->dropped++;
    } else {
      if (n->qn == n->qcap) {
        n->qcap = n->qcap ? n->qcap * 2 : 256;
        n->q = realloc(n->q, n->qcap * sizeof(flight));
      }
      flight *f = &n->q[n->qn++];
      f->at = n->now + n->delay;
      f->to_server = to_server;
      f->from = to_server ? n->caddr : n->saddr;
      f->to = to_server ? n->saddr : n->caddr;
      f->len = l;
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
  }
  /* the server sinks everything readable on the stream */
  if (n->sc != NULL && !n->rx_fin) {
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
    p2pq_endpoint_recv(f.to_server ? n->srv : n->cli, f.data, f.len, &f.to, &f.from, 0, n->now);
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

  memset(&cfg, 0, sizeof(cfg));
  p2pq_settings_default(&cfg.settings);
  cfg.alpn = alpn;
  cfg.n_alpn = 1;
  cfg.rand = rng_fill;
  cfg.is_server = 1;
  cfg.rand_user = &n->srng;
  cfg.creds = n->screds;
  cfg.settings.retry = retry;
  cfg.settings.max_datagram_frame_size = 1200;
  assert_int_equal(p2pq_endpoint_new(&n->srv, &cfg), 0);
  cfg.is_server = 0;
  cfg.rand_user = &n->crng;
  cfg.creds = n->ccreds;
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

static void send_all(net *n, const uint8_t *data, size_t len, p2pq_tstamp limit) {
  uint64_t sid;
  size_t off = 0;
  assert_int_equal(p2pq_conn_open_stream(n->cc, 1, &sid), 0);
  while (off < len || !n->rx_fin) {
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

static int setup(void **state) {
  (void)state;
  return p2pq_cert_self_signed("localhost", 3600, &g_cert, &g_cert_len, &g_key, &g_key_len);
}

static int teardown(void **state) {
  (void)state;
  free(g_cert);
  free(g_key);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake),      cmocka_unit_test(test_transfer_clean),
      cmocka_unit_test(test_transfer_loss),  cmocka_unit_test(test_retry),
      cmocka_unit_test(test_close),          cmocka_unit_test(test_garbage_ignored),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
