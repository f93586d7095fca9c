/* The HTTP/3 connection: two p2pq_h3_conn objects exchange stream bytes in
 * random chunk sizes (GET with a 1 MB body, POST with trailers, extended
 * CONNECT with capsules, GOAWAY), and every connection/stream error case is
 * provoked by feeding crafted bytes to one side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h3/qpack.h"
#include "p2pq/error.h"
#include "p2pq/h3.h"

#define F(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}
#define NSTREAMS 32

static const p2pq_h3_field GET[] = {F(":method", "GET"), F(":scheme", "https"),
                                    F(":authority", "a"), F(":path", "/")};

/* What one side's application saw. */
typedef struct evlog {
  int n[P2PQ_H3_EV_CONN_ERROR + 1];
  uint64_t last_code[P2PQ_H3_EV_CONN_ERROR + 1];
  int64_t last_sid[P2PQ_H3_EV_CONN_ERROR + 1];
  uint64_t goaway_id;
  char hdr[NSTREAMS][1024];  /* last header section, "name: value\n" */
  char trl[NSTREAMS][1024];  /* trailers */
  uint8_t *body[NSTREAMS];
  size_t body_len[NSTREAMS];
  int fin[NSTREAMS];
} evlog;

static void join_fields(char *dst, size_t cap, const p2pq_h3_event *ev) {
  size_t i, off = 0;
  dst[0] = 0;
  for (i = 0; i < ev->nfields && off < cap; i++)
    off += (size_t)snprintf(dst + off, cap - off, "%.*s: %.*s\n", (int)ev->fields[i].name_len,
                            ev->fields[i].name, (int)ev->fields[i].value_len, ev->fields[i].value);
}

static void drain(p2pq_h3_conn *c, evlog *l) {
  p2pq_h3_event ev;
  while (p2pq_h3_conn_poll_event(c, &ev)) {
    size_t k = ev.stream_id >= 0 ? (size_t)(ev.stream_id / 4) % NSTREAMS : 0;
    l->n[ev.type]++;
    l->last_code[ev.type] = ev.error_code;
    l->last_sid[ev.type] = ev.stream_id;
    switch (ev.type) {
    case P2PQ_H3_EV_HEADERS: join_fields(l->hdr[k], sizeof l->hdr[k], &ev); break;
    case P2PQ_H3_EV_TRAILERS: join_fields(l->trl[k], sizeof l->trl[k], &ev); break;
    case P2PQ_H3_EV_DATA:
      l->body[k] = realloc(l->body[k], l->body_len[k] + ev.len);
      assert_non_null(l->body[k]);
      memcpy(l->body[k] + l->body_len[k], ev.data, ev.len);
      l->body_len[k] += ev.len;
      break;
    case P2PQ_H3_EV_FIN: l->fin[k] = 1; break;
    case P2PQ_H3_EV_GOAWAY: l->goaway_id = ev.id; break;
    default: break;
    }
  }
}

static void evlog_free(evlog *l) {
  size_t i;
  for (i = 0; i < NSTREAMS; i++)
    free(l->body[i]);
  memset(l, 0, sizeof *l);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)rng_state;
}

/* Moves everything a has to send into b, in random chunk sizes. */
static size_t pump(p2pq_h3_conn *a, p2pq_h3_conn *b) {
  static uint8_t buf[3000];
  int64_t sid;
  size_t moved = 0;
  while ((sid = p2pq_h3_conn_next_stream(a)) >= 0) {
    int fin = 0, n = p2pq_h3_conn_send(a, sid, buf, 1 + rnd() % sizeof buf, &fin);
    assert_true(n >= 0);
    p2pq_h3_conn_recv(b, sid, buf, (size_t)n, fin);
    moved += (size_t)n + (size_t)fin;
  }
  return moved;
}

typedef struct pair {
  p2pq_h3_conn *cli, *srv;
  evlog lc, ls;
} pair;

static void exchange(pair *p) {
  size_t moved;
  do {
    moved = pump(p->cli, p->srv);
    drain(p->srv, &p->ls);
    moved += pump(p->srv, p->cli);
    drain(p->cli, &p->lc);
  } while (moved);
}

static void grease_rand(void *user, uint8_t *out, size_t len) {
  (void)user;
  while (len--)
    *out++ = (uint8_t)rnd();
}

static void pair_new(pair *p) {
  p2pq_h3_config cc, sc;
  memset(p, 0, sizeof *p);
  p2pq_h3_config_default(&cc, 0);
  p2pq_h3_config_default(&sc, 1);
  cc.rand = sc.rand = grease_rand;
  assert_int_equal(p2pq_h3_conn_new(&p->cli, &cc), 0);
  assert_int_equal(p2pq_h3_conn_new(&p->srv, &sc), 0);
}

static void pair_free(pair *p) {
  p2pq_h3_conn_free(p->cli);
  p2pq_h3_conn_free(p->srv);
  evlog_free(&p->lc);
  evlog_free(&p->ls);
}

static void test_settings_exchange(void **st) {
  pair p;
  const p2pq_h3_settings *s;
  (void)st;
  pair_new(&p);
  assert_null(p2pq_h3_conn_peer_settings(p.cli));
  exchange(&p);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_SETTINGS], 1);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_SETTINGS], 1);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_CONN_ERROR] + p.ls.n[P2PQ_H3_EV_CONN_ERROR], 0);
  s = p2pq_h3_conn_peer_settings(p.cli);
  assert_non_null(s);
  assert_int_equal(s->enable_connect_protocol, 1);
  assert_int_equal(s->h3_datagram, 1);
  assert_int_equal(s->qpack_max_table_capacity, 4096);
  assert_int_equal(s->max_field_section_size, 65536);
  s = p2pq_h3_conn_peer_settings(p.srv);
  assert_int_equal(s->enable_connect_protocol, 0);
  pair_free(&p);
}

/* The control stream carries type 0, SETTINGS with a grease setting, then a
 * grease frame (RFC 9114 7.2.4.1, 7.2.8). */
