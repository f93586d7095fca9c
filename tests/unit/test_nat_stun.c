/* STUN codec: RFC 5769 test vectors byte-exact, RFC 8489 B.1, truncations,
 * bad FINGERPRINT / MESSAGE-INTEGRITY, attribute rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "nat/stun.h"
#include "p2pq/error.h"

/* RFC 5769 2.1: sample request, short-term credentials, padded with spaces. */
static const uint8_t req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e,
    0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24,
    0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1,
    0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68,
    0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5,
    0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 2.2: IPv4 response. */
static const uint8_t resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
    0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
    0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b,
    0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* RFC 5769 2.3: IPv6 response. */
static const uint8_t resp6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02,
    0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5,
    0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6,
    0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

/* RFC 5769 2.4: request with long-term credentials. */
static const uint8_t reqltc[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad,
    0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3,
    0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9,
    0x00, 0x00, 0x00, 0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39,
    0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54,
    0x76, 0x79, 0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70,
    0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2,
    0x8c, 0xa8, 0x96, 0x66};

/* RFC 8489 B.1 (as corrected by its errata): USERHASH, NONCE, REALM,
 * PASSWORD-ALGORITHM, MESSAGE-INTEGRITY-SHA256. */
static const uint8_t req256[] = {
    0x00, 0x01, 0x00, 0x90, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad,
    0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x1e, 0x00, 0x20, 0x4a, 0x3c, 0xf3, 0x8f,
    0xef, 0x69, 0x92, 0xbd, 0xa9, 0x52, 0xc6, 0x78, 0x04, 0x17, 0xda, 0x0f, 0x24, 0x81,
    0x94, 0x15, 0x56, 0x9e, 0x60, 0xb2, 0x05, 0xc4, 0x6e, 0x41, 0x40, 0x7f, 0x17, 0x04,
    0x00, 0x15, 0x00, 0x29, 0x6f, 0x62, 0x4d, 0x61, 0x74, 0x4a, 0x6f, 0x73, 0x32, 0x41,
    0x41, 0x41, 0x43, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64,
    0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36,
    0x34, 0x73, 0x41, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x1d, 0x00, 0x04, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x1c, 0x00, 0x20, 0xb5, 0xc7, 0xbf, 0x00, 0x5b, 0x6c, 0x52, 0xa2,
    0x1c, 0x51, 0xc5, 0xe8, 0x92, 0xf8, 0x19, 0x24, 0x13, 0x62, 0x96, 0xcb, 0x92, 0x7c,
    0x43, 0x14, 0x93, 0x09, 0x27, 0x8c, 0xc6, 0x51, 0x8e, 0x65};

static const char *pw = "VOkJxbRl1RmTxUk/WvJxBt";
static const char *ltc_user = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

static const uint8_t *txid(const uint8_t *m) { return m + 8; }

static void test_type_bits(void **state) {
  uint16_t method;
  uint8_t cls;
  (void)state;
  assert_int_equal(p2pq_stun_type(1, P2PQ_STUN_REQUEST), 0x0001);
  assert_int_equal(p2pq_stun_type(1, P2PQ_STUN_INDICATION), 0x0011);
  assert_int_equal(p2pq_stun_type(1, P2PQ_STUN_SUCCESS), 0x0101);
  assert_int_equal(p2pq_stun_type(1, P2PQ_STUN_ERROR), 0x0111);
  assert_int_equal(p2pq_stun_type(0xFFF, P2PQ_STUN_ERROR), 0x3FFF);
  for (uint16_t m = 0; m <= 0xFFF; m++)
    for (uint8_t c = 0; c < 4; c++) {
      p2pq_stun_type_split(p2pq_stun_type(m, c), &method, &cls);
      assert_int_equal(method, m);
      assert_int_equal(cls, c);
    }
}

