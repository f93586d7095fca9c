/* QUIC varints (RFC 9000 section 16 and Appendix A.1 examples) and the
 * bounds-checked reader/writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/buf.h"

static void test_rfc_examples(void **state) {
  static const struct {
    uint8_t enc[8];
    size_t len;
    uint64_t val;
  } ex[] = {
      {{0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}, 8, 151288809941952652ull},
      {{0x9d, 0x7f, 0x3e, 0x7d}, 4, 494878333},
      {{0x7b, 0xbd}, 2, 15293},
      {{0x25}, 1, 37},
      {{0x40, 0x25}, 2, 37},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
    p2pq_rd r;
    uint64_t v;
    p2pq_rd_init(&r, ex[i].enc, ex[i].len);
    assert_int_equal(p2pq_rd_varint(&r, &v), 0);
    assert_true(v == ex[i].val);
    assert_int_equal(p2pq_rd_left(&r), 0);
    /* every truncation is rejected */
    for (size_t n = 0; n < ex[i].len; n++) {
      p2pq_rd_init(&r, ex[i].enc, n);
      assert_int_equal(p2pq_rd_varint(&r, &v), P2PQ_ERR_TRUNCATED);
    }
  }
}

static void test_round_trip(void **state) {
  static const uint64_t vals[] = {0, 1, 63, 64, 16383, 16384, 1073741823, 1073741824,
                                  P2PQ_VARINT_MAX};
  (void)state;
  for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
    uint8_t buf[8];
    p2pq_wr w;
    p2pq_rd r;
    uint64_t v;
    p2pq_wr_init(&w, buf, sizeof(buf));
    assert_int_equal(p2pq_wr_varint(&w, vals[i]), 0);
    assert_int_equal((size_t)(w.p - buf), p2pq_varint_len(vals[i]));
    p2pq_rd_init(&r, buf, (size_t)(w.p - buf));
    assert_int_equal(p2pq_rd_varint(&r, &v), 0);
    assert_true(v == vals[i]);
    /* a too-small buffer is reported, not overrun */
    p2pq_wr_init(&w, buf, p2pq_varint_len(vals[i]) - 1);
    assert_int_equal(p2pq_wr_varint(&w, vals[i]), P2PQ_ERR_NOBUF);
  }
}

static void test_limits(void **state) {
  uint8_t buf[8];
  p2pq_wr w;
  (void)state;
  p2pq_wr_init(&w, buf, sizeof(buf));
  assert_int_equal(p2pq_wr_varint(&w, P2PQ_VARINT_MAX + 1), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_wr_varint_n(&w, 64, 1), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_wr_varint_n(&w, 5, 3), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_wr_varint_n(&w, 5, 4), 0);
  assert_memory_equal(buf, "\x80\x00\x00\x05", 4);
}

static void test_reader_bounds(void **state) {
  const uint8_t data[] = {1, 2, 3};
  p2pq_rd r;
  uint32_t u32;
  uint16_t u16;
  const uint8_t *p;
  (void)state;
  p2pq_rd_init(&r, data, sizeof(data));
  assert_int_equal(p2pq_rd_u32(&r, &u32), P2PQ_ERR_TRUNCATED);
  assert_int_equal(p2pq_rd_u16(&r, &u16), 0);
  assert_int_equal(u16, 0x0102);
  assert_int_equal(p2pq_rd_bytes(&r, 2, &p), P2PQ_ERR_TRUNCATED);
  assert_int_equal(p2pq_rd_bytes(&r, 1, &p), 0);
  assert_int_equal(*p, 3);
  assert_int_equal(p2pq_rd_left(&r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc_examples),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_reader_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
