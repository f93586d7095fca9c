/* Retry integrity, address-validation tokens, stateless reset tokens. */
#include "crypto/retry.h"

#include <limits.h>
#include <string.h>

#include "crypto/hkdf.h"
#include "crypto/initial.h"
#include "p2pq/error.h"

/* RFC 9001 section 5.8: fixed AES-128-GCM key and nonce for QUIC v1. */
static const uint8_t retry_key_v1[16] = {0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
                                         0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e};
static const uint8_t retry_nonce_v1[12] = {0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63,
                                           0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb};

int p2pq_retry_tag(uint32_t version, const uint8_t *odcid, size_t odcid_len,
                   const uint8_t *retry_wo_tag, size_t len, uint8_t tag[16]) {
  gnutls_aead_cipher_hd_t h;
  gnutls_datum_t key = {(unsigned char *)(uintptr_t)retry_key_v1, sizeof(retry_key_v1)};
  uint8_t odcid_len8 = (uint8_t)odcid_len, none = 0;
  giovec_t auth[3], iov = {&none, 0};
  size_t tag_len = P2PQ_RETRY_TAG_LEN;
  int rv;
  if (version != P2PQ_QUIC_V1)
    return P2PQ_ERR_UNSUPPORTED;
  if ((odcid_len && !odcid) || odcid_len > P2PQ_MAX_CID_LEN || (len && !retry_wo_tag) || !tag)
    return P2PQ_ERR_INVALID_ARG;
  /* The pseudo-packet is never built: three AD pieces avoid a copy. */
  auth[0].iov_base = &odcid_len8;
  auth[0].iov_len = 1;
  auth[1].iov_base = (void *)(uintptr_t)odcid;
  auth[1].iov_len = odcid_len;
  auth[2].iov_base = (void *)(uintptr_t)retry_wo_tag;
  auth[2].iov_len = len;
  if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_GCM, &key) < 0)
    return P2PQ_ERR_CRYPTO;
  rv = gnutls_aead_cipher_encryptv2(h, retry_nonce_v1, sizeof(retry_nonce_v1), auth, 3, &iov,
                                    0, tag, &tag_len);
  gnutls_aead_cipher_deinit(h);
  return (rv < 0 || tag_len != P2PQ_RETRY_TAG_LEN) ? P2PQ_ERR_CRYPTO : 0;
}

int p2pq_retry_verify(uint32_t version, const uint8_t *odcid, size_t odcid_len,
                      const uint8_t *retry_pkt, size_t len) {
  uint8_t tag[P2PQ_RETRY_TAG_LEN];
  int rv;
  if (!retry_pkt)
    return P2PQ_ERR_INVALID_ARG;
  if (len < P2PQ_RETRY_TAG_LEN)
    return P2PQ_ERR_DECRYPT;
  rv = p2pq_retry_tag(version, odcid, odcid_len, retry_pkt, len - P2PQ_RETRY_TAG_LEN, tag);
  if (rv < 0)
    return rv;
  return gnutls_memcmp(tag, retry_pkt + len - P2PQ_RETRY_TAG_LEN, sizeof(tag)) ? P2PQ_ERR_DECRYPT
                                                                                : 0;
}

int p2pq_token_key_init(p2pq_token_key *k, const uint8_t secret[32]) {
  uint8_t key[32];
  gnutls_datum_t d = {key, sizeof(key)};
  int rv;
  if (!k)
    return P2PQ_ERR_INVALID_ARG;
  k->aead = NULL;
  if (!secret)
    return P2PQ_ERR_INVALID_ARG;
  /* A key of its own, so the same server secret can also feed other derivations. */
  rv = p2pq_hkdf_expand_label(GNUTLS_MAC_SHA256, secret, 32, "p2pq token", key, sizeof(key));
  if (rv == 0 && gnutls_aead_cipher_init(&k->aead, GNUTLS_CIPHER_AES_256_GCM, &d) < 0) {
    k->aead = NULL;
    rv = P2PQ_ERR_CRYPTO;
  }
  gnutls_memset(key, 0, sizeof(key));
  return rv;
}

void p2pq_token_key_clear(p2pq_token_key *k) {
  if (k && k->aead) {
    gnutls_aead_cipher_deinit(k->aead);
    k->aead = NULL;
  }
}