static void test_crc32(void **state) {
  (void)state;
  assert_int_equal(p2pq_stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
  assert_int_equal(p2pq_stun_crc32(NULL, 0), 0);
}

static void test_rfc5769_request(void **state) {
  p2pq_stun_msg m;
  (void)state;
  assert_int_equal(p2pq_stun_decode(&m, req, sizeof(req)), 0);
  assert_int_equal(m.method, P2PQ_STUN_METHOD_BINDING);
  assert_int_equal(m.cls, P2PQ_STUN_REQUEST);
  assert_memory_equal(m.txid, txid(req), 12);
  assert_true(m.present & P2PQ_STUN_HAS_FINGERPRINT);
  assert_int_equal(m.software.len, 16);
  assert_memory_equal(m.software.p, "STUN test client", 16);
  assert_int_equal(m.username.len, 9);
  assert_memory_equal(m.username.p, "evtj:h6vY", 9);
  assert_int_equal(m.priority, 0x6e0001ff);
  assert_true(m.present & P2PQ_STUN_HAS_ICE_CONTROLLED);
  assert_true(m.ice_controlled == 0x932ff9b151263b36ull);
  assert_int_equal(m.n_unknown_required, 0);
  assert_int_equal(p2pq_stun_check_integrity(&m, (const uint8_t *)pw, strlen(pw)), 0);
  assert_int_equal(p2pq_stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBr", 22),
                   P2PQ_ERR_AUTH);
  assert_int_equal(p2pq_stun_check_short_term(&m, "evtj:h6vY", pw), 0);
  assert_int_equal(p2pq_stun_check_short_term(&m, NULL, pw), 0);
  assert_int_equal(p2pq_stun_check_short_term(&m, "evtj:h6vX", pw), P2PQ_ERR_AUTH);
  assert_int_equal(p2pq_stun_check_short_term(&m, "evtj:h6v", pw), P2PQ_ERR_AUTH);
  assert_int_equal(p2pq_stun_check_short_term(&m, "evtj:h6vY", "wrong"), P2PQ_ERR_AUTH);
  /* The responses carry no USERNAME; a message without integrity has none. */
  assert_int_equal(p2pq_stun_decode(&m, resp4, sizeof(resp4)), 0);
  assert_int_equal(p2pq_stun_check_short_term(&m, "evtj:h6vY", pw), P2PQ_ERR_NOT_FOUND);
  assert_int_equal(p2pq_stun_check_short_term(&m, NULL, pw), 0);
  static const uint8_t bare[20] = {0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42};
  assert_int_equal(p2pq_stun_decode(&m, bare, sizeof(bare)), 0);
  assert_int_equal(p2pq_stun_check_short_term(&m, NULL, pw), P2PQ_ERR_NOT_FOUND);
  assert_int_equal(p2pq_stun_check_integrity(&m, (const uint8_t *)pw, 3), P2PQ_ERR_NOT_FOUND);
}

static void test_rfc5769_request_build(void **state) {
  uint8_t buf[200];
  p2pq_stun_builder b;
  (void)state;
  p2pq_stun_build_init(&b, buf, sizeof(buf), P2PQ_STUN_METHOD_BINDING, P2PQ_STUN_REQUEST,
                       txid(req));
  b.pad_byte = 0x20; /* the RFC's vectors pad with spaces */
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_SOFTWARE, "STUN test client", 16);
  p2pq_stun_build_u32(&b, P2PQ_STUN_ATTR_PRIORITY, 0x6e0001ff);
  p2pq_stun_build_u64(&b, P2PQ_STUN_ATTR_ICE_CONTROLLED, 0x932ff9b151263b36ull);
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_USERNAME, "evtj:h6vY", 9);
  p2pq_stun_build_integrity(&b, (const uint8_t *)pw, strlen(pw));
  p2pq_stun_build_fingerprint(&b);
  assert_int_equal(p2pq_stun_build_finish(&b), sizeof(req));
  assert_memory_equal(buf, req, sizeof(req));
}

static void check_response(const uint8_t *v, size_t len, const char *want_addr) {
  p2pq_stun_msg m;
  p2pq_addr want;
  uint8_t buf[200];
  p2pq_stun_builder b;
  assert_int_equal(p2pq_addr_parse(&want, want_addr, -1), 0);
  assert_int_equal(p2pq_stun_decode(&m, v, len), 0);
  assert_int_equal(m.cls, P2PQ_STUN_SUCCESS);
  assert_true(m.present & P2PQ_STUN_HAS_XOR_MAPPED);
  assert_true(p2pq_addr_equal(&m.xor_mapped, &want));
  assert_int_equal(m.software.len, 11);
  assert_memory_equal(m.software.p, "test vector", 11);
  assert_int_equal(p2pq_stun_check_integrity(&m, (const uint8_t *)pw, strlen(pw)), 0);
  assert_int_equal(p2pq_stun_check_integrity(&m, (const uint8_t *)"x", 1), P2PQ_ERR_AUTH);
  /* And build it back byte for byte. */
  p2pq_stun_build_init(&b, buf, sizeof(buf), P2PQ_STUN_METHOD_BINDING, P2PQ_STUN_SUCCESS,
                       m.txid);
  b.pad_byte = 0x20;
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_SOFTWARE, "test vector", 11);
  p2pq_stun_build_xor_addr(&b, P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS, &want);
  p2pq_stun_build_integrity(&b, (const uint8_t *)pw, strlen(pw));
  p2pq_stun_build_fingerprint(&b);
  assert_int_equal(p2pq_stun_build_finish(&b), (int)len);
  assert_memory_equal(buf, v, len);
}

