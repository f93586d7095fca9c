/* QUIC transport parameters (RFC 9000 section 18, RFC 9221, address discovery,
 * NAT traversal): defaults, round trips, grease, and every rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "common/buf.h"
#include "quic/tparams.h"

static void fill_all(p2pq_tparams *tp) {
  static const uint8_t ip4[4] = {198, 51, 100, 9};
  static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  p2pq_tparams_default(tp);
  p2pq_cid_init(&tp->original_dcid, (const uint8_t *)"\x83\x94\xc8\xf0\x3e\x51\x57\x08", 8);
  tp->has_original_dcid = 1;
  tp->max_idle_timeout = 30000;
  memcpy(tp->stateless_reset_token, "0123456789abcdef", 16);
  tp->has_stateless_reset_token = 1;
  tp->max_udp_payload_size = 1452;
  tp->initial_max_data = 1 << 24;
  tp->initial_max_stream_data_bidi_local = 1 << 20;
  tp->initial_max_stream_data_bidi_remote = (1 << 20) + 1;
  tp->initial_max_stream_data_uni = (1 << 20) + 2;
  tp->initial_max_streams_bidi = 1ull << 60;
  tp->initial_max_streams_uni = 3;
  tp->ack_delay_exponent = 20;
  tp->max_ack_delay = (1 << 14) - 1;
  tp->disable_active_migration = 1;
  tp->preferred_address.present = 1;
  p2pq_addr_v4(&tp->preferred_address.v4, ip4, 4433);
  p2pq_addr_v6(&tp->preferred_address.v6, ip6, 4434);
  p2pq_cid_init(&tp->preferred_address.cid, (const uint8_t *)"prefcid!", 8);
  memcpy(tp->preferred_address.token, "fedcba9876543210", 16);
  tp->active_connection_id_limit = 8;
  p2pq_cid_init(&tp->initial_scid, (const uint8_t *)"\xf0\x67\xa5\x50\x2a\x42\x62\xb5", 8);
  tp->has_initial_scid = 1;
  p2pq_cid_init(&tp->retry_scid, (const uint8_t *)"retry", 5);
  tp->has_retry_scid = 1;
  tp->max_datagram_frame_size = 65535;
  tp->address_discovery = P2PQ_AD_BOTH;
  tp->has_nat_traversal = 1;
  tp->nat_traversal_limit = 5;
}

static void assert_tp_eq(const p2pq_tparams *a, const p2pq_tparams *b) {
  assert_int_equal(a->has_original_dcid, b->has_original_dcid);
  if (a->has_original_dcid)
    assert_true(p2pq_cid_equal(&a->original_dcid, &b->original_dcid));
  assert_true(a->max_idle_timeout == b->max_idle_timeout);
  assert_int_equal(a->has_stateless_reset_token, b->has_stateless_reset_token);
  if (a->has_stateless_reset_token)
    assert_memory_equal(a->stateless_reset_token, b->stateless_reset_token, 16);
  assert_true(a->max_udp_payload_size == b->max_udp_payload_size);
  assert_true(a->initial_max_data == b->initial_max_data);
  assert_true(a->initial_max_stream_data_bidi_local == b->initial_max_stream_data_bidi_local);
  assert_true(a->initial_max_stream_data_bidi_remote == b->initial_max_stream_data_bidi_remote);
  assert_true(a->initial_max_stream_data_uni == b->initial_max_stream_data_uni);
  assert_true(a->initial_max_streams_bidi == b->initial_max_streams_bidi);
  assert_true(a->initial_max_streams_uni == b->initial_max_streams_uni);
  assert_true(a->ack_delay_exponent == b->ack_delay_exponent);
  assert_true(a->max_ack_delay == b->max_ack_delay);
  assert_int_equal(a->disable_active_migration, b->disable_active_migration);
  assert_int_equal(a->preferred_address.present, b->preferred_address.present);
  if (a->preferred_address.present) {
    assert_true(p2pq_addr_equal(&a->preferred_address.v4, &b->preferred_address.v4));
    assert_true(p2pq_addr_equal(&a->preferred_address.v6, &b->preferred_address.v6));
    assert_int_equal(a->preferred_address.v4.family, b->preferred_address.v4.family);
    assert_int_equal(a->preferred_address.v6.family, b->preferred_address.v6.family);
    assert_true(p2pq_cid_equal(&a->preferred_address.cid, &b->preferred_address.cid));
    assert_memory_equal(a->preferred_address.token, b->preferred_address.token, 16);
  }
  assert_true(a->active_connection_id_limit == b->active_connection_id_limit);
  assert_int_equal(a->has_initial_scid, b->has_initial_scid);
  if (a->has_initial_scid)
    assert_true(p2pq_cid_equal(&a->initial_scid, &b->initial_scid));
  assert_int_equal(a->has_retry_scid, b->has_retry_scid);
  if (a->has_retry_scid)
    assert_true(p2pq_cid_equal(&a->retry_scid, &b->retry_scid));
  assert_true(a->max_datagram_frame_size == b->max_datagram_frame_size);
  assert_int_equal(a->address_discovery, b->address_discovery);
  assert_int_equal(a->has_nat_traversal, b->has_nat_traversal);
  assert_true(a->nat_traversal_limit == b->nat_traversal_limit);
}

/* Offsets where each parameter starts (and the end), from the raw encoding. */
static size_t boundaries(const uint8_t *p, size_t len, size_t *out, size_t cap) {
  p2pq_rd r;
  size_t n = 0;
  p2pq_rd_init(&r, p, len);
  while (p2pq_rd_left(&r) && n < cap) {
    uint64_t id = 0, l = 0;
    out[n++] = (size_t)(r.p - p);
    assert_int_equal(p2pq_rd_varint(&r, &id), 0);
    assert_int_equal(p2pq_rd_varint(&r, &l), 0);
    assert_int_equal(p2pq_rd_skip(&r, (size_t)l), 0);
  }
  out[n++] = len;
  return n;
}

