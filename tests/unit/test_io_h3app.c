/* The HTTP/3 glue (src/io/h3app.c) between two sans-I/O QUIC endpoints joined
 * in memory with a virtual clock: responses larger than the QUIC send buffers,
 * more requests than the peer's stream limit, stream resets, and H3 errors
 * mapped to QUIC (STOP_SENDING on a critical stream, a second control stream). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "io/h3app.h"

#define MAXQ 4096
#define NREQ 16

typedef struct dgram {
  p2pq_tstamp at;
  int to_server;
  size_t len;
  uint8_t data[1500];
} dgram;

typedef struct resp { /* what the client saw on one request stream */
  int64_t sid;
  int status, fin, reset;
  uint64_t reset_code, bytes, bad_bytes;
} resp;

typedef struct net {
  p2pq_endpoint *cli, *srv;
  p2pq_conn *cc, *sc;
  p2pq_creds *ccreds, *screds;
  p2pq_h3app *ca, *sa;
  p2pq_addr caddr, saddr;
  p2pq_tstamp now;
  uint64_t seed;
  dgram *q;
  size_t qn;
  resp r[NREQ];
  size_t nr;
  int cli_closed, srv_closed;
  uint64_t cli_close_code;
  size_t body_size; /* the server answers every GET with this many bytes */
  int one_shot;     /* the body goes to the H3 layer in one send_data call */
  int64_t sending[NREQ];
  uint64_t sent_off[NREQ];
  size_t nsending;
  size_t max_buffered; /* largest p2pq_h3app_buffered seen at the server */
} net;

static char *g_cert, *g_key;
static size_t g_cert_len, g_key_len;
static uint64_t g_max_bidi; /* server's initial_max_streams_bidi (0: default) */
static uint64_t g_window;   /* server's max_stream_window = its send buffer (0: default) */

static uint8_t body_byte(uint64_t off) { return (uint8_t)(off * 7 + (off >> 11)); }

static void rand_fill(void *user, uint8_t *out, size_t len) {
  uint64_t *s = user;
  for (size_t i = 0; i < len; i++) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    out[i] = (uint8_t)(*s >> 33);
  }
}

static void send_all(net *n) {
  uint8_t buf[1500 * 8];
  p2pq_tx tx;
  int len;
  for (int srv = 0; srv < 2; srv++)
    while ((len = p2pq_endpoint_send(srv ? n->srv : n->cli, buf, sizeof(buf), 8, &tx, n->now)) >
           0) {
      size_t seg = tx.segment ? tx.segment : (size_t)len;
      for (size_t off = 0; off < (size_t)len; off += seg) {
        dgram *d = &n->q[n->qn++];
        assert_true(n->qn < MAXQ);
        d->at = n->now + P2PQ_MS;
        d->to_server = !srv;
        d->len = (size_t)len - off < seg ? (size_t)len - off : seg;
        memcpy(d->data, buf + off, d->len);
      }
    }
}

static resp *resp_of(net *n, int64_t sid) {
  for (size_t i = 0; i < n->nr; i++)
    if (n->r[i].sid == sid)
      return &n->r[i];
  return NULL;
}

static void client_h3(net *n) {
  p2pq_h3_event ev;
  while (n->ca != NULL && p2pq_h3app_poll(n->ca, &ev, n->now)) {
    resp *r = resp_of(n, ev.stream_id);
    if (r == NULL)
      continue;
    if (ev.type == P2PQ_H3_EV_HEADERS)
      r->status = atoi(ev.fields[0].value); /* :status comes first */
    if (ev.type == P2PQ_H3_EV_DATA)
      for (size_t i = 0; i < ev.len; i++, r->bytes++)
        r->bad_bytes += ev.data[i] != body_byte(r->bytes);
    if (ev.type == P2PQ_H3_EV_FIN)
      r->fin = 1;
    if (ev.type == P2PQ_H3_EV_STREAM_RESET) {
      r->reset = 1;
      r->reset_code = ev.error_code;
    }
  }
}