static void test_rfc5769_responses(void **state) {
  (void)state;
  check_response(resp4, sizeof(resp4), "192.0.2.1:32853");
  check_response(resp6, sizeof(resp6), "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
}

static void test_rfc5769_long_term(void **state) {
  p2pq_stun_msg m;
  uint8_t key[16], buf[200];
  p2pq_stun_builder b;
  (void)state;
  assert_int_equal(p2pq_stun_decode(&m, reqltc, sizeof(reqltc)), 0);
  assert_int_equal(m.username.len, strlen(ltc_user));
  assert_memory_equal(m.username.p, ltc_user, strlen(ltc_user));
  assert_int_equal(m.realm.len, 11);
  assert_int_equal(m.nonce.len, 28);
  assert_false(m.present & P2PQ_STUN_HAS_FINGERPRINT);
  assert_int_equal(p2pq_stun_long_term_key_md5(ltc_user, "example.org", "TheMatrIX", key), 0);
  assert_int_equal(p2pq_stun_check_integrity(&m, key, 16), 0);
  assert_int_equal(p2pq_stun_long_term_key_md5(ltc_user, "example.org", "TheMatrix", key), 0);
  assert_int_equal(p2pq_stun_check_integrity(&m, key, 16), P2PQ_ERR_AUTH);
  p2pq_stun_long_term_key_md5(ltc_user, "example.org", "TheMatrIX", key);
  p2pq_stun_build_init(&b, buf, sizeof(buf), 1, P2PQ_STUN_REQUEST, txid(reqltc));
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_USERNAME, ltc_user, strlen(ltc_user));
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA", 28);
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_REALM, "example.org", 11);
  p2pq_stun_build_integrity(&b, key, 16);
  assert_int_equal(p2pq_stun_build_finish(&b), sizeof(reqltc));
  assert_memory_equal(buf, reqltc, sizeof(reqltc));
}

static void test_rfc8489_sha256(void **state) {
  p2pq_stun_msg m;
  uint8_t key[32];
  (void)state;
  assert_int_equal(p2pq_stun_decode(&m, req256, sizeof(req256)), 0);
  assert_true(m.present & P2PQ_STUN_HAS_USERHASH);
  assert_true(m.present & P2PQ_STUN_HAS_INTEGRITY_SHA256);
  assert_false(m.present & P2PQ_STUN_HAS_INTEGRITY);
  assert_int_equal(m.mi256_len, 32);
  assert_int_equal(m.nonce.len, 41);
  /* PASSWORD-ALGORITHM is comprehension-required and not decoded here. */
  assert_int_equal(m.n_unknown_required, 1);
  assert_int_equal(m.unknown_required[0], P2PQ_STUN_ATTR_PASSWORD_ALGORITHM);
  assert_int_equal(p2pq_stun_long_term_key_sha256(ltc_user, "example.org", "TheMatrIX", key), 0);
  assert_int_equal(p2pq_stun_check_integrity(&m, key, 32), 0);
  key[0] ^= 1;
  assert_int_equal(p2pq_stun_check_integrity(&m, key, 32), P2PQ_ERR_AUTH);
  assert_int_equal(p2pq_stun_check_integrity_sha1(&m, key, 32), P2PQ_ERR_NOT_FOUND);
}

/* Attribute boundaries of a vector, to tell a cut at a boundary from one inside. */
static int is_boundary(const uint8_t *v, size_t len, size_t cut) {
  size_t off = 20;
  while (off < len) {
    if (off == cut)
      return 1;
    off += 4 + ((((size_t)v[off + 2] << 8) | v[off + 3]) + 3) / 4 * 4;
  }
  return off == cut;
}

