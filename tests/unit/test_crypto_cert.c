/* Credentials, key generation, self-signed certificates and fingerprints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "p2pq/error.h"

static void test_fingerprint_format_parse(void **state) {
  uint8_t fp[32], back[32];
  char s[P2PQ_FINGERPRINT_STRLEN];
  (void)state;
  for (int i = 0; i < 32; i++)
    fp[i] = (uint8_t)(i * 37 + 5);
  p2pq_fingerprint_format(fp, s);
  assert_int_equal(strlen(s), 71);
  assert_memory_equal(s, "sha256:05", 9);
  assert_int_equal(p2pq_fingerprint_parse(s, back), 0);
  assert_memory_equal(fp, back, 32);
  /* without the prefix, and upper case */
  memset(back, 0, sizeof(back));
  {
    char up[72];
    strcpy(up, s + 7);
    for (char *c = up; *c; c++)
      if (*c >= 'a' && *c <= 'f')
        *c = (char)(*c - 'a' + 'A');
    assert_int_equal(p2pq_fingerprint_parse(up, back), 0);
    assert_memory_equal(fp, back, 32);
  }
}

static void test_fingerprint_parse_rejects(void **state) {
  uint8_t fp[32], out[32];
  char s[P2PQ_FINGERPRINT_STRLEN], bad[100];
  (void)state;
  memset(fp, 0xab, sizeof(fp));
  p2pq_fingerprint_format(fp, s);
  memset(out, 0x11, sizeof(out));
  /* every truncation */
  for (size_t n = 0; n < strlen(s); n++) {
    memcpy(bad, s, n);
    bad[n] = '\0';
    assert_int_equal(p2pq_fingerprint_parse(bad, out), P2PQ_ERR_MALFORMED);
  }
  /* too long */
  snprintf(bad, sizeof(bad), "%s0", s);
  assert_int_equal(p2pq_fingerprint_parse(bad, out), P2PQ_ERR_MALFORMED);
  snprintf(bad, sizeof(bad), "%s00", s);
  assert_int_equal(p2pq_fingerprint_parse(bad, out), P2PQ_ERR_MALFORMED);
  /* bad hex digit at each position */
  for (size_t i = 7; i < 71; i++) {
    strcpy(bad, s);
    bad[i] = 'g';
    assert_int_equal(p2pq_fingerprint_parse(bad, out), P2PQ_ERR_MALFORMED);
  }
  /* wrong prefix */
  strcpy(bad, s);
  bad[3] = '1';
  assert_int_equal(p2pq_fingerprint_parse(bad, out), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_fingerprint_parse(NULL, out), P2PQ_ERR_INVALID_ARG);
  /* output untouched on failure */
  for (int i = 0; i < 32; i++)
    assert_int_equal(out[i], 0x11);
}

static void test_ed25519_key(void **state) {
  char *k1, *k2;
  size_t l1, l2;
  uint8_t f1[32], f2[32], f1b[32];
  (void)state;
  assert_int_equal(p2pq_key_generate_ed25519(&k1, &l1), 0);
  assert_int_equal(p2pq_key_generate_ed25519(&k2, &l2), 0);
  assert_int_equal(strlen(k1), l1);
  assert_non_null(strstr(k1, "-----BEGIN PRIVATE KEY-----"));
  assert_int_equal(p2pq_fingerprint_from_key_pem(k1, l1, f1), 0);
  assert_int_equal(p2pq_fingerprint_from_key_pem(k1, l1, f1b), 0);
  assert_int_equal(p2pq_fingerprint_from_key_pem(k2, l2, f2), 0);
  assert_memory_equal(f1, f1b, 32);
  assert_memory_not_equal(f1, f2, 32);
  /* truncated PEM is rejected */
  assert_int_equal(p2pq_fingerprint_from_key_pem(k1, l1 / 2, f1), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_fingerprint_from_key_pem(k1, l1 - 30, f1), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_fingerprint_from_key_pem("garbage", 7, f1), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_fingerprint_from_key_pem(NULL, 0, f1), P2PQ_ERR_INVALID_ARG);
  free(k1);
  free(k2);
}

