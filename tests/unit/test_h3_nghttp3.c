/* Interop in memory with an independent HTTP/3 implementation: Debian's
 * nghttp3_conn (its framing, SETTINGS, control-stream and request-stream state
 * machines) against our p2pq_h3_conn, both directions, with our grease setting
 * and frame on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp3/nghttp3.h>

#include "p2pq/h3.h"

#define F(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}
#define NV(n, v) {(uint8_t *)n, (uint8_t *)v, sizeof(n) - 1, sizeof(v) - 1, NGHTTP3_NV_FLAG_NONE}
#define BODY_LEN (200 * 1024)

typedef struct ng_side {
  int64_t req_sid;     /* request stream seen (server) */
  int headers_done, ended, trailers;
  char hdrs[1024];
  size_t hlen;
  size_t body_len;
  uint8_t *body;
  size_t body_sent;    /* read_data progress */
  const uint8_t *src;
} ng_side;

static uint8_t pattern[BODY_LEN];

static int on_header(nghttp3_conn *conn, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                     nghttp3_rcbuf *value, uint8_t flags, void *ud, void *sud) {
  ng_side *s = ud;
  nghttp3_vec n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
  (void)conn; (void)sid; (void)token; (void)flags; (void)sud;
  if (s->hlen + n.len + v.len + 3 < sizeof s->hdrs) {
    memcpy(s->hdrs + s->hlen, n.base, n.len);
    s->hlen += n.len;
    s->hdrs[s->hlen++] = '=';
    memcpy(s->hdrs + s->hlen, v.base, v.len);
    s->hlen += v.len;
    s->hdrs[s->hlen++] = ';';
    s->hdrs[s->hlen] = 0;
  }
  return 0;
}

static int on_end_headers(nghttp3_conn *conn, int64_t sid, int fin, void *ud, void *sud) {
  ng_side *s = ud;
  (void)conn; (void)fin; (void)sud;
  s->headers_done = 1;
  s->req_sid = sid;
  return 0;
}

static int on_trailers_end(nghttp3_conn *conn, int64_t sid, int fin, void *ud, void *sud) {
  ng_side *s = ud;
  (void)conn; (void)sid; (void)fin; (void)sud;
  s->trailers = 1;
  return 0;
}

static int on_data(nghttp3_conn *conn, int64_t sid, const uint8_t *d, size_t n, void *ud,
                   void *sud) {
  ng_side *s = ud;
  (void)conn; (void)sid; (void)sud;
  s->body = realloc(s->body, s->body_len + n);
  assert_non_null(s->body);
  memcpy(s->body + s->body_len, d, n);
  s->body_len += n;
  return 0;
}

static int on_end_stream(nghttp3_conn *conn, int64_t sid, void *ud, void *sud) {
  ng_side *s = ud;
  (void)conn; (void)sid; (void)sud;
  s->ended = 1;
  return 0;
}

static nghttp3_ssize read_body(nghttp3_conn *conn, int64_t sid, nghttp3_vec *vec, size_t veccnt,
                               uint32_t *pflags, void *ud, void *sud) {
  ng_side *s = ud;
  size_t n = BODY_LEN - s->body_sent;
  (void)conn; (void)sid; (void)veccnt; (void)sud;
  if (n > 5000)
    n = 5000;
  vec[0].base = (uint8_t *)pattern + s->body_sent;
  vec[0].len = n;
  s->body_sent += n;
  if (s->body_sent == BODY_LEN)
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
  return 1;
}

static nghttp3_conn *ng_new(int server, ng_side *side) {
  nghttp3_callbacks cb;
  nghttp3_settings st;
  nghttp3_conn *c;
  memset(&cb, 0, sizeof cb);
  cb.recv_header = on_header;
  cb.end_headers = on_end_headers;
  cb.recv_trailer = on_header;
  cb.end_trailers = on_trailers_end;
  cb.recv_data = on_data;
  cb.end_stream = on_end_stream;
  nghttp3_settings_default(&st);
  st.qpack_max_dtable_capacity = 4096;
  st.qpack_blocked_streams = 16;
  st.enable_connect_protocol = 1;
  if (server) {
    assert_int_equal(nghttp3_conn_server_new(&c, &cb, &st, NULL, side), 0);
    assert_int_equal(nghttp3_conn_bind_control_stream(c, 3), 0);
    assert_int_equal(nghttp3_conn_bind_qpack_streams(c, 7, 11), 0);
  } else {
    assert_int_equal(nghttp3_conn_client_new(&c, &cb, &st, NULL, side), 0);
    assert_int_equal(nghttp3_conn_bind_control_stream(c, 2), 0);
    assert_int_equal(nghttp3_conn_bind_qpack_streams(c, 6, 10), 0);
  }
  return c;
}