static void truncations(const uint8_t *v, size_t len) {
  uint8_t buf[256];
  p2pq_stun_msg m;
  for (size_t k = 0; k < len; k++) {
    int rc = p2pq_stun_decode(&m, v, k);
    assert_true(rc == P2PQ_ERR_TRUNCATED || rc == P2PQ_ERR_MALFORMED);
    if (k < 20 || (k % 4))
      continue;
    /* Same cut with the header length patched to fit: only a cut at an
     * attribute boundary can still decode. */
    memcpy(buf, v, k);
    buf[2] = (uint8_t)((k - 20) >> 8);
    buf[3] = (uint8_t)(k - 20);
    rc = p2pq_stun_decode(&m, buf, k);
    if (is_boundary(v, len, k))
      assert_int_equal(rc, 0);
    else
      assert_true(rc == P2PQ_ERR_TRUNCATED || rc == P2PQ_ERR_MALFORMED);
  }
}

static void test_truncations(void **state) {
  (void)state;
  truncations(req, sizeof(req));
  truncations(resp4, sizeof(resp4));
  truncations(resp6, sizeof(resp6));
  truncations(reqltc, sizeof(reqltc));
  truncations(req256, sizeof(req256));
}

static void test_bad_fingerprint_and_integrity(void **state) {
  uint8_t buf[sizeof(resp4)];
  p2pq_stun_msg m;
  (void)state;
  /* Any flipped bit before the FINGERPRINT attribute breaks the CRC. */
  for (size_t i = 20; i < sizeof(resp4) - 8; i++) {
    memcpy(buf, resp4, sizeof(buf));
    buf[i] ^= 0x01;
    int rc = p2pq_stun_decode(&m, buf, sizeof(buf));
    assert_true(rc != 0);
  }
  /* A flipped bit inside MESSAGE-INTEGRITY with a recomputed FINGERPRINT. */
  memcpy(buf, resp4, sizeof(buf));
  buf[60] ^= 0x80;
  uint32_t fp = p2pq_stun_crc32(buf, sizeof(buf) - 8) ^ P2PQ_STUN_FP_XOR;
  buf[76] = (uint8_t)(fp >> 24);
  buf[77] = (uint8_t)(fp >> 16);
  buf[78] = (uint8_t)(fp >> 8);
  buf[79] = (uint8_t)fp;
  assert_int_equal(p2pq_stun_decode(&m, buf, sizeof(buf)), 0);
  assert_int_equal(p2pq_stun_check_integrity(&m, (const uint8_t *)pw, strlen(pw)), P2PQ_ERR_AUTH);
  /* Bad FINGERPRINT alone is P2PQ_ERR_STUN. */
  memcpy(buf, resp4, sizeof(buf));
  buf[79] ^= 1;
  assert_int_equal(p2pq_stun_decode(&m, buf, sizeof(buf)), P2PQ_ERR_STUN);
}

static void test_header_rules(void **state) {
  uint8_t buf[sizeof(resp4) + 4];
  p2pq_stun_msg m;
  (void)state;
  memcpy(buf, resp4, sizeof(resp4));
  buf[0] |= 0x40; /* top bits must be 00 */
  assert_int_equal(p2pq_stun_decode(&m, buf, sizeof(resp4)), P2PQ_ERR_MALFORMED);
  memcpy(buf, resp4, sizeof(resp4));
  buf[5] ^= 1; /* cookie */
  assert_int_equal(p2pq_stun_decode(&m, buf, sizeof(resp4)), P2PQ_ERR_MALFORMED);
  memcpy(buf, resp4, sizeof(resp4));
  buf[3] = 0x3d; /* length not a multiple of 4 */
  assert_int_equal(p2pq_stun_decode(&m, buf, sizeof(resp4)), P2PQ_ERR_MALFORMED);
  memcpy(buf, resp4, sizeof(resp4));
  memset(buf + sizeof(resp4), 0, 4); /* trailing bytes beyond the length */
  assert_int_equal(p2pq_stun_decode(&m, buf, sizeof(buf)), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_stun_check_header(resp4, sizeof(resp4)), 0);
}