static void test_control_stream_bytes(void **st) {
  p2pq_h3_config cfg;
  p2pq_h3_conn *c;
  uint8_t buf[256];
  int fin = 1, n;
  size_t used;
  p2pq_h3_frame f;
  uint64_t err;
  (void)st;
  p2pq_h3_config_default(&cfg, 1);
  assert_int_equal(p2pq_h3_conn_new(&c, &cfg), 0);
  assert_int_equal(p2pq_h3_conn_next_stream(c), 3); /* server's first unidirectional */
  n = p2pq_h3_conn_send(c, 3, buf, sizeof buf, &fin);
  assert_true(n > 3);
  assert_int_equal(fin, 0);
  assert_int_equal(buf[0], P2PQ_H3_STREAM_CONTROL);
  assert_int_equal(p2pq_h3_frame_decode(buf + 1, (size_t)n - 1, &f, &used, &err), 0);
  assert_int_equal(f.type, P2PQ_H3_FRAME_SETTINGS);
  assert_int_equal(f.unknown_settings, 1);
  assert_int_equal(f.settings.enable_connect_protocol, 1);
  assert_int_equal(p2pq_h3_frame_decode(buf + 1 + used, (size_t)n - 1 - used, &f, &used, &err), 0);
  assert_true(p2pq_h3_is_grease(f.type));
  assert_int_equal(p2pq_h3_conn_next_stream(c), 7);
  n = p2pq_h3_conn_send(c, 7, buf, sizeof buf, &fin);
  assert_int_equal(n, 1);
  assert_int_equal(buf[0], P2PQ_H3_STREAM_QPACK_ENCODER);
  n = p2pq_h3_conn_send(c, 11, buf, sizeof buf, &fin);
  assert_int_equal(buf[0], P2PQ_H3_STREAM_QPACK_DECODER);
  assert_int_equal(p2pq_h3_conn_next_stream(c), -1);
  assert_int_equal(p2pq_h3_conn_send(c, 11, buf, sizeof buf, &fin), P2PQ_ERR_AGAIN);
  p2pq_h3_conn_free(c);
}

static void test_get_1mb(void **st) {
  const p2pq_h3_field req[] = {F(":method", "GET"), F(":scheme", "https"),
                               F(":authority", "peer.example"), F(":path", "/big.bin")};
  const p2pq_h3_field resp[] = {F(":status", "200"), F("content-length", "1048576"),
                                F("content-type", "application/octet-stream")};
  const size_t total = 1048576;
  uint8_t *body = malloc(total);
  int64_t sid;
  size_t i, off;
  pair p;
  (void)st;
  assert_non_null(body);
  for (i = 0; i < total; i++)
    body[i] = (uint8_t)(i * 7 + (i >> 10));
  pair_new(&p);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 4, 1, &sid), 0);
  assert_int_equal(sid, 0);
  exchange(&p);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_HEADERS], 1);
  assert_string_equal(p.ls.hdr[0], ":method: GET\n:scheme: https\n:authority: peer.example\n"
                                   ":path: /big.bin\n");
  assert_int_equal(p.ls.fin[0], 1);
  assert_int_equal(p2pq_h3_conn_submit_response(p.srv, 0, resp, 3, 0), 0);
  /* a response is one header section: a second final one is refused */
  assert_int_equal(p2pq_h3_conn_submit_response(p.srv, 0, resp, 3, 0), P2PQ_ERR_STATE);
  for (off = 0; off < total;) {
    size_t n = 1 + rnd() % 70000;
    if (n > total - off)
      n = total - off;
    assert_int_equal(p2pq_h3_conn_send_data(p.srv, 0, body + off, n, off + n == total), 0);
    off += n;
    if (rnd() % 4 == 0)
      exchange(&p);
  }
  exchange(&p);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_HEADERS], 1);
  assert_non_null(strstr(p.lc.hdr[0], ":status: 200\n"));
  assert_int_equal(p.lc.body_len[0], total);
  assert_memory_equal(p.lc.body[0], body, total);
  assert_int_equal(p.lc.fin[0], 1);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_CONN_ERROR] + p.ls.n[P2PQ_H3_EV_CONN_ERROR], 0);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_STREAM_ERROR] + p.ls.n[P2PQ_H3_EV_STREAM_ERROR], 0);
  assert_int_equal(p2pq_h3_conn_send_data(p.srv, 0, body, 1, 0), P2PQ_ERR_NOT_FOUND);
  pair_free(&p);
  free(body);
}

static void test_post_trailers(void **st) {
  const p2pq_h3_field req[] = {F(":method", "POST"), F(":scheme", "https"),
                               F(":authority", "peer.example"), F(":path", "/upload"),
                               F("te", "trailers")};
  const p2pq_h3_field trl[] = {F("x-checksum", "abc123")};
  const p2pq_h3_field resp[] = {F(":status", "201")};
  const p2pq_h3_field rtrl[] = {F("x-result", "stored")};
  const p2pq_h3_field bad_trl[] = {F(":status", "200")};
  int64_t sid;
  pair p;
  (void)st;
  pair_new(&p);
  exchange(&p);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 5, 0, &sid), 0);
  assert_int_equal(p2pq_h3_conn_send_data(p.cli, sid, (const uint8_t *)"hello ", 6, 0), 0);
  assert_int_equal(p2pq_h3_conn_send_data(p.cli, sid, (const uint8_t *)"world", 5, 0), 0);
  assert_int_equal(p2pq_h3_conn_submit_trailers(p.cli, sid, bad_trl, 1), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_h3_conn_submit_trailers(p.cli, sid, trl, 1), 0);
  assert_int_equal(p2pq_h3_conn_send_data(p.cli, sid, (const uint8_t *)"x", 1, 0), P2PQ_ERR_STATE);
  exchange(&p);
  assert_int_equal(p.ls.body_len[0], 11);
  assert_memory_equal(p.ls.body[0], "hello world", 11);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_TRAILERS], 1);
  assert_string_equal(p.ls.trl[0], "x-checksum: abc123\n");
  assert_int_equal(p.ls.fin[0], 1);
  assert_int_equal(p2pq_h3_conn_submit_response(p.srv, sid, resp, 1, 0), 0);
  assert_int_equal(p2pq_h3_conn_send_data(p.srv, sid, (const uint8_t *)"ok", 2, 0), 0);
  assert_int_equal(p2pq_h3_conn_submit_trailers(p.srv, sid, rtrl, 1), 0);
  exchange(&p);
  assert_non_null(strstr(p.lc.hdr[0], ":status: 201\n"));
  assert_int_equal(p.lc.body_len[0], 2);
  assert_string_equal(p.lc.trl[0], "x-result: stored\n");
  assert_int_equal(p.lc.fin[0], 1);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_STREAM_ERROR] + p.ls.n[P2PQ_H3_EV_STREAM_ERROR], 0);
  pair_free(&p);
}