/* Finds parameter id in an encoding; returns its value and length. */
static const uint8_t *find_param(const uint8_t *p, size_t len, uint64_t want, size_t *vlen) {
  p2pq_rd r;
  p2pq_rd_init(&r, p, len);
  while (p2pq_rd_left(&r)) {
    uint64_t id = 0, l = 0;
    const uint8_t *v = NULL;
    assert_int_equal(p2pq_rd_varint(&r, &id), 0);
    assert_int_equal(p2pq_rd_varint(&r, &l), 0);
    assert_int_equal(p2pq_rd_bytes(&r, (size_t)l, &v), 0);
    if (id == want) {
      *vlen = (size_t)l;
      return v;
    }
  }
  return NULL;
}

static void test_defaults(void **state) {
  p2pq_tparams tp, d;
  uint8_t buf[64];
  size_t len, vlen;
  (void)state;
  p2pq_tparams_default(&tp);
  assert_true(tp.max_udp_payload_size == 65527 && tp.ack_delay_exponent == 3);
  assert_true(tp.max_ack_delay == 25 && tp.active_connection_id_limit == 2);
  assert_true(tp.initial_max_data == 0 && tp.max_datagram_frame_size == 0);
  assert_int_equal(tp.address_discovery, P2PQ_AD_ABSENT);
  assert_int_equal(tp.has_nat_traversal, 0);
  /* only the grease parameter: defaults are not sent */
  assert_int_equal(p2pq_tparams_encode(&tp, 1, buf, sizeof(buf), &len), 0);
  assert_int_equal(find_param(buf, len, P2PQ_TP_MAX_UDP_PAYLOAD_SIZE, &vlen), NULL);
  assert_true(len <= 3);
  assert_int_equal(p2pq_tparams_decode(&d, 1, buf, len), 0);
  assert_tp_eq(&tp, &d);
  /* an empty list decodes to the defaults */
  assert_int_equal(p2pq_tparams_decode(&d, 0, buf, 0), 0);
  assert_tp_eq(&tp, &d);
}