static void test_self_signed(void **state) {
  char *cert, *key;
  size_t cl, kl;
  uint8_t fc[32], fk[32];
  (void)state;
  assert_int_equal(p2pq_cert_self_signed("node.example", 86400, &cert, &cl, &key, &kl), 0);
  assert_non_null(strstr(cert, "-----BEGIN CERTIFICATE-----"));
  assert_int_equal(strlen(cert), cl);
  assert_int_equal(strlen(key), kl);
  /* the certificate carries the key's public half */
  assert_int_equal(p2pq_fingerprint_from_cert_pem(cert, cl, fc), 0);
  assert_int_equal(p2pq_fingerprint_from_key_pem(key, kl, fk), 0);
  assert_memory_equal(fc, fk, 32);
  assert_int_equal(p2pq_fingerprint_from_cert_pem(key, kl, fc), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_fingerprint_from_cert_der((const uint8_t *)"\x30\x03\x02\x01\x01", 5,
                                                  fc),
                   P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_cert_self_signed("", 10, &cert, &cl, &key, &kl), P2PQ_ERR_INVALID_ARG);
  free(cert);
  free(key);
}

static void test_creds_config(void **state) {
  char *cert, *key;
  size_t cl, kl;
  uint8_t pin[1][32] = {{0}};
  p2pq_creds *c = NULL;
  p2pq_creds_config cfg;
  (void)state;
  assert_int_equal(p2pq_cert_self_signed("127.0.0.1", 3600, &cert, &cl, &key, &kl), 0);
  /* server without key */
  memset(&cfg, 0, sizeof(cfg));
  cfg.is_server = 1;
  assert_int_equal(p2pq_creds_new(&c, &cfg), P2PQ_ERR_CONFIG);
  assert_null(c);
  /* pins mode without pins */
  memset(&cfg, 0, sizeof(cfg));
  cfg.verify = P2PQ_VERIFY_PIN;
  assert_int_equal(p2pq_creds_new(&c, &cfg), P2PQ_ERR_CONFIG);
  /* CA mode with raw public key */
  cfg.verify = P2PQ_VERIFY_CA;
  cfg.key_pem = key;
  cfg.key_pem_len = kl;
  cfg.raw_public_key = 1;
  assert_int_equal(p2pq_creds_new(&c, &cfg), P2PQ_ERR_CONFIG);
  /* CA file that does not exist */
  cfg.raw_public_key = 0;
  cfg.key_pem = NULL;
  cfg.key_pem_len = 0;
  cfg.ca_file = "/nonexistent/ca.pem";
  assert_int_equal(p2pq_creds_new(&c, &cfg), P2PQ_ERR_NOT_FOUND);
  /* mismatched cert and key */
  memset(&cfg, 0, sizeof(cfg));
  cfg.is_server = 1;
  cfg.cert_pem = cert;
  cfg.cert_pem_len = cl;
  cfg.key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  cfg.key_pem_len = strlen(cfg.key_pem);
  assert_true(p2pq_creds_new(&c, &cfg) < 0);
  /* good: server cert, client pins, raw key server */
  cfg.key_pem = key;
  cfg.key_pem_len = kl;
  assert_int_equal(p2pq_creds_new(&c, &cfg), 0);
  p2pq_creds_free(c);
  memset(&cfg, 0, sizeof(cfg));
  cfg.verify = P2PQ_VERIFY_PIN;
  cfg.pins = (const uint8_t(*)[32])pin;
  cfg.n_pins = 1;
  assert_int_equal(p2pq_creds_new(&c, &cfg), 0);
  p2pq_creds_free(c);
  memset(&cfg, 0, sizeof(cfg));
  cfg.is_server = 1;
  cfg.raw_public_key = 1;
  cfg.key_pem = key;
  cfg.key_pem_len = kl;
  assert_int_equal(p2pq_creds_new(&c, &cfg), 0);
  p2pq_creds_free(c);
  p2pq_creds_free(NULL);
  free(cert);
  free(key);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fingerprint_format_parse),
      cmocka_unit_test(test_fingerprint_parse_rejects),
      cmocka_unit_test(test_ed25519_key),
      cmocka_unit_test(test_self_signed),
      cmocka_unit_test(test_creds_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