/* ours -> nghttp3, in odd chunk sizes */
static size_t ours_to_ng(p2pq_h3_conn *ours, nghttp3_conn *ng) {
  uint8_t buf[1500];
  int64_t sid;
  size_t moved = 0;
  while ((sid = p2pq_h3_conn_next_stream(ours)) >= 0) {
    int fin, n = p2pq_h3_conn_send(ours, sid, buf, 1 + moved % 1499, &fin);
    assert_true(n >= 0);
    assert_true(nghttp3_conn_read_stream(ng, sid, buf, (size_t)n, fin) >= 0);
    moved += (size_t)n + 1;
  }
  return moved;
}

/* nghttp3 -> ours */
static size_t ng_to_ours(nghttp3_conn *ng, p2pq_h3_conn *ours) {
  size_t moved = 0;
  for (;;) {
    nghttp3_vec vec[16];
    int64_t sid = -1;
    int fin = 0;
    size_t i, total = 0;
    nghttp3_ssize nv = nghttp3_conn_writev_stream(ng, &sid, &fin, vec, 16);
    assert_true(nv >= 0);
    if (sid < 0)
      break;
    for (i = 0; i < (size_t)nv; i++) {
      assert_int_equal(p2pq_h3_conn_recv(ours, sid, vec[i].base, vec[i].len,
                                         fin && i + 1 == (size_t)nv),
                       0);
      total += vec[i].len;
    }
    if (nv == 0 && fin)
      assert_int_equal(p2pq_h3_conn_recv(ours, sid, NULL, 0, 1), 0);
    assert_int_equal(nghttp3_conn_add_write_offset(ng, sid, total), 0);
    assert_int_equal(nghttp3_conn_add_ack_offset(ng, sid, total), 0);
    moved += total + 1;
  }
  return moved;
}

typedef struct ours_log {
  int settings, headers, fin, trailers, errors;
  char hdr[512];
  size_t body_len;
  int body_ok;
} ours_log;

static void ours_drain(p2pq_h3_conn *c, ours_log *l) {
  p2pq_h3_event ev;
  size_t i, off;
  while (p2pq_h3_conn_poll_event(c, &ev)) {
    switch (ev.type) {
    case P2PQ_H3_EV_SETTINGS: l->settings++; break;
    case P2PQ_H3_EV_HEADERS:
      l->headers++;
      for (i = 0, off = 0; i < ev.nfields && off + 64 < sizeof l->hdr; i++)
        off += (size_t)snprintf(l->hdr + off, sizeof l->hdr - off, "%s=%s;", ev.fields[i].name,
                                ev.fields[i].value);
      break;
    case P2PQ_H3_EV_DATA:
      if (memcmp(ev.data, pattern + l->body_len, ev.len) != 0)
        l->body_ok = 0;
      l->body_len += ev.len;
      break;
    case P2PQ_H3_EV_TRAILERS: l->trailers++; break;
    case P2PQ_H3_EV_FIN: l->fin++; break;
    default: l->errors++; break;
    }
  }
}

static void fill_pattern(void) {
  size_t i;
  for (i = 0; i < BODY_LEN; i++)
    pattern[i] = (uint8_t)(i * 131 + 7);
}