static void test_round_trip_server(void **state) {
  p2pq_tparams tp, d;
  uint8_t buf[512];
  size_t len, nb, b[64], vlen, greased = 0;
  const uint8_t *v;
  p2pq_rd r;
  (void)state;
  fill_all(&tp);
  assert_int_equal(p2pq_tparams_encode(&tp, 1, buf, sizeof(buf), &len), 0);
  assert_int_equal(p2pq_tparams_decode(&d, 1, buf, len), 0);
  assert_tp_eq(&tp, &d);
  /* extension ids on the wire */
  v = find_param(buf, len, P2PQ_TP_ADDRESS_DISCOVERY, &vlen);
  assert_non_null(v);
  assert_int_equal(vlen, 1);
  assert_int_equal(v[0], 2);
  assert_non_null(memmem(buf, len, "\xc0\x00\x00\x00\x9f\x81\xa1\x76", 8));
  assert_non_null(memmem(buf, len, "\xfd\x7e\x9f\x0b\xca\x12\xfe\xa6\x01\x05", 10));
  /* exactly one reserved 31*N+27 id */
  p2pq_rd_init(&r, buf, len);
  while (p2pq_rd_left(&r)) {
    uint64_t id = 0, l = 0;
    p2pq_rd_varint(&r, &id);
    p2pq_rd_varint(&r, &l);
    p2pq_rd_skip(&r, (size_t)l);
    greased += id % 31 == 27;
  }
  assert_int_equal(greased, 1);
  /* every truncation not on a parameter boundary fails */
  nb = boundaries(buf, len, b, 64);
  for (size_t n = 0, j = 0; n < len; n++) {
    int rc = p2pq_tparams_decode(&d, 1, buf, n);
    while (j < nb && b[j] < n)
      j++;
    if (j < nb && b[j] == n)
      assert_int_equal(rc, 0);
    else
      assert_int_equal(rc, P2PQ_ERR_TRANSPORT_PARAM);
  }
  /* too small an output */
  assert_int_equal(p2pq_tparams_encode(&tp, 1, buf, len - 1, &len), P2PQ_ERR_NOBUF);
}

static void test_round_trip_client(void **state) {
  p2pq_tparams tp, d, want;
  uint8_t buf[512];
  size_t len, vlen;
  (void)state;
  fill_all(&tp);
  assert_int_equal(p2pq_tparams_encode(&tp, 0, buf, sizeof(buf), &len), 0);
  /* server-only parameters are left out */
  assert_null(find_param(buf, len, P2PQ_TP_ORIGINAL_DCID, &vlen));
  assert_null(find_param(buf, len, P2PQ_TP_STATELESS_RESET_TOKEN, &vlen));
  assert_null(find_param(buf, len, P2PQ_TP_PREFERRED_ADDRESS, &vlen));
  assert_null(find_param(buf, len, P2PQ_TP_RETRY_SCID, &vlen));
  /* client's nat_traversal is empty */
  assert_non_null(find_param(buf, len, P2PQ_TP_NAT_TRAVERSAL, &vlen));
  assert_int_equal(vlen, 0);
  assert_int_equal(p2pq_tparams_decode(&d, 0, buf, len), 0);
  want = tp;
  want.has_original_dcid = 0;
  want.has_stateless_reset_token = 0;
  want.preferred_address.present = 0;
  want.has_retry_scid = 0;
  want.nat_traversal_limit = 0;
  assert_tp_eq(&want, &d);
}

/* Preferred address with only IPv6 (IPv4 all zero). */
static void test_preferred_v6_only(void **state) {
  p2pq_tparams tp, d;
  uint8_t buf[512];
  size_t len, vlen;
  (void)state;
  fill_all(&tp);
  memset(&tp.preferred_address.v4, 0, sizeof(tp.preferred_address.v4));
  assert_int_equal(p2pq_tparams_encode(&tp, 1, buf, sizeof(buf), &len), 0);
  assert_non_null(find_param(buf, len, P2PQ_TP_PREFERRED_ADDRESS, &vlen));
  assert_int_equal(vlen, 4 + 2 + 16 + 2 + 1 + 8 + 16);
  assert_int_equal(p2pq_tparams_decode(&d, 1, buf, len), 0);
  assert_int_equal(d.preferred_address.v4.family, 0);
  assert_int_equal(d.preferred_address.v6.family, 6);
  assert_tp_eq(&tp, &d);
}