static void server_pump(net *n) {
  for (size_t i = 0; i < n->nsending; i++) {
    uint64_t left = n->body_size - n->sent_off[i];
    size_t b = p2pq_h3app_buffered(n->sa, n->sending[i]);
    if (b > n->max_buffered)
      n->max_buffered = b;
    while (left > 0 && (n->one_shot || p2pq_h3app_buffered(n->sa, n->sending[i]) < 32768)) {
      size_t c = n->one_shot ? (size_t)left : left < 16384 ? (size_t)left : 16384;
      uint8_t *tmp = malloc(c);
      for (size_t k = 0; k < c; k++)
        tmp[k] = body_byte(n->sent_off[i] + k);
      assert_int_equal(p2pq_h3_conn_send_data(p2pq_h3app_h3(n->sa), n->sending[i], tmp, c,
                                              c == left),
                       0);
      free(tmp);
      n->sent_off[i] += c;
      left -= c;
    }
  }
}

static void server_h3(net *n) {
  p2pq_h3_event ev;
  while (n->sa != NULL && p2pq_h3app_poll(n->sa, &ev, n->now)) {
    const p2pq_h3_field *path = NULL;
    char len[24];
    if (ev.type != P2PQ_H3_EV_HEADERS)
      continue;
    for (size_t i = 0; i < ev.nfields; i++)
      if (strcmp(ev.fields[i].name, ":path") == 0)
        path = &ev.fields[i];
    assert_non_null(path);
    if (strcmp(path->value, "/reject") == 0) {
      assert_int_equal(p2pq_h3app_cancel(n->sa, ev.stream_id, P2PQ_H3_REQUEST_REJECTED), 0);
      continue;
    }
    snprintf(len, sizeof(len), "%zu", n->body_size);
    {
      p2pq_h3_field f[2] = {{":status", 7, "200", 3}, {"content-length", 14, len, strlen(len)}};
      assert_int_equal(p2pq_h3_conn_submit_response(p2pq_h3app_h3(n->sa), ev.stream_id, f, 2,
                                                    n->body_size == 0),
                       0);
    }
    n->sending[n->nsending] = ev.stream_id;
    n->sent_off[n->nsending++] = 0;
  }
  if (n->sa != NULL)
    server_pump(n);
}

static void events(net *n) {
  p2pq_event ev;
  p2pq_h3_config hc;
  while (p2pq_endpoint_poll_event(n->cli, &ev)) {
    if (ev.type == P2PQ_EV_CONNECTED) {
      p2pq_h3_config_default(&hc, 0);
      assert_int_equal(p2pq_h3app_new(&n->ca, ev.conn, &hc), 0);
    } else if (ev.type == P2PQ_EV_CLOSED) {
      n->cli_closed = 1;
      n->cli_close_code = ev.error_code;
    } else if (n->ca != NULL) {
      (void)p2pq_h3app_on_event(n->ca, &ev, n->now);
    }
  }
  while (p2pq_endpoint_poll_event(n->srv, &ev)) {
    if (ev.type == P2PQ_EV_CONN_NEW)
      n->sc = ev.conn;
    if (ev.type == P2PQ_EV_CLOSED) {
      n->srv_closed = 1;
      continue;
    }
    if (n->sa == NULL && ev.conn != NULL && p2pq_conn_alpn(ev.conn) != NULL) {
      p2pq_h3_config_default(&hc, 1);
      assert_int_equal(p2pq_h3app_new(&n->sa, ev.conn, &hc), 0);
    }
    if (n->sa != NULL)
      (void)p2pq_h3app_on_event(n->sa, &ev, n->now);
  }
  client_h3(n);
  server_h3(n);
  if (n->ca != NULL && !n->cli_closed)
    assert_int_equal(p2pq_h3app_flush(n->ca, n->now), 0);
  if (n->sa != NULL && !n->srv_closed)
    (void)p2pq_h3app_flush(n->sa, n->now);
}

static int step(net *n) {
  p2pq_tstamp tc = p2pq_endpoint_next_timeout(n->cli), ts = p2pq_endpoint_next_timeout(n->srv);
  p2pq_tstamp t = tc < ts ? tc : ts;
  if (n->qn > 0 && n->q[0].at <= t) {
    dgram d = n->q[0];
    memmove(&n->q[0], &n->q[1], (n->qn - 1) * sizeof(dgram));
    n->qn--;
    if (d.at > n->now)
      n->now = d.at;
    p2pq_endpoint_recv(d.to_server ? n->srv : n->cli, d.data, d.len,
                       d.to_server ? &n->saddr : &n->caddr, d.to_server ? &n->caddr : &n->saddr,
                       0, n->now);
  } else if (t != P2PQ_TSTAMP_MAX) {
    if (t > n->now)
      n->now = t;
    p2pq_endpoint_on_timeout(n->cli, n->now);
    p2pq_endpoint_on_timeout(n->srv, n->now);
  } else {
    return 0;
  }
  events(n);
  send_all(n);
  return 1;
}

