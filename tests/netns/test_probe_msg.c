/* Unit tests of natprobe's wire format (probe_msg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "p2pq/error.h"
#include "probe_msg.h"

/* A response for 198.51.100.2:40000, written out by hand from the layout. */
static const uint8_t resp_v4[] = {'P', 'Q', 'N', 'P', 1, 2, 4, 3, 0x01, 0x02, 0x03, 0x04,
                                  0x05, 0x06, 0x07, 0x08, 4, 0x9c, 0x40, 198, 51, 100, 2};

static void test_request_layout_and_round_trip(void **state) {
  p2pq_probe_msg m = {.type = P2PQ_PROBE_REQ, .flags = 7, .txid = 0x1122334455667788ull}, d;
  uint8_t buf[64];
  static const uint8_t want[] = {'P', 'Q', 'N', 'P', 1, 1, 7, 0,
                                 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
  int n = p2pq_probe_encode(&m, buf, sizeof(buf));

  (void)state;
  assert_int_equal(n, P2PQ_PROBE_REQ_LEN);
  assert_memory_equal(buf, want, sizeof(want));
  assert_int_equal(p2pq_probe_decode(buf, (size_t)n, &d), 0);
  assert_int_equal(d.type, P2PQ_PROBE_REQ);
  assert_int_equal(d.flags, 7);
  assert_true(d.txid == m.txid);
  assert_int_equal(d.observed.family, 0);
}

static void test_response_v4_decodes(void **state) {
  p2pq_probe_msg d;
  uint8_t buf[64];

  (void)state;
  assert_int_equal(p2pq_probe_decode(resp_v4, sizeof(resp_v4), &d), 0);
  assert_int_equal(d.type, P2PQ_PROBE_RESP);
  assert_int_equal(d.flags, P2PQ_PROBE_F_OTHER_BOTH);
  assert_int_equal(d.from, 3);
  assert_true(d.txid == 0x0102030405060708ull);
  assert_int_equal(d.observed.family, 4);
  assert_int_equal(d.observed.port, 40000);
  assert_memory_equal(d.observed.ip, ((uint8_t[]){198, 51, 100, 2}), 4);
  /* and encodes back to the same bytes */
  assert_int_equal(p2pq_probe_encode(&d, buf, sizeof(buf)), (int)sizeof(resp_v4));
  assert_memory_equal(buf, resp_v4, sizeof(resp_v4));
}

static void test_response_v6_round_trip(void **state) {
  p2pq_probe_msg m = {.type = P2PQ_PROBE_RESP, .from = 1, .txid = 42}, d;
  uint8_t buf[64];
  int n;

  (void)state;
  m.observed.family = 6;
  m.observed.port = 65535;
  for (int i = 0; i < 16; i++)
    m.observed.ip[i] = (uint8_t)(0xf0 + i);
  n = p2pq_probe_encode(&m, buf, sizeof(buf));
  assert_int_equal(n, P2PQ_PROBE_MAX_LEN);
  assert_int_equal(p2pq_probe_decode(buf, (size_t)n, &d), 0);
  assert_int_equal(d.from, 1);
  assert_int_equal(d.observed.port, 65535);
  assert_memory_equal(d.observed.ip, m.observed.ip, 16);
}

static void test_every_truncation_rejected(void **state) {
  p2pq_probe_msg d;
  uint8_t req[P2PQ_PROBE_REQ_LEN];

  (void)state;
  for (size_t n = 0; n < sizeof(resp_v4); n++)
    assert_int_equal(p2pq_probe_decode(resp_v4, n, &d), P2PQ_ERR_TRUNCATED);
  memcpy(req, resp_v4, sizeof(req));
  req[5] = P2PQ_PROBE_REQ;
  assert_int_equal(p2pq_probe_decode(req, sizeof(req), &d), 0);
  for (size_t n = 0; n < sizeof(req); n++)
    assert_int_equal(p2pq_probe_decode(req, n, &d), P2PQ_ERR_TRUNCATED);
}

static void test_malformed_rejected(void **state) {
  struct {
    size_t off;
    uint8_t val;
    int want;
  } cases[] = {
      {0, 'X', P2PQ_ERR_MALFORMED},       /* magic */
      {4, 2, P2PQ_ERR_UNSUPPORTED},       /* version */
      {5, 0, P2PQ_ERR_MALFORMED},         /* type */
      {5, 3, P2PQ_ERR_MALFORMED},         /* type */
      {6, 0x10, P2PQ_ERR_MALFORMED},      /* unknown flag */
      {7, 4, P2PQ_ERR_MALFORMED},         /* from out of range */
      {16, 5, P2PQ_ERR_MALFORMED},        /* family */
      {16, 6, P2PQ_ERR_TRUNCATED},        /* family 6 needs 16 address bytes */
  };
  uint8_t buf[sizeof(resp_v4) + 1];
  p2pq_probe_msg d;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    memcpy(buf, resp_v4, sizeof(resp_v4));
    buf[cases[i].off] = cases[i].val;
    assert_int_equal(p2pq_probe_decode(buf, sizeof(resp_v4), &d), cases[i].want);
  }
  memcpy(buf, resp_v4, sizeof(resp_v4));
  buf[sizeof(resp_v4)] = 0; /* trailing byte */
  assert_int_equal(p2pq_probe_decode(buf, sizeof(buf), &d), P2PQ_ERR_MALFORMED);
}

static void test_encode_checks_space_and_args(void **state) {
  p2pq_probe_msg m;
  uint8_t buf[64];

  (void)state;
  assert_int_equal(p2pq_probe_decode(resp_v4, sizeof(resp_v4), &m), 0);
  for (size_t cap = 0; cap < sizeof(resp_v4); cap++)
    assert_int_equal(p2pq_probe_encode(&m, buf, cap), P2PQ_ERR_NOBUF);
  m.observed.family = 0;
  assert_int_equal(p2pq_probe_encode(&m, buf, sizeof(buf)), P2PQ_ERR_INVALID_ARG);
  m.observed.family = 4;
  m.flags = 0x20;
  assert_int_equal(p2pq_probe_encode(&m, buf, sizeof(buf)), P2PQ_ERR_INVALID_ARG);
  m.flags = 0;
  m.type = 9;
  assert_int_equal(p2pq_probe_encode(&m, buf, sizeof(buf)), P2PQ_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_layout_and_round_trip),
      cmocka_unit_test(test_response_v4_decodes),
      cmocka_unit_test(test_response_v6_round_trip),
      cmocka_unit_test(test_every_truncation_rejected),
      cmocka_unit_test(test_malformed_rejected),
      cmocka_unit_test(test_encode_checks_space_and_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