/* RFC 9220 extended CONNECT carrying RFC 9297 capsules both ways. */
static void test_extended_connect(void **st) {
  const p2pq_h3_field req[] = {F(":method", "CONNECT"), F(":protocol", "connect-udp"),
                               F(":scheme", "https"), F(":authority", "relay.example:443"),
                               F(":path", "/.well-known/masque/udp/192.0.2.6/443/"),
                               F("capsule-protocol", "?1")};
  const p2pq_h3_field resp[] = {F(":status", "200"), F("capsule-protocol", "?1")};
  uint8_t caps[256];
  const uint8_t *pl;
  size_t pll, used;
  int64_t sid;
  int n, m;
  pair p;
  (void)st;
  pair_new(&p);
  /* not before the server's SETTINGS enabled it */
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 6, 0, &sid), P2PQ_ERR_STATE);
  exchange(&p);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 6, 0, &sid), 0);
  /* a grease capsule, then a DATAGRAM capsule */
  n = p2pq_h3_capsule_encode(caps, sizeof caps, 0x17 + 0x29, (const uint8_t *)"zz", 2);
  m = p2pq_h3_capsule_encode(caps + n, sizeof caps - (size_t)n, P2PQ_H3_CAPSULE_DATAGRAM,
                             (const uint8_t *)"\x00udp-payload", 12);
  assert_true(n > 0 && m > 0);
  assert_int_equal(p2pq_h3_conn_send_data(p.cli, sid, caps, (size_t)(n + m), 0), 0);
  exchange(&p);
  assert_non_null(strstr(p.ls.hdr[0], ":protocol: connect-udp\n"));
  assert_int_equal(p.ls.fin[0], 0);
  assert_int_equal(p2pq_h3_capsule_next_datagram(p.ls.body[0], p.ls.body_len[0], &pl, &pll, &used), 1);
  assert_int_equal(used, p.ls.body_len[0]);
  assert_int_equal(pll, 12);
  assert_memory_equal(pl, "\x00udp-payload", 12);
  assert_int_equal(p2pq_h3_conn_submit_response(p.srv, sid, resp, 2, 0), 0);
  assert_int_equal(p2pq_h3_conn_send_data(p.srv, sid, caps + n, (size_t)m, 0), 0);
  exchange(&p);
  assert_non_null(strstr(p.lc.hdr[0], ":status: 200\n"));
  assert_int_equal(p.lc.body_len[0], (size_t)m);
  /* clean close: FIN both ways */
  assert_int_equal(p2pq_h3_conn_end_stream(p.cli, sid), 0);
  assert_int_equal(p2pq_h3_conn_end_stream(p.srv, sid), 0);
  exchange(&p);
  assert_int_equal(p.lc.fin[0], 1);
  assert_int_equal(p.ls.fin[0], 1);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_STREAM_ERROR] + p.ls.n[P2PQ_H3_EV_STREAM_ERROR], 0);
  pair_free(&p);
}

static void test_goaway(void **st) {
  const p2pq_h3_field req[] = {F(":method", "GET"), F(":scheme", "https"),
                               F(":authority", "a"), F(":path", "/")};
  int64_t s0, s1, s2;
  pair p;
  (void)st;
  pair_new(&p);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 4, 1, &s0), 0);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 4, 1, &s1), 0);
  exchange(&p);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_HEADERS], 2);
  assert_int_equal(p2pq_h3_conn_goaway(p.srv, P2PQ_H3_GOAWAY_AUTO), 0);
  assert_int_equal(p2pq_h3_conn_goaway(p.srv, 12), P2PQ_ERR_INVALID_ARG); /* may not grow */
  assert_int_equal(p2pq_h3_conn_goaway(p.srv, 6), P2PQ_ERR_INVALID_ARG);  /* not a request id */
  exchange(&p);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_GOAWAY], 1);
  assert_int_equal(p.lc.goaway_id, 8);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 4, 1, &s2), P2PQ_ERR_CLOSED);
  /* the accepted requests still complete */
  assert_int_equal(p2pq_h3_conn_submit_response(p.srv, s1, (const p2pq_h3_field[]){F(":status", "204")}, 1, 1), 0);
  exchange(&p);
  assert_int_equal(p.lc.fin[1], 1);
  /* a lower GOAWAY is fine; the client's GOAWAY carries a push ID */
  assert_int_equal(p2pq_h3_conn_goaway(p.srv, 4), 0);
  assert_int_equal(p2pq_h3_conn_goaway(p.cli, P2PQ_H3_GOAWAY_AUTO), 0);
  exchange(&p);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_GOAWAY], 2);
  assert_int_equal(p.lc.goaway_id, 4);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_GOAWAY], 1);
  assert_int_equal(p.ls.goaway_id, 0);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_CONN_ERROR] + p.ls.n[P2PQ_H3_EV_CONN_ERROR], 0);
  pair_free(&p);
}

/* A request whose field section references dynamic entries still in flight on
 * the encoder stream waits for them (RFC 9204 2.1.2). */
static void test_blocked_request(void **st) {
  const p2pq_h3_field req[] = {F(":method", "GET"), F(":scheme", "https"),
                               F(":authority", "relay.example.net"), F(":path", "/x"),
                               F("user-agent", "p2pquic-test"), F("x-custom", "value-1")};
  uint8_t buf[4096];
  int64_t sid;
  int fin, n;
  pair p;
  (void)st;
  pair_new(&p);
  exchange(&p);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 6, 1, &sid), 0);
  assert_true(p2pq_h3_conn_pending(p.cli, 6) > 0); /* inserts on the client's encoder stream */
  n = p2pq_h3_conn_send(p.cli, sid, buf, sizeof buf, &fin);
  assert_true(n > 0);
  assert_int_equal(fin, 1);
  assert_int_equal(p2pq_h3_conn_recv(p.srv, sid, buf, (size_t)n, fin), 0);
  drain(p.srv, &p.ls);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_HEADERS], 0);
  assert_int_equal(p.ls.fin[0], 0);
  exchange(&p);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_HEADERS], 1);
  assert_string_equal(p.ls.hdr[0], ":method: GET\n:scheme: https\n:authority: relay.example.net\n"
                                   ":path: /x\nuser-agent: p2pquic-test\nx-custom: value-1\n");
  assert_int_equal(p.ls.fin[0], 1);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_CONN_ERROR] + p.lc.n[P2PQ_H3_EV_CONN_ERROR], 0);
  pair_free(&p);
}

static void test_http_datagrams(void **st) {
  const p2pq_h3_field req[] = {F(":method", "CONNECT"), F(":protocol", "connect-udp"),
                               F(":scheme", "https"), F(":authority", "relay.example:443"),
                               F(":path", "/.well-known/masque/udp/192.0.2.6/443/"),
                               F("capsule-protocol", "?1")};
  static const uint8_t junk[] = {0x40};
  uint8_t dg[64];
  const uint8_t *pl;
  size_t pll;
  int64_t sid, got;
  int n;
  pair p;
  (void)st;
  pair_new(&p);
  assert_false(p2pq_h3_conn_datagrams_ok(p.cli));
  exchange(&p);
  assert_true(p2pq_h3_conn_datagrams_ok(p.cli));
  assert_true(p2pq_h3_conn_datagrams_ok(p.srv));
  assert_int_equal(p2pq_h3_conn_make_datagram(p.cli, 0, (const uint8_t *)"x", 1, dg, sizeof dg),
                   P2PQ_ERR_STATE); /* no such request yet */
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 6, 0, &sid), 0);
  n = p2pq_h3_conn_make_datagram(p.cli, sid, (const uint8_t *)"\x00hello", 6, dg, sizeof dg);
  assert_int_equal(n, 7);
  /* before the request arrives the server drops it */
  assert_int_equal(p2pq_h3_conn_recv_datagram(p.srv, dg, (size_t)n, &got, &pl, &pll),
                   P2PQ_ERR_AGAIN);
  exchange(&p);
  assert_int_equal(p2pq_h3_conn_recv_datagram(p.srv, dg, (size_t)n, &got, &pl, &pll), 0);
  assert_int_equal(got, sid);
  assert_int_equal(pll, 6);
  assert_memory_equal(pl, "\x00hello", 6);
  /* a truncated quarter stream ID is a connection error */
  assert_int_equal(p2pq_h3_conn_recv_datagram(p.srv, junk, 1, &got, &pl, &pll), P2PQ_ERR_H3);
  assert_int_equal(p2pq_h3_conn_error(p.srv), P2PQ_H3_DATAGRAM_ERROR);
  /* after FIN the client may no longer send any */
  assert_int_equal(p2pq_h3_conn_end_stream(p.cli, sid), 0);
  assert_int_equal(p2pq_h3_conn_make_datagram(p.cli, sid, dg, 1, dg + 8, 8), P2PQ_ERR_STATE);
  pair_free(&p);
}