static void run(net *n, int (*done)(net *), p2pq_tstamp limit) {
  p2pq_tstamp end = n->now + limit;
  while (!done(n) && n->now < end && step(n))
    ;
}

static int connected(net *n) { return n->ca != NULL && n->sa != NULL; }

static int all_answered(net *n) {
  for (size_t i = 0; i < n->nr; i++)
    if (!n->r[i].fin && !n->r[i].reset)
      return 0;
  return n->nr > 0;
}

static int cli_closed(net *n) { return n->cli_closed; }

static int never(net *n) {
  (void)n;
  return 0;
}

static void net_init(net *n) {
  static const char *alpn[] = {"h3"};
  p2pq_creds_config cc;
  p2pq_config cfg;
  memset(n, 0, sizeof(*n));
  n->q = calloc(MAXQ, sizeof(dgram));
  n->now = P2PQ_MS;
  n->seed = 42;
  p2pq_addr_parse(&n->caddr, "192.0.2.1:5000", -1);
  p2pq_addr_parse(&n->saddr, "198.51.100.1:443", -1);
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
  cfg.rand = rand_fill;
  cfg.rand_user = &n->seed;
  cfg.is_server = 1;
  cfg.creds = n->screds;
  if (g_max_bidi)
    cfg.settings.initial_max_streams_bidi = g_max_bidi;
  if (g_window) {
    cfg.settings.max_stream_window = g_window;
    cfg.settings.initial_max_stream_data = g_window / 2;
  }
  assert_int_equal(p2pq_endpoint_new(&n->srv, &cfg), 0);
  cfg.is_server = 0;
  cfg.creds = n->ccreds;
  memset(&cfg.settings, 0, sizeof(cfg.settings)); /* the client keeps the defaults */
  p2pq_settings_default(&cfg.settings);
  assert_int_equal(p2pq_endpoint_new(&n->cli, &cfg), 0);
  assert_int_equal(p2pq_endpoint_connect(n->cli, &n->cc, &n->caddr, &n->saddr, "localhost", n->now),
                   0);
  send_all(n);
  run(n, connected, 5 * P2PQ_S);
  assert_true(connected(n));
}

static void net_free(net *n) {
  p2pq_h3app_free(n->ca);
  p2pq_h3app_free(n->sa);
  p2pq_endpoint_free(n->cli);
  p2pq_endpoint_free(n->srv);
  p2pq_creds_free(n->ccreds);
  p2pq_creds_free(n->screds);
  free(n->q);
}

static void get(net *n, const char *path) {
  p2pq_h3_field f[4] = {{":method", 7, "GET", 3},
                        {":scheme", 7, "https", 5},
                        {":authority", 10, "localhost", 9},
                        {":path", 5, path, strlen(path)}};
  resp *r = &n->r[n->nr++];
  assert_int_equal(p2pq_h3_conn_submit_request(p2pq_h3app_h3(n->ca), f, 4, 1, &r->sid), 0);
  assert_int_equal(p2pq_h3app_flush(n->ca, n->now), 0);
}

static void check_complete(const net *n, size_t i) {
  assert_int_equal(n->r[i].status, 200);
  assert_true(n->r[i].fin);
  assert_int_equal(n->r[i].bytes, n->body_size);
  assert_int_equal(n->r[i].bad_bytes, 0);
}

/* A 4 MB body handed over at once: QUIC's send buffer (256 KiB here) takes
 * part, the glue keeps the rest in order and sends it as the buffer drains. */
static void test_large_body_one_shot(void **state) {
  net n;
  (void)state;
  g_window = 256 * 1024;
  net_init(&n);
  g_window = 0;
  n.body_size = 4u << 20;
  n.one_shot = 1;
  get(&n, "/big");
  run(&n, all_answered, 60 * P2PQ_S);
  check_complete(&n, 0);
  assert_true(n.max_buffered > 0); /* the glue really held bytes back */
  assert_int_equal(p2pq_h3app_buffered(n.sa, n.r[0].sid), 0);
  net_free(&n);
}