static int dec(int by_server, const uint8_t *p, size_t n) {
  p2pq_tparams tp;
  return p2pq_tparams_decode(&tp, by_server, p, n);
}
#define DEC(s, ...) dec((s), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))
#define TPE P2PQ_ERR_TRANSPORT_PARAM

static void test_rejects(void **state) {
  (void)state;
  /* server-only from a client; fine from a server */
  assert_int_equal(DEC(0, 0x00, 1, 0xaa), TPE);
  assert_int_equal(DEC(1, 0x00, 1, 0xaa), 0);
  assert_int_equal(DEC(0, 0x10, 1, 0xaa), TPE);
  assert_int_equal(DEC(0, 0x02, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), TPE);
  assert_int_equal(DEC(1, 0x02, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 0);
  /* duplicates */
  assert_int_equal(DEC(0, 0x01, 1, 5, 0x01, 1, 5), TPE);
  assert_int_equal(DEC(0, 0x0c, 0, 0x0c, 0), TPE);
  /* ranges */
  assert_int_equal(DEC(0, 0x0a, 1, 20), 0);
  assert_int_equal(DEC(0, 0x0a, 1, 21), TPE);
  assert_int_equal(DEC(0, 0x0b, 2, 0x7f, 0xff), 0);
  assert_int_equal(DEC(0, 0x0b, 4, 0x80, 0x00, 0x40, 0x00), TPE);
  assert_int_equal(DEC(0, 0x03, 2, 0x44, 0xb0), 0); /* 1200 */
  assert_int_equal(DEC(0, 0x03, 2, 0x44, 0xaf), TPE);
  assert_int_equal(DEC(0, 0x0e, 1, 2), 0);
  assert_int_equal(DEC(0, 0x0e, 1, 1), TPE);
  assert_int_equal(DEC(0, 0x08, 8, 0xd0, 0, 0, 0, 0, 0, 0, 0), 0);
  assert_int_equal(DEC(0, 0x08, 8, 0xd0, 0, 0, 0, 0, 0, 0, 1), TPE);
  assert_int_equal(DEC(0, 0x09, 8, 0xd0, 0, 0, 0, 0, 0, 0, 1), TPE);
  /* lengths: varint with a trailing byte, or short; token 15; flag with a value */
  assert_int_equal(DEC(0, 0x04, 2, 5, 0), TPE);
  assert_int_equal(DEC(0, 0x04, 2, 0x80, 0), TPE);
  assert_int_equal(DEC(0, 0x04, 0), TPE);
  assert_int_equal(DEC(1, 0x02, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14), TPE);
  assert_int_equal(DEC(0, 0x0c, 1, 0), TPE);
  /* CID of 21 bytes */
  assert_int_equal(DEC(0, 0x0f, 21, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                       18, 19, 20, 21),
                   TPE);
  /* parameter length past the end, truncated id */
  assert_int_equal(DEC(0, 0x01, 2, 5), TPE);
  assert_int_equal(DEC(0, 0x40), TPE);
  /* address_discovery 0..2 only */
  assert_int_equal(DEC(0, 0xc0, 0, 0, 0, 0x9f, 0x81, 0xa1, 0x76, 1, 2), 0);
  assert_int_equal(DEC(0, 0xc0, 0, 0, 0, 0x9f, 0x81, 0xa1, 0x76, 1, 3), TPE);
  assert_int_equal(DEC(0, 0xc0, 0, 0, 0, 0x9f, 0x81, 0xa1, 0x76, 0), TPE);
  /* nat_traversal: empty from a client, a non-zero varint from a server */
  assert_int_equal(DEC(0, 0xfd, 0x7e, 0x9f, 0x0b, 0xca, 0x12, 0xfe, 0xa6, 0), 0);
  assert_int_equal(DEC(0, 0xfd, 0x7e, 0x9f, 0x0b, 0xca, 0x12, 0xfe, 0xa6, 1, 1), TPE);
  assert_int_equal(DEC(1, 0xfd, 0x7e, 0x9f, 0x0b, 0xca, 0x12, 0xfe, 0xa6, 1, 1), 0);
  assert_int_equal(DEC(1, 0xfd, 0x7e, 0x9f, 0x0b, 0xca, 0x12, 0xfe, 0xa6, 1, 0), TPE);
  assert_int_equal(DEC(1, 0xfd, 0x7e, 0x9f, 0x0b, 0xca, 0x12, 0xfe, 0xa6, 0), TPE);
  /* unknown ids (incl. grease and old drafts' codepoints) are ignored */
  assert_int_equal(DEC(0, 0x40, 0xba, 3, 1, 2, 3, 0x1b, 0), 0);
  assert_int_equal(DEC(0, 0xc0, 0, 0, 0, 0x9f, 0x81, 0xa1, 0x75, 1, 9), 0);
}

static void test_preferred_address_rejects(void **state) {
  uint8_t pa[2 + 4 + 2 + 16 + 2 + 1 + 4 + 16];
  size_t n = 0;
  (void)state;
  memset(pa, 0, sizeof(pa));
  pa[n++] = 0x0d;
  pa[n++] = 4 + 2 + 16 + 2 + 1 + 4 + 16;
  n += 4 + 2 + 16 + 2;
  pa[n++] = 4; /* CID length */
  assert_int_equal(dec(1, pa, sizeof(pa)), 0);
  assert_int_equal(dec(0, pa, sizeof(pa)), TPE); /* server-only */
  pa[n - 1] = 0; /* zero-length CID: forbidden */
  assert_int_equal(dec(1, pa, sizeof(pa)), TPE);
  pa[n - 1] = 5; /* CID runs into the token: length mismatch */
  assert_int_equal(dec(1, pa, sizeof(pa)), TPE);
  pa[n - 1] = 3; /* one byte left over */
  assert_int_equal(dec(1, pa, sizeof(pa)), TPE);
  pa[n - 1] = 21;
  assert_int_equal(dec(1, pa, sizeof(pa)), TPE);
}

static void test_encode_rejects(void **state) {
  p2pq_tparams tp;
  uint8_t buf[512];
  size_t len;
  (void)state;
  p2pq_tparams_default(&tp);
  tp.ack_delay_exponent = 21;
  assert_int_equal(p2pq_tparams_encode(&tp, 0, buf, sizeof(buf), &len), P2PQ_ERR_INVALID_ARG);
  p2pq_tparams_default(&tp);
  tp.address_discovery = 3;
  assert_int_equal(p2pq_tparams_encode(&tp, 0, buf, sizeof(buf), &len), P2PQ_ERR_INVALID_ARG);
  p2pq_tparams_default(&tp);
  tp.has_nat_traversal = 1;
  assert_int_equal(p2pq_tparams_encode(&tp, 1, buf, sizeof(buf), &len), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_tparams_encode(&tp, 0, buf, sizeof(buf), &len), 0);
  p2pq_tparams_default(&tp);
  tp.preferred_address.present = 1; /* with an empty CID */
  assert_int_equal(p2pq_tparams_encode(&tp, 1, buf, sizeof(buf), &len), P2PQ_ERR_INVALID_ARG);
  assert_string_equal(p2pq_tparams_name(P2PQ_TP_ADDRESS_DISCOVERY), "address_discovery");
  assert_string_equal(p2pq_tparams_name(0x0e), "active_connection_id_limit");
  assert_string_equal(p2pq_tparams_name(0x1b), "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_round_trip_server),
      cmocka_unit_test(test_round_trip_client),
      cmocka_unit_test(test_preferred_v6_only),
      cmocka_unit_test(test_rejects),
      cmocka_unit_test(test_preferred_address_rejects),
      cmocka_unit_test(test_encode_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