/* Many requests in flight at once, answered out of order. */
static void test_many_requests(void **st) {
  int64_t sids[24];
  char body[32];
  size_t i;
  pair p;
  (void)st;
  pair_new(&p);
  for (i = 0; i < 24; i++)
    assert_int_equal(p2pq_h3_conn_submit_request(p.cli, GET, 4, 1, &sids[i]), 0);
  exchange(&p);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_HEADERS], 24);
  for (i = 24; i-- > 0;) {
    int n = snprintf(body, sizeof body, "resp-%d", (int)sids[i]);
    assert_int_equal(p2pq_h3_conn_submit_response(p.srv, sids[i], (const p2pq_h3_field[]){F(":status", "200")}, 1, 0), 0);
    assert_int_equal(p2pq_h3_conn_send_data(p.srv, sids[i], (const uint8_t *)body, (size_t)n, 1), 0);
  }
  exchange(&p);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_HEADERS], 24);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_FIN], 24);
  for (i = 0; i < 24; i++) {
    size_t k = (size_t)sids[i] / 4;
    int n = snprintf(body, sizeof body, "resp-%d", (int)sids[i]);
    assert_int_equal(p.lc.body_len[k], (size_t)n);
    assert_memory_equal(p.lc.body[k], body, (size_t)n);
  }
  /* finished streams are forgotten: nothing pending anywhere */
  assert_int_equal(p2pq_h3_conn_next_stream(p.cli), -1);
  assert_int_equal(p2pq_h3_conn_next_stream(p.srv), -1);
  assert_int_equal(p2pq_h3_conn_stream_close(p.srv, sids[3]), P2PQ_ERR_NOT_FOUND);
  pair_free(&p);
}

/* Every stream delivered one byte at a time: each frame and varint is split. */
static void test_byte_at_a_time(void **st) {
  const p2pq_h3_field req[] = {F(":method", "POST"), F(":scheme", "https"),
                               F(":authority", "peer.example"), F(":path", "/p"),
                               F("x-long-header-name", "a-value-long-enough-to-split")};
  const p2pq_h3_field trl[] = {F("x-sum", "42")};
  uint8_t b;
  int64_t sid, s2;
  int fin;
  pair p;
  (void)st;
  pair_new(&p);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, req, 5, 0, &sid), 0);
  assert_int_equal(p2pq_h3_conn_send_data(p.cli, sid, (const uint8_t *)"0123456789", 10, 0), 0);
  assert_int_equal(p2pq_h3_conn_submit_trailers(p.cli, sid, trl, 1), 0);
  while ((s2 = p2pq_h3_conn_next_stream(p.cli)) >= 0) {
    int n = p2pq_h3_conn_send(p.cli, s2, &b, 1, &fin);
    assert_true(n >= 0);
    assert_int_equal(p2pq_h3_conn_recv(p.srv, s2, &b, (size_t)n, fin), 0);
  }
  drain(p.srv, &p.ls);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_SETTINGS], 1);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_HEADERS], 1);
  assert_non_null(strstr(p.ls.hdr[0], "x-long-header-name: a-value-long-enough-to-split\n"));
  assert_int_equal(p.ls.body_len[0], 10);
  assert_memory_equal(p.ls.body[0], "0123456789", 10);
  assert_string_equal(p.ls.trl[0], "x-sum: 42\n");
  assert_int_equal(p.ls.fin[0], 1);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_CONN_ERROR] + p.ls.n[P2PQ_H3_EV_STREAM_ERROR], 0);
  pair_free(&p);
}

/* ---- error cases: one side fed crafted bytes ---- */

static const uint8_t CTRL_SETTINGS[] = {0x00, 0x04, 0x00}; /* control stream, empty SETTINGS */

static p2pq_h3_conn *peer_of(int is_server, uint64_t max_fs, int connect) {
  p2pq_h3_config cfg;
  p2pq_h3_conn *c;
  p2pq_h3_config_default(&cfg, is_server);
  if (max_fs)
    cfg.local.max_field_section_size = max_fs;
  cfg.local.enable_connect_protocol = (uint8_t)connect;
  assert_int_equal(p2pq_h3_conn_new(&c, &cfg), 0);
  return c;
}

/* A server that has seen the client's control stream (stream 2). */
static p2pq_h3_conn *server(void) {
  p2pq_h3_conn *c = peer_of(1, 0, 1);
  assert_int_equal(p2pq_h3_conn_recv(c, 2, CTRL_SETTINGS, sizeof CTRL_SETTINGS, 0), 0);
  return c;
}

static p2pq_h3_conn *client(void) {
  p2pq_h3_conn *c = peer_of(0, 0, 0);
  assert_int_equal(p2pq_h3_conn_recv(c, 3, CTRL_SETTINGS, sizeof CTRL_SETTINGS, 0), 0);
  return c;
}

/* The code of the first event of type t, or 0. */
static uint64_t event_code(p2pq_h3_conn *c, p2pq_h3_event_type t, int64_t *sid) {
  p2pq_h3_event ev;
  uint64_t code = 0;
  int found = 0;
  while (p2pq_h3_conn_poll_event(c, &ev)) {
    if (ev.type == t && !found) {
      code = ev.type == P2PQ_H3_EV_CONN_ERROR || ev.type == P2PQ_H3_EV_STREAM_ERROR ||
                     ev.type == P2PQ_H3_EV_STREAM_RESET || ev.type == P2PQ_H3_EV_STOP_READING
                 ? ev.error_code
                 : 1;
      if (sid)
        *sid = ev.stream_id;
      found = 1;
    }
  }
  return code;
}

static void expect_conn_error(p2pq_h3_conn *c, uint64_t code) {
  assert_int_equal(p2pq_h3_conn_error(c), code);
  assert_int_equal(event_code(c, P2PQ_H3_EV_CONN_ERROR, NULL), code);
  /* a failed connection refuses further input */
  assert_int_equal(p2pq_h3_conn_recv(c, 0, (const uint8_t *)"x", 1, 0), P2PQ_ERR_H3);
  p2pq_h3_conn_free(c);
}