/* Paced by p2pq_h3app_buffered, as p2pquic serve does: little is queued. */
static void test_paced_body(void **state) {
  net n;
  (void)state;
  net_init(&n);
  n.body_size = 1u << 20;
  get(&n, "/a");
  get(&n, "/b");
  run(&n, all_answered, 60 * P2PQ_S);
  check_complete(&n, 0);
  check_complete(&n, 1);
  assert_true(n.max_buffered < 128 * 1024);
  net_free(&n);
}

/* 12 requests against a limit of 3 bidirectional streams: the glue opens the
 * streams as MAX_STREAMS allows, in the H3 layer's order. */
static void test_requests_beyond_stream_limit(void **state) {
  net n;
  (void)state;
  g_max_bidi = 3;
  net_init(&n);
  g_max_bidi = 0;
  n.body_size = 5000;
  for (int i = 0; i < 12; i++)
    get(&n, "/x");
  assert_true(p2pq_h3app_buffered(n.ca, n.r[11].sid) > 0); /* waits for the limit */
  run(&n, all_answered, 60 * P2PQ_S);
  for (size_t i = 0; i < 12; i++)
    check_complete(&n, i);
  net_free(&n);
}

/* A server cancel reaches the client as a reset with the H3 code. */
static void test_cancel_resets_stream(void **state) {
  net n;
  (void)state;
  net_init(&n);
  n.body_size = 100;
  get(&n, "/reject");
  get(&n, "/ok");
  run(&n, all_answered, 10 * P2PQ_S);
  assert_true(n.r[0].reset);
  assert_int_equal(n.r[0].reset_code, P2PQ_H3_REQUEST_REJECTED);
  check_complete(&n, 1);
  net_free(&n);
}

/* STOP_SENDING on the server's control stream (3) is a connection error. */
static void test_stop_on_control_stream_closes(void **state) {
  net n;
  (void)state;
  net_init(&n);
  run(&n, never, 50 * P2PQ_MS); /* the server's control stream reaches the client */
  assert_int_equal(p2pq_stream_stop_sending(n.cc, 3, P2PQ_H3_NO_ERROR), 0);
  send_all(&n);
  run(&n, cli_closed, 10 * P2PQ_S);
  assert_true(n.cli_closed);
  assert_int_equal(n.cli_close_code, P2PQ_H3_CLOSED_CRITICAL_STREAM);
  net_free(&n);
}

/* An H3 connection error at the server (a second control stream from the
 * client) closes QUIC with that code. */
static void test_h3_conn_error_closes_quic(void **state) {
  net n;
  uint64_t id;
  static const uint8_t ctrl[] = {0x00, 0x04, 0x00}; /* control type, empty SETTINGS */
  (void)state;
  net_init(&n);
  assert_int_equal(p2pq_conn_open_stream(n.cc, 0, &id), 0);
  assert_true(id > 10); /* after the glue's control and QPACK streams 2, 6, 10 */
  assert_int_equal(p2pq_stream_write(n.cc, id, ctrl, sizeof(ctrl), 0), (int64_t)sizeof(ctrl));
  send_all(&n);
  run(&n, cli_closed, 10 * P2PQ_S);
  assert_true(n.cli_closed);
  assert_int_equal(n.cli_close_code, P2PQ_H3_STREAM_CREATION_ERROR);
  net_free(&n);
}

static void test_bad_args(void **state) {
  p2pq_h3app *a = NULL;
  p2pq_h3_config hc;
  (void)state;
  p2pq_h3_config_default(&hc, 0);
  assert_int_equal(p2pq_h3app_new(&a, NULL, &hc), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_h3app_new(NULL, NULL, &hc), P2PQ_ERR_INVALID_ARG);
  p2pq_h3app_free(NULL);
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
      cmocka_unit_test(test_large_body_one_shot),
      cmocka_unit_test(test_paced_body),
      cmocka_unit_test(test_requests_beyond_stream_limit),
      cmocka_unit_test(test_cancel_resets_stream),
      cmocka_unit_test(test_stop_on_control_stream_closes),
      cmocka_unit_test(test_h3_conn_error_closes_quic),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
