/* HTTP/3 frame codec, SETTINGS, capsules and HTTP Datagram framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "p2pq/error.h"
#include "p2pq/h3.h"

/* Every proper prefix of a valid frame is "need more bytes", never an error. */
static void assert_truncations(const uint8_t *p, size_t len) {
  size_t i, used;
  p2pq_h3_frame f;
  uint64_t err = 0;
  for (i = 0; i < len; i++)
    assert_int_equal(p2pq_h3_frame_decode(p, i, &f, &used, &err), P2PQ_ERR_TRUNCATED);
}

static void test_settings_round_trip(void **st) {
  uint8_t buf[128];
  p2pq_h3_settings s, d;
  p2pq_h3_frame f;
  size_t used;
  uint64_t err = 0;
  int n;
  (void)st;
  p2pq_h3_settings_default(&s);
  s.qpack_max_table_capacity = 4096;
  s.max_field_section_size = 65536;
  s.qpack_blocked_streams = 100;
  s.enable_connect_protocol = 1;
  s.h3_datagram = 1;
  n = p2pq_h3_settings_encode(buf, sizeof buf, &s, 0x1f * 7 + 0x21, 99);
  assert_true(n > 0);
  assert_int_equal(p2pq_h3_frame_decode(buf, (size_t)n, &f, &used, &err), 0);
  assert_int_equal(used, n);
  assert_int_equal(f.type, P2PQ_H3_FRAME_SETTINGS);
  d = f.settings;
  assert_int_equal(d.qpack_max_table_capacity, 4096);
  assert_int_equal(d.max_field_section_size, 65536);
  assert_int_equal(d.qpack_blocked_streams, 100);
  assert_int_equal(d.enable_connect_protocol, 1);
  assert_int_equal(d.h3_datagram, 1);
  assert_int_equal(f.unknown_settings, 1); /* the grease setting, ignored */
  assert_truncations(buf, (size_t)n);
  /* short output buffers fail cleanly */
  for (size_t cap = 0; cap < (size_t)n; cap++)
    assert_true(p2pq_h3_settings_encode(buf, cap, &s, 0x1f * 7 + 0x21, 99) < 0);
}

static void test_settings_defaults_omitted(void **st) {
  uint8_t buf[16];
  p2pq_h3_settings s, d;
  size_t unk;
  uint64_t err;
  (void)st;
  p2pq_h3_settings_default(&s);
  /* an empty SETTINGS frame: type 4, length 0 */
  assert_int_equal(p2pq_h3_settings_encode(buf, sizeof buf, &s, 0, 0), 2);
  assert_int_equal(buf[0], 0x04);
  assert_int_equal(buf[1], 0x00);
  assert_int_equal(p2pq_h3_settings_decode(buf + 2, 0, &d, &unk, &err), 0);
  assert_int_equal(d.max_field_section_size, UINT64_MAX);
}

static void settings_err(const uint8_t *p, size_t len, uint64_t want) {
  p2pq_h3_settings d;
  size_t unk;
  uint64_t err = 0;
  assert_int_equal(p2pq_h3_settings_decode(p, len, &d, &unk, &err), P2PQ_ERR_H3);
  assert_int_equal(err, want);
}

static void test_settings_errors(void **st) {
  static const uint8_t dup[] = {0x01, 0x10, 0x01, 0x20};
  static const uint8_t dup_unknown[] = {0x21, 0x00, 0x21, 0x01};
  static const uint8_t h2_push[] = {0x02, 0x00};         /* SETTINGS_ENABLE_PUSH */
  static const uint8_t h2_window[] = {0x04, 0x10};       /* INITIAL_WINDOW_SIZE */
  static const uint8_t bad_connect[] = {0x08, 0x02};
  static const uint8_t bad_dgram[] = {0x33, 0x02};
  static const uint8_t trunc_value[] = {0x01};
  static const uint8_t trunc_varint[] = {0x01, 0x40};
  (void)st;
  settings_err(dup, sizeof dup, P2PQ_H3_SETTINGS_ERROR);
  settings_err(dup_unknown, sizeof dup_unknown, P2PQ_H3_SETTINGS_ERROR);
  settings_err(h2_push, sizeof h2_push, P2PQ_H3_SETTINGS_ERROR);
  settings_err(h2_window, sizeof h2_window, P2PQ_H3_SETTINGS_ERROR);
  settings_err(bad_connect, sizeof bad_connect, P2PQ_H3_SETTINGS_ERROR);
  settings_err(bad_dgram, sizeof bad_dgram, P2PQ_H3_SETTINGS_ERROR);
  settings_err(trunc_value, sizeof trunc_value, P2PQ_H3_FRAME_ERROR);
  settings_err(trunc_varint, sizeof trunc_varint, P2PQ_H3_FRAME_ERROR);
}

