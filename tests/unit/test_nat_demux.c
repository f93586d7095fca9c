/* QUIC / STUN demultiplexing: every first byte, STUN framing checks, QUIC
 * Version Negotiation with the fixed bit clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "nat/demux.h"
#include "nat/stun.h"

/* A valid 20-byte Binding request with first byte b0 patched in. */
static void stun_req(uint8_t *p, uint8_t b0) {
  static const uint8_t hdr[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2,
                                  3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
  memcpy(p, hdr, 20);
  p[0] = b0;
}

static void test_every_first_byte(void **state) {
  uint8_t d[40];
  (void)state;
  for (int b = 0; b < 256; b++) {
    p2pq_demux_kind want;
    memset(d, 0xAB, sizeof(d)); /* version bytes nonzero: not a VN packet */
    stun_req(d, (uint8_t)b);
    if (b <= 3)
      want = P2PQ_DEMUX_STUN;
    else if (b & 0x40) /* 64..127 short header, 192..255 long header */
      want = P2PQ_DEMUX_QUIC;
    else /* 4..63 (ZRTP, DTLS), 128..191 (RTP/RTCP) */
      want = P2PQ_DEMUX_OTHER;
    assert_int_equal(p2pq_demux_classify(d, 20), want);
  }
}

static void test_stun_framing(void **state) {
  uint8_t d[28];
  (void)state;
  stun_req(d, 0);
  assert_int_equal(p2pq_demux_classify(d, 20), P2PQ_DEMUX_STUN);
  for (size_t k = 0; k < 20; k++) /* too short */
    assert_int_equal(p2pq_demux_classify(d, k), P2PQ_DEMUX_OTHER);
  d[7] = 0x43; /* wrong cookie */
  assert_int_equal(p2pq_demux_classify(d, 20), P2PQ_DEMUX_OTHER);
  stun_req(d, 0);
  memset(d + 20, 0, 8);
  assert_int_equal(p2pq_demux_classify(d, 28), P2PQ_DEMUX_OTHER); /* length 0 but 28 bytes */
  d[3] = 8;
  assert_int_equal(p2pq_demux_classify(d, 28), P2PQ_DEMUX_STUN);
  d[3] = 6; /* not a multiple of 4 */
  assert_int_equal(p2pq_demux_classify(d, 26), P2PQ_DEMUX_OTHER);
  assert_int_equal(p2pq_demux_classify(NULL, 0), P2PQ_DEMUX_OTHER);
}

static void test_quic_version_negotiation(void **state) {
  uint8_t vn[16] = {0x80, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0};
  (void)state;
  /* VN with fixed bit clear (0x80..0xBF) still goes to QUIC. */
  for (int b = 0x80; b <= 0xBF; b++) {
    vn[0] = (uint8_t)b;
    assert_int_equal(p2pq_demux_classify(vn, sizeof(vn)), P2PQ_DEMUX_QUIC);
  }
  vn[0] = 0x80;
  assert_int_equal(p2pq_demux_classify(vn, 4), P2PQ_DEMUX_OTHER);
  vn[4] = 1; /* version 1 with fixed bit clear: not QUIC */
  assert_int_equal(p2pq_demux_classify(vn, sizeof(vn)), P2PQ_DEMUX_OTHER);
  assert_string_equal(p2pq_demux_kind_name(P2PQ_DEMUX_QUIC), "quic");
  assert_string_equal(p2pq_demux_kind_name(P2PQ_DEMUX_STUN), "stun");
  assert_string_equal(p2pq_demux_kind_name(P2PQ_DEMUX_OTHER), "other");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_first_byte),
      cmocka_unit_test(test_stun_framing),
      cmocka_unit_test(test_quic_version_negotiation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