static int build_simple(uint8_t *buf, size_t cap, uint16_t type, const void *v, size_t len) {
  p2pq_stun_builder b;
  static const uint8_t id[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  p2pq_stun_build_init(&b, buf, cap, 1, P2PQ_STUN_SUCCESS, id);
  p2pq_stun_build_attr(&b, type, v, len);
  return p2pq_stun_build_finish(&b);
}

static void test_attribute_rules(void **state) {
  uint8_t buf[128];
  p2pq_stun_msg m;
  int n;
  (void)state;
  /* Wrong address family / lengths. */
  static const uint8_t fam3[8] = {0, 3, 0, 1, 1, 2, 3, 4};
  n = build_simple(buf, sizeof(buf), P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS, fam3, 8);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), P2PQ_ERR_MALFORMED);
  static const uint8_t v6short[8] = {0, 2, 0, 1, 1, 2, 3, 4};
  n = build_simple(buf, sizeof(buf), P2PQ_STUN_ATTR_MAPPED_ADDRESS, v6short, 8);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), P2PQ_ERR_MALFORMED);
  /* ERROR-CODE class 7 is invalid; 420 is fine. */
  static const uint8_t e7[4] = {0, 0, 7, 0}, e420[6] = {0, 0, 4, 20, 'h', 'i'};
  n = build_simple(buf, sizeof(buf), P2PQ_STUN_ATTR_ERROR_CODE, e7, 4);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), P2PQ_ERR_MALFORMED);
  n = build_simple(buf, sizeof(buf), P2PQ_STUN_ATTR_ERROR_CODE, e420, 6);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), 0);
  assert_int_equal(m.error_code, 420);
  assert_int_equal(m.error_reason.len, 2);
  /* Unknown comprehension-required vs optional attributes. */
  n = build_simple(buf, sizeof(buf), 0x7777, "abc", 3);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), 0);
  assert_int_equal(m.n_unknown_required, 1);
  assert_int_equal(m.unknown_required[0], 0x7777);
  n = build_simple(buf, sizeof(buf), 0xC001, "abc", 3);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), 0);
  assert_int_equal(m.n_unknown_required, 0);
  /* Bad MESSAGE-INTEGRITY and FINGERPRINT lengths. */
  n = build_simple(buf, sizeof(buf), P2PQ_STUN_ATTR_MESSAGE_INTEGRITY, "0123456789", 10);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), P2PQ_ERR_MALFORMED);
  n = build_simple(buf, sizeof(buf), P2PQ_STUN_ATTR_FINGERPRINT, "01234567", 8);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), P2PQ_ERR_MALFORMED);
}

static void test_after_integrity_ignored(void **state) {
  uint8_t buf[200];
  p2pq_stun_builder b;
  p2pq_stun_msg m;
  p2pq_addr a, evil;
  static const uint8_t id[12] = {9};
  int n;
  (void)state;
  p2pq_addr_parse(&a, "198.51.100.1:4000", -1);
  p2pq_addr_parse(&evil, "203.0.113.66:1", -1);
  p2pq_stun_build_init(&b, buf, sizeof(buf), 1, P2PQ_STUN_SUCCESS, id);
  p2pq_stun_build_integrity(&b, (const uint8_t *)"k", 1);
  p2pq_stun_build_xor_addr(&b, P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS, &evil);
  p2pq_stun_build_attr(&b, 0x7001, "x", 1); /* unknown required, but after MI */
  p2pq_stun_build_fingerprint(&b);
  n = p2pq_stun_build_finish(&b);
  assert_true(n > 0);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), 0);
  assert_false(m.present & P2PQ_STUN_HAS_XOR_MAPPED);
  assert_int_equal(m.n_unknown_required, 0);
  assert_int_equal(p2pq_stun_check_integrity(&m, (const uint8_t *)"k", 1), 0);
  /* FINGERPRINT not last is malformed. */
  p2pq_stun_build_init(&b, buf, sizeof(buf), 1, P2PQ_STUN_SUCCESS, id);
  p2pq_stun_build_fingerprint(&b);
  p2pq_stun_build_xor_addr(&b, P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
  n = p2pq_stun_build_finish(&b);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), P2PQ_ERR_MALFORMED);
}