static void test_varint_frames(void **st) {
  static const uint64_t types[] = {P2PQ_H3_FRAME_GOAWAY, P2PQ_H3_FRAME_MAX_PUSH_ID,
                                   P2PQ_H3_FRAME_CANCEL_PUSH};
  static const uint64_t vals[] = {0, 63, 64, 16383, 16384, 1073741824ull, (1ull << 62) - 1};
  uint8_t buf[32];
  size_t i, j, used;
  p2pq_h3_frame f;
  uint64_t err;
  (void)st;
  for (i = 0; i < 3; i++) {
    for (j = 0; j < sizeof vals / sizeof vals[0]; j++) {
      int n = p2pq_h3_frame_encode_varint(buf, sizeof buf, types[i], vals[j]);
      assert_true(n > 0);
      assert_int_equal(p2pq_h3_frame_decode(buf, (size_t)n, &f, &used, &err), 0);
      assert_int_equal(used, n);
      assert_int_equal(f.type, types[i]);
      assert_int_equal(f.id, vals[j]);
      assert_truncations(buf, (size_t)n);
    }
  }
  assert_int_equal(p2pq_h3_frame_encode_varint(buf, sizeof buf, 7, 1ull << 62),
                   P2PQ_ERR_INVALID_ARG);
}

static void test_varint_frame_malformed(void **st) {
  /* GOAWAY whose payload has a trailing byte, and one with a short varint */
  static const uint8_t extra[] = {0x07, 0x02, 0x04, 0x00};
  static const uint8_t shortv[] = {0x07, 0x01, 0x40};
  static const uint8_t empty[] = {0x0d, 0x00};
  p2pq_h3_frame f;
  size_t used;
  uint64_t err = 0;
  (void)st;
  assert_int_equal(p2pq_h3_frame_decode(extra, sizeof extra, &f, &used, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_FRAME_ERROR);
  err = 0;
  assert_int_equal(p2pq_h3_frame_decode(shortv, sizeof shortv, &f, &used, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_FRAME_ERROR);
  err = 0;
  assert_int_equal(p2pq_h3_frame_decode(empty, sizeof empty, &f, &used, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_FRAME_ERROR);
}

static void test_data_headers_unknown(void **st) {
  uint8_t buf[64];
  static const uint8_t body[] = "hello";
  const uint64_t types[] = {P2PQ_H3_FRAME_DATA, P2PQ_H3_FRAME_HEADERS, 0x21 + 0x1f * 3, 0x3fff};
  size_t i, used;
  p2pq_h3_frame f;
  uint64_t err;
  (void)st;
  for (i = 0; i < 4; i++) {
    int h = p2pq_h3_frame_encode_header(buf, sizeof buf, types[i], 5);
    assert_true(h > 0);
    memcpy(buf + h, body, 5);
    /* trailing bytes of a next frame are not consumed */
    buf[h + 5] = 0x00;
    assert_int_equal(p2pq_h3_frame_decode(buf, (size_t)h + 6, &f, &used, &err), 0);
    assert_int_equal(used, (size_t)h + 5);
    assert_int_equal(f.type, types[i]);
    assert_int_equal(f.payload_len, 5);
    assert_memory_equal(f.payload, body, 5);
    assert_truncations(buf, (size_t)h + 5);
  }
}

static void test_frame_header(void **st) {
  static const uint8_t hdr[] = {0x40, 0x01, 0x80, 0x01, 0x00, 0x00}; /* type 1 (2-byte), len 65536 */
  uint64_t t, l;
  size_t hl, i;
  (void)st;
  assert_int_equal(p2pq_h3_frame_header_decode(hdr, sizeof hdr, &t, &l, &hl), 0);
  assert_int_equal(t, 1);
  assert_int_equal(l, 65536);
  assert_int_equal(hl, 6);
  for (i = 0; i < sizeof hdr; i++)
    assert_int_equal(p2pq_h3_frame_header_decode(hdr, i, &t, &l, &hl), P2PQ_ERR_TRUNCATED);
}

static void test_grease(void **st) {
  (void)st;
  assert_true(p2pq_h3_is_grease(0x21));
  assert_true(p2pq_h3_is_grease(0x40));
  assert_true(p2pq_h3_is_grease(0x21 + 0x1f * 1000));
  assert_false(p2pq_h3_is_grease(0x20));
  assert_false(p2pq_h3_is_grease(0x22));
  assert_false(p2pq_h3_is_grease(0));
  assert_string_equal(p2pq_h3_errname(P2PQ_H3_MISSING_SETTINGS), "H3_MISSING_SETTINGS");
  assert_string_equal(p2pq_h3_errname(P2PQ_H3_QPACK_DECOMPRESSION_FAILED),
                      "QPACK_DECOMPRESSION_FAILED");
  assert_string_equal(p2pq_h3_errname(0x9999), "unknown");
}

static void test_capsules(void **st) {
  uint8_t buf[256], payload[100];
  p2pq_h3_capsule c;
  const uint8_t *pl;
  size_t used, pll, i, off = 0;
  int n;
  (void)st;
  for (i = 0; i < sizeof payload; i++)
    payload[i] = (uint8_t)i;
  /* an unknown (grease 0x29*N+0x17) capsule, then a DATAGRAM capsule */
  n = p2pq_h3_capsule_encode(buf, sizeof buf, 0x17, (const uint8_t *)"xyz", 3);
  assert_int_equal(n, 1 + 1 + 3);
  off = (size_t)n;
  n = p2pq_h3_capsule_encode(buf + off, sizeof buf - off, P2PQ_H3_CAPSULE_DATAGRAM, payload, 100);
  assert_int_equal(n, 1 + 2 + 100);
  off += (size_t)n;
  assert_int_equal(p2pq_h3_capsule_decode(buf, off, &c, &used), 0);
  assert_int_equal(c.type, 0x17);
  assert_int_equal(c.len, 3);
  assert_int_equal(used, 5);
  assert_int_equal(p2pq_h3_capsule_next_datagram(buf, off, &pl, &pll, &used), 1);
  assert_int_equal(used, off);
  assert_int_equal(pll, 100);
  assert_memory_equal(pl, payload, 100);
  /* each truncation of the DATAGRAM capsule: the unknown one is skipped first */
  for (i = 5; i < off; i++) {
    assert_int_equal(p2pq_h3_capsule_next_datagram(buf, i, &pl, &pll, &used), 0);
    assert_int_equal(used, 5);
    assert_int_equal(p2pq_h3_capsule_next_datagram(buf + 5, i - 5, &pl, &pll, &used),
                     P2PQ_ERR_TRUNCATED);
  }
  for (i = 0; i < 5; i++)
    assert_int_equal(p2pq_h3_capsule_decode(buf, i, &c, &used), P2PQ_ERR_TRUNCATED);
  assert_int_equal(p2pq_h3_capsule_encode(buf, 50, 0, payload, 100), P2PQ_ERR_NOBUF);
}

static void test_datagrams(void **st) {
  uint8_t buf[64];
  const uint8_t *pl;
  size_t pll;
  int64_t sid;
  uint64_t err = 0;
  int n;
  static const uint8_t too_big[] = {0xd0, 0, 0, 0, 0, 0, 0, 0}; /* 2^60 */
  (void)st;
  n = p2pq_h3_datagram_encode(buf, sizeof buf, 400, (const uint8_t *)"ab", 2);
  assert_int_equal(n, 2 + 2); /* 100 needs a 2-byte varint */
  assert_int_equal(buf[0], 0x40);
  assert_int_equal(buf[1], 100);
  assert_int_equal(p2pq_h3_datagram_decode(buf, (size_t)n, &sid, &pl, &pll, &err), 0);
  assert_int_equal(sid, 400);
  assert_int_equal(pll, 2);
  assert_memory_equal(pl, "ab", 2);
  assert_int_equal(p2pq_h3_datagram_decode(buf, 1, &sid, &pl, &pll, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_DATAGRAM_ERROR);
  assert_int_equal(p2pq_h3_datagram_decode(buf, 0, &sid, &pl, &pll, &err), P2PQ_ERR_H3);
  err = 0;
  assert_int_equal(p2pq_h3_datagram_decode(too_big, 8, &sid, &pl, &pll, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_DATAGRAM_ERROR);
  /* only client-initiated bidirectional streams */
  assert_int_equal(p2pq_h3_datagram_encode(buf, sizeof buf, 2, pl, 0), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_h3_datagram_encode(buf, 1, 400, pl, 0), P2PQ_ERR_NOBUF);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_settings_round_trip),
      cmocka_unit_test(test_settings_defaults_omitted),
      cmocka_unit_test(test_settings_errors),
      cmocka_unit_test(test_varint_frames),
      cmocka_unit_test(test_varint_frame_malformed),
      cmocka_unit_test(test_data_headers_unknown),
      cmocka_unit_test(test_frame_header),
      cmocka_unit_test(test_grease),
      cmocka_unit_test(test_capsules),
      cmocka_unit_test(test_datagrams),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