int p2pq_token_seal_ad(const p2pq_token_key *k, const uint8_t nonce[12], const uint8_t *ad,
                       size_t ad_len, const uint8_t *plain, size_t len, uint8_t *out,
                       size_t cap) {
  giovec_t auth = {(void *)(uintptr_t)ad, ad_len}, iov;
  size_t tag_len = 16;
  uint8_t n[P2PQ_TOKEN_NONCE_LEN];
  if (!k || !k->aead || !nonce || !out || (len && !plain) || (ad_len && !ad) ||
      len > (size_t)INT_MAX - P2PQ_TOKEN_OVERHEAD)
    return P2PQ_ERR_INVALID_ARG;
  if (cap < len + P2PQ_TOKEN_OVERHEAD)
    return P2PQ_ERR_NOBUF;
  memcpy(n, nonce, sizeof(n));
  if (len)
    memmove(out + P2PQ_TOKEN_NONCE_LEN, plain, len);
  memcpy(out, n, sizeof(n));
  iov.iov_base = out + P2PQ_TOKEN_NONCE_LEN;
  iov.iov_len = len;
  if (gnutls_aead_cipher_encryptv2(k->aead, n, sizeof(n), &auth, ad_len ? 1 : 0, &iov,
                                   len ? 1 : 0, out + P2PQ_TOKEN_NONCE_LEN + len,
                                   &tag_len) < 0 ||
      tag_len != 16)
    return P2PQ_ERR_CRYPTO;
  return (int)(len + P2PQ_TOKEN_OVERHEAD);
}

int p2pq_token_open_ad(const p2pq_token_key *k, const uint8_t *ad, size_t ad_len,
                       const uint8_t *in, size_t len, uint8_t *plain, size_t cap) {
  giovec_t auth = {(void *)(uintptr_t)ad, ad_len}, iov;
  uint8_t n[P2PQ_TOKEN_NONCE_LEN], tag[16];
  size_t plen;
  if (!k || !k->aead || (len && !in) || (ad_len && !ad) || len > INT_MAX)
    return P2PQ_ERR_INVALID_ARG;
  if (len < P2PQ_TOKEN_OVERHEAD)
    return P2PQ_ERR_INVALID_TOKEN;
  plen = len - P2PQ_TOKEN_OVERHEAD;
  if (cap < plen || (plen && !plain))
    return P2PQ_ERR_NOBUF;
  /* Copy nonce and tag out first: plain may overlap in. */
  memcpy(n, in, sizeof(n));
  memcpy(tag, in + len - sizeof(tag), sizeof(tag));
  if (plen)
    memmove(plain, in + P2PQ_TOKEN_NONCE_LEN, plen);
  iov.iov_base = plain;
  iov.iov_len = plen;
  if (gnutls_aead_cipher_decryptv2(k->aead, n, sizeof(n), &auth, ad_len ? 1 : 0, &iov,
                                   plen ? 1 : 0, tag, sizeof(tag)) < 0) {
    if (plen)
      gnutls_memset(plain, 0, plen);
    return P2PQ_ERR_INVALID_TOKEN;
  }
  return (int)plen;
}

int p2pq_token_seal(const p2pq_token_key *k, const uint8_t nonce[12], const uint8_t *plain,
                    size_t len, uint8_t *out, size_t cap) {
  return p2pq_token_seal_ad(k, nonce, NULL, 0, plain, len, out, cap);
}

int p2pq_token_open(const p2pq_token_key *k, const uint8_t *in, size_t len, uint8_t *plain,
                    size_t cap) {
  return p2pq_token_open_ad(k, NULL, 0, in, len, plain, cap);
}

int p2pq_stateless_reset_token(const uint8_t static_key[32], const uint8_t *cid,
                               size_t cid_len, uint8_t token[16]) {
  uint8_t digest[32];
  if (!static_key || !token || (cid_len && !cid))
    return P2PQ_ERR_INVALID_ARG;
  if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, static_key, 32, cid, cid_len, digest) < 0)
    return P2PQ_ERR_CRYPTO;
  memcpy(token, digest, P2PQ_STATELESS_RESET_TOKEN_LEN);
  gnutls_memset(digest, 0, sizeof(digest));
  return 0;
}