static void test_roundtrip_and_builder_errors(void **state) {
  uint8_t buf[256];
  p2pq_stun_builder b;
  p2pq_stun_msg m;
  p2pq_addr a4, a6, o;
  static const uint16_t unk[3] = {0x0031, 0x7000, 0x0002};
  static const uint8_t id[12] = {0xaa, 0xbb};
  int n;
  (void)state;
  p2pq_addr_parse(&a4, "203.0.113.7:61000", -1);
  p2pq_addr_parse(&a6, "[2001:db8::9]:7", -1);
  p2pq_addr_parse(&o, "198.51.100.2:3479", -1);
  p2pq_stun_build_init(&b, buf, sizeof(buf), 1, P2PQ_STUN_ERROR, id);
  p2pq_stun_build_error(&b, 420, "Unknown Attribute");
  p2pq_stun_build_unknown(&b, unk, 3);
  p2pq_stun_build_addr(&b, P2PQ_STUN_ATTR_MAPPED_ADDRESS, &a4);
  p2pq_stun_build_xor_addr(&b, P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS, &a6);
  p2pq_stun_build_addr(&b, P2PQ_STUN_ATTR_OTHER_ADDRESS, &o);
  p2pq_stun_build_addr(&b, P2PQ_STUN_ATTR_RESPONSE_ORIGIN, &a4);
  p2pq_stun_build_u32(&b, P2PQ_STUN_ATTR_CHANGE_REQUEST, 6);
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_USE_CANDIDATE, NULL, 0);
  p2pq_stun_build_u64(&b, P2PQ_STUN_ATTR_ICE_CONTROLLING, 42);
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_REALM, "r", 1);
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_NONCE, "nn", 2);
  p2pq_stun_build_integrity_sha256(&b, (const uint8_t *)"key", 3);
  p2pq_stun_build_fingerprint(&b);
  n = p2pq_stun_build_finish(&b);
  assert_true(n > 0);
  assert_int_equal(p2pq_stun_decode(&m, buf, (size_t)n), 0);
  assert_int_equal(m.cls, P2PQ_STUN_ERROR);
  assert_int_equal(m.error_code, 420);
  assert_int_equal(m.n_unknown_list, 3);
  assert_int_equal(m.unknown_list[1], 0x7000);
  assert_true(p2pq_addr_equal(&m.mapped, &a4));
  assert_true(p2pq_addr_equal(&m.xor_mapped, &a6));
  assert_true(p2pq_addr_equal(&m.other_address, &o));
  assert_true(p2pq_addr_equal(&m.response_origin, &a4));
  assert_int_equal(m.change_request, 6);
  assert_true(m.present & P2PQ_STUN_HAS_USE_CANDIDATE);
  assert_true(m.ice_controlling == 42);
  assert_int_equal(p2pq_stun_check_integrity(&m, (const uint8_t *)"key", 3), 0);
  assert_int_equal(p2pq_stun_check_integrity(&m, (const uint8_t *)"kez", 3), P2PQ_ERR_AUTH);
  /* Every too-small buffer fails with NOBUF, never writes past cap. */
  for (size_t cap = 0; cap < (size_t)n; cap++) {
    uint8_t small[256];
    memset(small, 0xEE, sizeof(small));
    p2pq_stun_build_init(&b, small, cap, 1, P2PQ_STUN_SUCCESS, id);
    p2pq_stun_build_xor_addr(&b, P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS, &a6);
    p2pq_stun_build_fingerprint(&b);
    int r = p2pq_stun_build_finish(&b);
    if (cap < 52)
      assert_int_equal(r, P2PQ_ERR_NOBUF);
    else
      assert_int_equal(r, 52);
    assert_int_equal(small[cap], 0xEE);
  }
  /* Argument errors. */
  p2pq_stun_build_init(&b, buf, sizeof(buf), 0x1000, 0, id);
  assert_int_equal(p2pq_stun_build_finish(&b), P2PQ_ERR_INVALID_ARG);
  p2pq_stun_build_init(&b, buf, sizeof(buf), 1, 0, id);
  p2pq_stun_build_error(&b, 700, "x");
  assert_int_equal(p2pq_stun_build_finish(&b), P2PQ_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_type_bits),
      cmocka_unit_test(test_crc32),
      cmocka_unit_test(test_rfc5769_request),
      cmocka_unit_test(test_rfc5769_request_build),
      cmocka_unit_test(test_rfc5769_responses),
      cmocka_unit_test(test_rfc5769_long_term),
      cmocka_unit_test(test_rfc8489_sha256),
      cmocka_unit_test(test_truncations),
      cmocka_unit_test(test_bad_fingerprint_and_integrity),
      cmocka_unit_test(test_header_rules),
      cmocka_unit_test(test_attribute_rules),
      cmocka_unit_test(test_after_integrity_ignored),
      cmocka_unit_test(test_roundtrip_and_builder_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