static void expect_stream_error(p2pq_h3_conn *c, int64_t sid, uint64_t code) {
  int64_t got = -1;
  assert_int_equal(p2pq_h3_conn_error(c), 0);
  assert_int_equal(event_code(c, P2PQ_H3_EV_STREAM_ERROR, &got), code);
  assert_int_equal(got, sid);
  p2pq_h3_conn_free(c);
}

/* HEADERS frame of fields, QPACK with the static table only. */
static size_t headers_frame(const p2pq_h3_field *f, size_t n, uint8_t *out, size_t cap) {
  p2pq_h3_qenc *e;
  p2pq_h3_bytes sec = {0}, es = {0};
  int h;
  size_t len;
  assert_int_equal(p2pq_h3_qenc_new(&e, 0), 0);
  assert_int_equal(p2pq_h3_qenc_encode(e, 0, f, n, &sec, &es), 0);
  len = p2pq_h3_bytes_avail(&sec);
  h = p2pq_h3_frame_encode_header(out, cap, P2PQ_H3_FRAME_HEADERS, len);
  assert_true(h > 0 && (size_t)h + len <= cap);
  memcpy(out + h, p2pq_h3_bytes_head(&sec), len);
  p2pq_h3_bytes_clear(&sec);
  p2pq_h3_bytes_clear(&es);
  p2pq_h3_qenc_free(e);
  return (size_t)h + len;
}


