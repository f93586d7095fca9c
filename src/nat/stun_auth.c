/* CRC-32 for FINGERPRINT, HMACs for MESSAGE-INTEGRITY(-SHA256), long-term keys. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "nat/stun.h"
#include "nat/stun_auth.h"
#include "p2pq/error.h"

static uint32_t crc_table[256];
static int crc_ready;

/* Reflected CRC-32, polynomial 0xEDB88320. The table is a pure function of the
 * polynomial, so a racy double initialisation writes the same values. */
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
  crc_ready = 1;
}

uint32_t p2pq_stun_crc32(const uint8_t *p, size_t len) {
  uint32_t c = 0xFFFFFFFFu;
  if (!crc_ready)
    crc_init();
  for (size_t i = 0; i < len; i++)
    c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

int p2pq_stun_hmac(int sha256, const uint8_t *key, size_t keylen, const uint8_t hdr[20],
                   uint16_t len_field, const uint8_t *body, size_t body_len, uint8_t *out) {
  gnutls_hmac_hd_t h;
  uint8_t h2[20];
  memcpy(h2, hdr, 20);
  h2[2] = (uint8_t)(len_field >> 8);
  h2[3] = (uint8_t)len_field;
  if (gnutls_hmac_init(&h, sha256 ? GNUTLS_MAC_SHA256 : GNUTLS_MAC_SHA1, key, keylen) < 0)
    return P2PQ_ERR_CRYPTO;
  if (gnutls_hmac(h, h2, 20) < 0 || (body_len && gnutls_hmac(h, body, body_len) < 0)) {
    gnutls_hmac_deinit(h, NULL);
    return P2PQ_ERR_CRYPTO;
  }
  gnutls_hmac_deinit(h, out);
  return 0;
}

/* Constant-time compare: integrity values are secrets' fingerprints. */
static int ct_equal(const uint8_t *a, const uint8_t *b, size_t n) {
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++)
    d |= (uint8_t)(a[i] ^ b[i]);
  return d == 0;
}

int p2pq_stun_check_integrity_sha1(const p2pq_stun_msg *m, const uint8_t *key,
                                   size_t keylen) {
  uint8_t mac[20];
  int rc;
  if (!(m->present & P2PQ_STUN_HAS_INTEGRITY))
    return P2PQ_ERR_NOT_FOUND;
  /* Length as if MESSAGE-INTEGRITY were the last attribute. */
  rc = p2pq_stun_hmac(0, key, keylen, m->raw, (uint16_t)(m->mi_off - 20 + 24), m->raw + 20,
                      m->mi_off - 20, mac);
  if (rc)
    return rc;
  return ct_equal(mac, m->raw + m->mi_off + 4, 20) ? 0 : P2PQ_ERR_AUTH;
}

int p2pq_stun_check_integrity_sha256(const p2pq_stun_msg *m, const uint8_t *key,
                                     size_t keylen) {
  uint8_t mac[32];
  int rc;
  if (!(m->present & P2PQ_STUN_HAS_INTEGRITY_SHA256))
    return P2PQ_ERR_NOT_FOUND;
  rc = p2pq_stun_hmac(1, key, keylen, m->raw, (uint16_t)(m->mi256_off - 20 + 4 + m->mi256_len),
                      m->raw + 20, m->mi256_off - 20, mac);
  if (rc)
    return rc;
  /* A truncated HMAC-SHA256 (16..32 bytes) compares its prefix. */
  return ct_equal(mac, m->raw + m->mi256_off + 4, m->mi256_len) ? 0 : P2PQ_ERR_AUTH;
}

int p2pq_stun_check_integrity(const p2pq_stun_msg *m, const uint8_t *key, size_t keylen) {
  if (m->present & P2PQ_STUN_HAS_INTEGRITY_SHA256)
    return p2pq_stun_check_integrity_sha256(m, key, keylen);
  return p2pq_stun_check_integrity_sha1(m, key, keylen);
}

static int long_term_key(gnutls_digest_algorithm_t alg, const char *user, const char *realm,
                         const char *pass, uint8_t *out) {
  gnutls_hash_hd_t h;
  if (!user || !realm || !pass)
    return P2PQ_ERR_INVALID_ARG;
  if (gnutls_hash_init(&h, alg) < 0)
    return P2PQ_ERR_CRYPTO;
  gnutls_hash(h, user, strlen(user));
  gnutls_hash(h, ":", 1);
  gnutls_hash(h, realm, strlen(realm));
  gnutls_hash(h, ":", 1);
  gnutls_hash(h, pass, strlen(pass));
  gnutls_hash_deinit(h, out);
  return 0;
}

int p2pq_stun_long_term_key_md5(const char *user, const char *realm, const char *pass,
                                uint8_t out[16]) {
  return long_term_key(GNUTLS_DIG_MD5, user, realm, pass, out);
}

int p2pq_stun_long_term_key_sha256(const char *user, const char *realm, const char *pass,
                                   uint8_t out[32]) {
  return long_term_key(GNUTLS_DIG_SHA256, user, realm, pass, out);
}