static void test_our_client_ng_server(void **st) {
  const p2pq_h3_field req[] = {F(":method", "GET"), F(":scheme", "https"),
                               F(":authority", "ng.example"), F(":path", "/file"),
                               F("user-agent", "p2pquic")};
  const nghttp3_nv resp[] = {NV(":status", "200"), NV("server", "nghttp3")};
  const nghttp3_data_reader dr = {read_body};
  ng_side side;
  ours_log l;
  p2pq_h3_config cfg;
  p2pq_h3_conn *ours;
  nghttp3_conn *ng;
  int64_t sid;
  const p2pq_h3_settings *ps;
  (void)st;
  fill_pattern();
  memset(&side, 0, sizeof side);
  memset(&l, 0, sizeof l);
  l.body_ok = 1;
  side.req_sid = -1;
  p2pq_h3_config_default(&cfg, 0);
  assert_int_equal(p2pq_h3_conn_new(&ours, &cfg), 0);
  ng = ng_new(1, &side);
  assert_int_equal(p2pq_h3_conn_submit_request(ours, req, 5, 1, &sid), 0);
  ours_to_ng(ours, ng);
  ng_to_ours(ng, ours);
  ours_drain(ours, &l);
  assert_int_equal(side.headers_done, 1);
  assert_int_equal(side.ended, 1);
  assert_non_null(strstr(side.hdrs, ":path=/file;"));
  assert_non_null(strstr(side.hdrs, "user-agent=p2pquic;"));
  assert_int_equal(nghttp3_conn_submit_response(ng, sid, resp, 2, &dr), 0);
  while (ng_to_ours(ng, ours) + ours_to_ng(ours, ng))
    ours_drain(ours, &l);
  ours_drain(ours, &l);
  assert_int_equal(l.settings, 1);
  ps = p2pq_h3_conn_peer_settings(ours);
  assert_non_null(ps);
  assert_int_equal(ps->qpack_max_table_capacity, 4096);
  assert_int_equal(ps->enable_connect_protocol, 1);
  assert_int_equal(l.headers, 1);
  assert_non_null(strstr(l.hdr, ":status=200;server=nghttp3;"));
  assert_int_equal(l.body_len, BODY_LEN);
  assert_true(l.body_ok);
  assert_int_equal(l.fin, 1);
  assert_int_equal(l.errors, 0);
  nghttp3_conn_del(ng);
  p2pq_h3_conn_free(ours);
}

static void test_ng_client_our_server(void **st) {
  const nghttp3_nv req[] = {NV(":method", "POST"), NV(":scheme", "https"),
                            NV(":authority", "p2pq.example"), NV(":path", "/upload"),
                            NV("x-custom", "one")};
  const nghttp3_data_reader dr = {read_body};
  const p2pq_h3_field resp[] = {F(":status", "200"), F("x-served-by", "p2pquic")};
  const p2pq_h3_field trl[] = {F("x-digest", "ok")};
  ng_side side;
  ours_log l;
  p2pq_h3_config cfg;
  p2pq_h3_conn *ours;
  nghttp3_conn *ng;
  (void)st;
  fill_pattern();
  memset(&side, 0, sizeof side);
  memset(&l, 0, sizeof l);
  l.body_ok = 1;
  p2pq_h3_config_default(&cfg, 1);
  assert_int_equal(p2pq_h3_conn_new(&ours, &cfg), 0);
  ng = ng_new(0, &side);
  assert_int_equal(nghttp3_conn_submit_request(ng, 0, req, 5, &dr, NULL), 0);
  while (ng_to_ours(ng, ours) + ours_to_ng(ours, ng))
    ours_drain(ours, &l);
  ours_drain(ours, &l);
  assert_int_equal(l.errors, 0);
  assert_int_equal(l.headers, 1);
  assert_non_null(strstr(l.hdr, ":path=/upload;x-custom=one;"));
  assert_int_equal(l.body_len, BODY_LEN);
  assert_true(l.body_ok);
  assert_int_equal(l.fin, 1);
  assert_int_equal(p2pq_h3_conn_submit_response(ours, 0, resp, 2, 0), 0);
  assert_int_equal(p2pq_h3_conn_send_data(ours, 0, pattern, 1000, 0), 0);
  assert_int_equal(p2pq_h3_conn_submit_trailers(ours, 0, trl, 1), 0);
  while (ours_to_ng(ours, ng) + ng_to_ours(ng, ours))
    ours_drain(ours, &l);
  assert_int_equal(side.headers_done, 1);
  assert_non_null(strstr(side.hdrs, ":status=200;x-served-by=p2pquic;"));
  assert_int_equal(side.body_len, 1000);
  assert_memory_equal(side.body, pattern, 1000);
  assert_int_equal(side.trailers, 1);
  assert_non_null(strstr(side.hdrs, "x-digest=ok;"));
  assert_int_equal(side.ended, 1);
  free(side.body);
  nghttp3_conn_del(ng);
  p2pq_h3_conn_free(ours);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_our_client_ng_server),
      cmocka_unit_test(test_ng_client_our_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