static void test_control_stream_errors(void **st) {
  static const uint8_t goaway_first[] = {0x00, 0x07, 0x01, 0x00};
  static const uint8_t grease_first[] = {0x00, 0x21, 0x00};
  static const uint8_t settings2[] = {0x04, 0x00};
  static const uint8_t data_on_ctrl[] = {0x00, 0x01, 0x61};
  static const uint8_t headers_on_ctrl[] = {0x01, 0x00};
  static const uint8_t h2_priority[] = {0x02, 0x00};
  static const uint8_t goaway_extra[] = {0x07, 0x02, 0x00, 0x00};
  static const uint8_t push_promise_ctrl[] = {0x05, 0x01, 0x00};
  static const uint8_t big_unknown_ok[] = {0x21, 0x03, 1, 2, 3};
  static const uint8_t dup_setting[] = {0x00, 0x04, 0x04, 0x01, 0x00, 0x01, 0x00};
  static const uint8_t h2_setting[] = {0x00, 0x04, 0x02, 0x02, 0x00};
  p2pq_h3_conn *c;
  (void)st;
  c = peer_of(1, 0, 1);
  p2pq_h3_conn_recv(c, 2, goaway_first, sizeof goaway_first, 0);
  expect_conn_error(c, P2PQ_H3_MISSING_SETTINGS);
  c = peer_of(1, 0, 1);
  p2pq_h3_conn_recv(c, 2, grease_first, sizeof grease_first, 0);
  expect_conn_error(c, P2PQ_H3_MISSING_SETTINGS);
  c = peer_of(1, 0, 1);
  p2pq_h3_conn_recv(c, 2, dup_setting, sizeof dup_setting, 0);
  expect_conn_error(c, P2PQ_H3_SETTINGS_ERROR);
  c = peer_of(1, 0, 1);
  p2pq_h3_conn_recv(c, 2, h2_setting, sizeof h2_setting, 0);
  expect_conn_error(c, P2PQ_H3_SETTINGS_ERROR);
  c = server();
  assert_int_equal(p2pq_h3_conn_recv(c, 2, big_unknown_ok, sizeof big_unknown_ok, 0), 0);
  assert_int_equal(p2pq_h3_conn_recv(c, 2, settings2, sizeof settings2, 0), P2PQ_ERR_H3);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = server();
  p2pq_h3_conn_recv(c, 2, data_on_ctrl, sizeof data_on_ctrl, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = server();
  p2pq_h3_conn_recv(c, 2, headers_on_ctrl, sizeof headers_on_ctrl, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = server();
  p2pq_h3_conn_recv(c, 2, h2_priority, sizeof h2_priority, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = server();
  p2pq_h3_conn_recv(c, 2, push_promise_ctrl, sizeof push_promise_ctrl, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = server();
  p2pq_h3_conn_recv(c, 2, goaway_extra, sizeof goaway_extra, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_ERROR);
}

static void test_critical_streams(void **st) {
  static const uint8_t qenc_type[] = {0x02};
  p2pq_h3_conn *c;
  (void)st;
  c = server(); /* FIN on the control stream */
  p2pq_h3_conn_recv(c, 2, NULL, 0, 1);
  expect_conn_error(c, P2PQ_H3_CLOSED_CRITICAL_STREAM);
  c = server(); /* reset of the control stream */
  assert_int_equal(p2pq_h3_conn_recv_reset(c, 2, P2PQ_H3_NO_ERROR), P2PQ_ERR_H3);
  expect_conn_error(c, P2PQ_H3_CLOSED_CRITICAL_STREAM);
  c = server(); /* QPACK encoder stream closed */
  assert_int_equal(p2pq_h3_conn_recv(c, 6, qenc_type, 1, 0), 0);
  p2pq_h3_conn_recv(c, 6, NULL, 0, 1);
  expect_conn_error(c, P2PQ_H3_CLOSED_CRITICAL_STREAM);
  c = server(); /* second control stream */
  p2pq_h3_conn_recv(c, 6, CTRL_SETTINGS, sizeof CTRL_SETTINGS, 0);
  expect_conn_error(c, P2PQ_H3_STREAM_CREATION_ERROR);
  c = server(); /* second encoder stream */
  p2pq_h3_conn_recv(c, 6, qenc_type, 1, 0);
  p2pq_h3_conn_recv(c, 10, qenc_type, 1, 0);
  expect_conn_error(c, P2PQ_H3_STREAM_CREATION_ERROR);
}

static void test_uni_stream_types(void **st) {
  static const uint8_t unknown[] = {0x40, 0x21, 'j', 'u', 'n', 'k'}; /* grease type 0x21 */
  static const uint8_t push[] = {0x01, 0x00};
  p2pq_h3_conn *c;
  int64_t sid = -1;
  (void)st;
  c = server();
  assert_int_equal(p2pq_h3_conn_recv(c, 6, unknown, sizeof unknown, 0), 0);
  assert_int_equal(event_code(c, P2PQ_H3_EV_STOP_READING, &sid), P2PQ_H3_STREAM_CREATION_ERROR);
  assert_int_equal(sid, 6);
  assert_int_equal(p2pq_h3_conn_recv(c, 6, unknown, sizeof unknown, 1), 0); /* still ignored */
  assert_int_equal(p2pq_h3_conn_error(c), 0);
  p2pq_h3_conn_free(c);
  c = client(); /* a push stream: the client never sent MAX_PUSH_ID */
  p2pq_h3_conn_recv(c, 7, push, sizeof push, 0);
  expect_conn_error(c, P2PQ_H3_ID_ERROR);
  c = server(); /* clients cannot push */
  p2pq_h3_conn_recv(c, 6, push, sizeof push, 0);
  expect_conn_error(c, P2PQ_H3_STREAM_CREATION_ERROR);
  c = client(); /* server-initiated bidirectional stream */
  p2pq_h3_conn_recv(c, 1, push, sizeof push, 0);
  expect_conn_error(c, P2PQ_H3_STREAM_CREATION_ERROR);
}

static void test_push_and_goaway_ids(void **st) {
  static const uint8_t max_push_5[] = {0x0d, 0x01, 0x05};
  static const uint8_t max_push_3[] = {0x0d, 0x01, 0x03};
  static const uint8_t cancel_4[] = {0x03, 0x01, 0x04};
  static const uint8_t cancel_9[] = {0x03, 0x01, 0x09};
  static const uint8_t goaway_6[] = {0x07, 0x01, 0x06};
  static const uint8_t goaway_4[] = {0x07, 0x01, 0x04};
  static const uint8_t goaway_8[] = {0x07, 0x01, 0x08};
  p2pq_h3_conn *c;
  (void)st;
  c = server(); /* CANCEL_PUSH with no MAX_PUSH_ID */
  p2pq_h3_conn_recv(c, 2, cancel_4, sizeof cancel_4, 0);
  expect_conn_error(c, P2PQ_H3_ID_ERROR);
  c = server();
  assert_int_equal(p2pq_h3_conn_recv(c, 2, max_push_5, sizeof max_push_5, 0), 0);
  assert_int_equal(p2pq_h3_conn_recv(c, 2, cancel_4, sizeof cancel_4, 0), 0);
  p2pq_h3_conn_recv(c, 2, cancel_9, sizeof cancel_9, 0);
  expect_conn_error(c, P2PQ_H3_ID_ERROR);
  c = server(); /* MAX_PUSH_ID may not shrink */
  assert_int_equal(p2pq_h3_conn_recv(c, 2, max_push_5, sizeof max_push_5, 0), 0);
  p2pq_h3_conn_recv(c, 2, max_push_3, sizeof max_push_3, 0);
  expect_conn_error(c, P2PQ_H3_ID_ERROR);
  c = client(); /* MAX_PUSH_ID from a server */
  p2pq_h3_conn_recv(c, 3, max_push_5, sizeof max_push_5, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = client(); /* GOAWAY naming a non-request stream */
  p2pq_h3_conn_recv(c, 3, goaway_6, sizeof goaway_6, 0);
  expect_conn_error(c, P2PQ_H3_ID_ERROR);
  c = client(); /* GOAWAY ids may not grow */
  assert_int_equal(p2pq_h3_conn_recv(c, 3, goaway_4, sizeof goaway_4, 0), 0);
  p2pq_h3_conn_recv(c, 3, goaway_8, sizeof goaway_8, 0);
  expect_conn_error(c, P2PQ_H3_ID_ERROR);
}

static void test_request_stream_errors(void **st) {
  uint8_t buf[512];
  static const uint8_t settings[] = {0x04, 0x00};
  static const uint8_t data[] = {0x00, 0x01, 'x'};
  static const uint8_t push_promise[] = {0x05, 0x02, 0x00, 0x00};
  static const uint8_t truncated[] = {0x00, 0x05, 'a', 'b'};
  static const uint8_t grease[] = {0x21, 0x02, 'g', 'g'};
  size_t n;
  p2pq_h3_conn *c;
  (void)st;
  c = server(); /* SETTINGS on a request stream */
  p2pq_h3_conn_recv(c, 0, settings, sizeof settings, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = server(); /* DATA before HEADERS */
  p2pq_h3_conn_recv(c, 0, data, sizeof data, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = server(); /* PUSH_PROMISE from a client */
  p2pq_h3_conn_recv(c, 0, push_promise, sizeof push_promise, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = client(); /* PUSH_PROMISE to a client that allowed no push */
  {
    int64_t sid;
    assert_int_equal(p2pq_h3_conn_submit_request(c, GET, 4, 1, &sid), 0);
    p2pq_h3_conn_recv(c, sid, push_promise, sizeof push_promise, 0);
  }
  expect_conn_error(c, P2PQ_H3_ID_ERROR);
  c = server(); /* a frame cut short by FIN */
  n = headers_frame(GET, 4, buf, sizeof buf);
  memcpy(buf + n, truncated, sizeof truncated);
  p2pq_h3_conn_recv(c, 0, buf, n + sizeof truncated, 1);
  expect_conn_error(c, P2PQ_H3_FRAME_ERROR);
  c = server(); /* frames after trailers */
  n = headers_frame(GET, 4, buf, sizeof buf);
  n += headers_frame((const p2pq_h3_field[]){F("x-t", "1")}, 1, buf + n, sizeof buf - n);
  n += headers_frame((const p2pq_h3_field[]){F("x-t", "2")}, 1, buf + n, sizeof buf - n);
  p2pq_h3_conn_recv(c, 0, buf, n, 0);
  expect_conn_error(c, P2PQ_H3_FRAME_UNEXPECTED);
  c = server(); /* FIN without a request */
  p2pq_h3_conn_recv(c, 0, grease, sizeof grease, 1);
  expect_stream_error(c, 0, P2PQ_H3_REQUEST_INCOMPLETE);
  c = server(); /* grease frames anywhere are skipped */
  memcpy(buf, grease, sizeof grease);
  n = sizeof grease + headers_frame(GET, 4, buf + sizeof grease, sizeof buf - sizeof grease);
  memcpy(buf + n, grease, sizeof grease);
  assert_int_equal(p2pq_h3_conn_recv(c, 0, buf, n + sizeof grease, 1), 0);
  assert_int_equal(event_code(c, P2PQ_H3_EV_FIN, NULL), 1);
  assert_int_equal(p2pq_h3_conn_error(c), 0);
  p2pq_h3_conn_free(c);
}

static void expect_bad_request(const p2pq_h3_field *f, size_t nf, int connect) {
  uint8_t buf[512];
  size_t n = headers_frame(f, nf, buf, sizeof buf);
  p2pq_h3_conn *c = peer_of(1, 0, connect);
  assert_int_equal(p2pq_h3_conn_recv(c, 2, CTRL_SETTINGS, sizeof CTRL_SETTINGS, 0), 0);
  assert_int_equal(p2pq_h3_conn_recv(c, 4, buf, n, 1), 0);
  expect_stream_error(c, 4, P2PQ_H3_MESSAGE_ERROR);
}

static void test_malformed_messages(void **st) {
  const p2pq_h3_field upper[] = {F(":method", "GET"), F(":scheme", "https"),
                                 F(":authority", "a"), F(":path", "/"), F("X-Up", "1")};
  const p2pq_h3_field no_path[] = {F(":method", "GET"), F(":scheme", "https"),
                                   F(":authority", "a")};
  const p2pq_h3_field late_pseudo[] = {F(":method", "GET"), F(":scheme", "https"),
                                       F("x", "1"), F(":authority", "a"), F(":path", "/")};
  const p2pq_h3_field conn_hdr[] = {F(":method", "GET"), F(":scheme", "https"),
                                    F(":authority", "a"), F(":path", "/"),
                                    F("connection", "close")};
  const p2pq_h3_field xconnect[] = {F(":method", "CONNECT"), F(":protocol", "connect-udp"),
                                    F(":scheme", "https"), F(":authority", "a"),
                                    F(":path", "/x")};
  const p2pq_h3_field connect_path[] = {F(":method", "CONNECT"), F(":authority", "a:1"),
                                        F(":path", "/")};
  const p2pq_h3_field status_in_req[] = {F(":method", "GET"), F(":scheme", "https"),
                                         F(":authority", "a"), F(":path", "/"),
                                         F(":status", "200")};
  const p2pq_h3_field cl[] = {F(":method", "POST"), F(":scheme", "https"),
                              F(":authority", "a"), F(":path", "/"),
                              F("content-length", "5")};
  uint8_t buf[512];
  size_t n;
  p2pq_h3_conn *c;
  (void)st;
  expect_bad_request(upper, 5, 1);
  expect_bad_request(no_path, 3, 1);
  expect_bad_request(late_pseudo, 5, 1);
  expect_bad_request(conn_hdr, 5, 1);
  expect_bad_request(xconnect, 5, 0); /* extended CONNECT we did not enable */
  expect_bad_request(connect_path, 3, 1);
  expect_bad_request(status_in_req, 5, 1);
  /* Content-Length 5 but 3 bytes of body */
  c = server();
  n = headers_frame(cl, 5, buf, sizeof buf);
  memcpy(buf + n, "\x00\x03" "abc", 5);
  assert_int_equal(p2pq_h3_conn_recv(c, 0, buf, n + 5, 1), 0);
  expect_stream_error(c, 0, P2PQ_H3_MESSAGE_ERROR);
  /* ... and 6 bytes */
  c = server();
  n = headers_frame(cl, 5, buf, sizeof buf);
  memcpy(buf + n, "\x00\x06" "abcdef", 8);
  assert_int_equal(p2pq_h3_conn_recv(c, 0, buf, n + 8, 0), 0);
  expect_stream_error(c, 0, P2PQ_H3_MESSAGE_ERROR);
  /* a response without :status, at the client */
  c = client();
  {
    int64_t sid;
    assert_int_equal(p2pq_h3_conn_submit_request(c, GET, 4, 1, &sid), 0);
    n = headers_frame((const p2pq_h3_field[]){F("server", "x")}, 1, buf, sizeof buf);
    assert_int_equal(p2pq_h3_conn_recv(c, sid, buf, n, 1), 0);
    expect_stream_error(c, sid, P2PQ_H3_MESSAGE_ERROR);
  }
}

static void test_qpack_errors(void **st) {
  static const uint8_t dyn_ref[] = {0x01, 0x03, 0x00, 0x00, 0x80}; /* HEADERS, dynamic index, RIC 0 */
  static const uint8_t qenc_dup[] = {0x02, 0x3f, 0xbd, 0x01, 0x00}; /* Duplicate, empty table */
  static const uint8_t qdec_bad[] = {0x03, 0x81};                   /* ack for stream 1: nothing outstanding */
  static const uint8_t blocked_hdr[] = {0x01, 0x03, 0x02, 0x80, 0x10}; /* RIC 1, never inserted */
  p2pq_h3_conn *c;
  (void)st;
  c = server();
  p2pq_h3_conn_recv(c, 0, dyn_ref, sizeof dyn_ref, 0);
  expect_conn_error(c, P2PQ_H3_QPACK_DECOMPRESSION_FAILED);
  c = server();
  p2pq_h3_conn_recv(c, 6, qenc_dup, sizeof qenc_dup, 0);
  expect_conn_error(c, P2PQ_H3_QPACK_ENCODER_STREAM_ERROR);
  c = server();
  p2pq_h3_conn_recv(c, 6, qdec_bad, sizeof qdec_bad, 0);
  expect_conn_error(c, P2PQ_H3_QPACK_DECODER_STREAM_ERROR);
  /* a blocked request waits; its stream reset cancels it */
  c = server();
  assert_int_equal(p2pq_h3_conn_recv(c, 0, blocked_hdr, sizeof blocked_hdr, 1), 0);
  assert_int_equal(event_code(c, P2PQ_H3_EV_HEADERS, NULL), 0);
  assert_int_equal(p2pq_h3_conn_recv_reset(c, 0, P2PQ_H3_REQUEST_CANCELLED), 0);
  assert_int_equal(event_code(c, P2PQ_H3_EV_STREAM_RESET, NULL), P2PQ_H3_REQUEST_CANCELLED);
  assert_int_equal(p2pq_h3_conn_error(c), 0);
  {
    /* the decoder stream (11) now carries a Stream Cancellation for stream 0 */
    uint8_t out[64];
    int fin, n = p2pq_h3_conn_send(c, 11, out, sizeof out, &fin);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], P2PQ_H3_STREAM_QPACK_DECODER);
    assert_int_equal(out[1], 0x40);
  }
  p2pq_h3_conn_free(c);
}

static void test_oversize_headers(void **st) {
  char big[400];
  p2pq_h3_field f[5] = {F(":method", "GET"), F(":scheme", "https"), F(":authority", "a"),
                        F(":path", "/"), {"x-big", 5, big, sizeof big}};
  p2pq_h3_field many[12];
  uint8_t buf[1024];
  size_t n, i;
  p2pq_h3_conn *c;
  (void)st;
  memset(big, 'q', sizeof big);
  /* an encoded section larger than the limit: not even buffered */
  c = peer_of(1, 200, 1);
  assert_int_equal(p2pq_h3_conn_recv(c, 2, CTRL_SETTINGS, sizeof CTRL_SETTINGS, 0), 0);
  n = headers_frame(f, 5, buf, sizeof buf);
  assert_int_equal(p2pq_h3_conn_recv(c, 0, buf, n, 1), 0);
  expect_stream_error(c, 0, P2PQ_H3_EXCESSIVE_LOAD);
  /* a small encoding that decodes past the limit (static entries, 32 bytes each) */
  for (i = 0; i < 12; i++)
    many[i] = (p2pq_h3_field)F("accept", "*/*");
  memcpy(many, GET, sizeof GET);
  c = peer_of(1, 200, 1);
  assert_int_equal(p2pq_h3_conn_recv(c, 2, CTRL_SETTINGS, sizeof CTRL_SETTINGS, 0), 0);
  n = headers_frame(many, 12, buf, sizeof buf);
  assert_true(n < 200);
  assert_int_equal(p2pq_h3_conn_recv(c, 0, buf, n, 1), 0);
  expect_stream_error(c, 0, P2PQ_H3_EXCESSIVE_LOAD);
  /* the sender respects the peer's limit */
  {
    pair p;
    p2pq_h3_config cc, sc;
    int64_t sid;
    memset(&p, 0, sizeof p);
    p2pq_h3_config_default(&cc, 0);
    p2pq_h3_config_default(&sc, 1);
    sc.local.max_field_section_size = 200;
    assert_int_equal(p2pq_h3_conn_new(&p.cli, &cc), 0);
    assert_int_equal(p2pq_h3_conn_new(&p.srv, &sc), 0);
    exchange(&p);
    assert_int_equal(p2pq_h3_conn_submit_request(p.cli, f, 5, 1, &sid), P2PQ_ERR_LIMIT);
    assert_int_equal(p2pq_h3_conn_submit_request(p.cli, f, 4, 1, &sid), 0);
    pair_free(&p);
  }
}

/* QUIC may deliver a later request stream first; earlier ones still count. */
static void test_reordered_streams(void **st) {
  uint8_t buf[256], out[512];
  const int64_t order[] = {8, 0, 4, 16};
  size_t n = headers_frame(GET, 4, buf, sizeof buf), i;
  p2pq_h3_conn *c = server();
  p2pq_h3_event ev;
  int heads = 0, fins = 0, fin;
  int64_t sid;
  (void)st;
  for (i = 0; i < 4; i++)
    assert_int_equal(p2pq_h3_conn_recv(c, order[i], buf, n, 1), 0);
  while (p2pq_h3_conn_poll_event(c, &ev)) {
    heads += ev.type == P2PQ_H3_EV_HEADERS;
    fins += ev.type == P2PQ_H3_EV_FIN;
  }
  assert_int_equal(heads, 4);
  assert_int_equal(fins, 4);
  for (i = 0; i < 4; i++)
    assert_int_equal(p2pq_h3_conn_submit_response(c, order[i], (const p2pq_h3_field[]){F(":status", "204")}, 1, 1), 0);
  while ((sid = p2pq_h3_conn_next_stream(c)) >= 0)
    assert_true(p2pq_h3_conn_send(c, sid, out, sizeof out, &fin) >= 0);
  /* all four are finished and freed: late bytes are ignored, stream 12 is new */
  for (i = 0; i < 4; i++)
    assert_int_equal(p2pq_h3_conn_recv(c, order[i], buf, n, 1), 0);
  assert_int_equal(p2pq_h3_conn_poll_event(c, &ev), 0);
  assert_int_equal(p2pq_h3_conn_recv(c, 12, buf, n, 1), 0);
  assert_int_equal(event_code(c, P2PQ_H3_EV_HEADERS, &sid), 1);
  assert_int_equal(sid, 12);
  assert_int_equal(p2pq_h3_conn_error(c), 0);
  p2pq_h3_conn_free(c);
}

static void test_rejected_after_goaway(void **st) {
  uint8_t buf[256];
  size_t n = headers_frame(GET, 4, buf, sizeof buf);
  p2pq_h3_conn *c = server();
  (void)st;
  assert_int_equal(p2pq_h3_conn_recv(c, 0, buf, n, 1), 0);
  assert_int_equal(p2pq_h3_conn_goaway(c, P2PQ_H3_GOAWAY_AUTO), 0);
  assert_int_equal(p2pq_h3_conn_recv(c, 4, buf, n, 1), 0);
  expect_stream_error(c, 4, P2PQ_H3_REQUEST_REJECTED);
}

static void test_peer_reset(void **st) {
  pair p;
  int64_t sid;
  (void)st;
  pair_new(&p);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, GET, 4, 0, &sid), 0);
  exchange(&p);
  assert_int_equal(p2pq_h3_conn_recv_reset(p.srv, sid, P2PQ_H3_REQUEST_CANCELLED), 0);
  drain(p.srv, &p.ls);
  assert_int_equal(p.ls.n[P2PQ_H3_EV_STREAM_RESET], 1);
  assert_int_equal(p.ls.last_code[P2PQ_H3_EV_STREAM_RESET], P2PQ_H3_REQUEST_CANCELLED);
  assert_int_equal(p2pq_h3_conn_stream_close(p.srv, sid), 0);
  assert_int_equal(p2pq_h3_conn_stream_close(p.srv, sid), P2PQ_ERR_NOT_FOUND);
  /* late data for the forgotten stream is ignored */
  assert_int_equal(p2pq_h3_conn_recv(p.srv, sid, (const uint8_t *)"\x00\x01x", 3, 0), 0);
  assert_int_equal(p2pq_h3_conn_error(p.srv), 0);
  pair_free(&p);
}

static void test_informational_response(void **st) {
  pair p;
  int64_t sid;
  (void)st;
  pair_new(&p);
  assert_int_equal(p2pq_h3_conn_submit_request(p.cli, GET, 4, 1, &sid), 0);
  exchange(&p);
  assert_int_equal(p2pq_h3_conn_submit_response(p.srv, sid, (const p2pq_h3_field[]){F(":status", "103"), F("link", "</s.css>")}, 2, 1), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_h3_conn_submit_response(p.srv, sid, (const p2pq_h3_field[]){F(":status", "103"), F("link", "</s.css>")}, 2, 0), 0);
  assert_int_equal(p2pq_h3_conn_submit_response(p.srv, sid, (const p2pq_h3_field[]){F(":status", "200")}, 1, 0), 0);
  assert_int_equal(p2pq_h3_conn_send_data(p.srv, sid, (const uint8_t *)"hi", 2, 1), 0);
  exchange(&p);
  assert_int_equal(p.lc.n[P2PQ_H3_EV_HEADERS], 2);
  assert_string_equal(p.lc.hdr[0], ":status: 200\n");
  assert_int_equal(p.lc.body_len[0], 2);
  assert_int_equal(p.lc.fin[0], 1);
  pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_settings_exchange),
      cmocka_unit_test(test_control_stream_bytes),
      cmocka_unit_test(test_get_1mb),
      cmocka_unit_test(test_post_trailers),
      cmocka_unit_test(test_extended_connect),
      cmocka_unit_test(test_goaway),
      cmocka_unit_test(test_blocked_request),
      cmocka_unit_test(test_http_datagrams),
      cmocka_unit_test(test_many_requests),
      cmocka_unit_test(test_byte_at_a_time),
      cmocka_unit_test(test_control_stream_errors),
      cmocka_unit_test(test_critical_streams),
      cmocka_unit_test(test_uni_stream_types),
      cmocka_unit_test(test_push_and_goaway_ids),
      cmocka_unit_test(test_request_stream_errors),
      cmocka_unit_test(test_malformed_messages),
      cmocka_unit_test(test_qpack_errors),
      cmocka_unit_test(test_oversize_headers),
      cmocka_unit_test(test_rejected_after_goaway),
      cmocka_unit_test(test_reordered_streams),
      cmocka_unit_test(test_peer_reset),
      cmocka_unit_test(test_informational_response),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
