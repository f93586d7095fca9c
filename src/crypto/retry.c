/* Retry integrity, address-validation tokens, stateless reset tokens. */
#include "crypto/retry.h"

#include <limits.h>
#include <string.h>

#include "common/buf.h"
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

/* Plaintext: kind(1) issued(8) odcid_len(1) odcid rscid_len(1) rscid. */
int p2pq_token_info_encode(const p2pq_token_info *info, uint8_t *out, size_t cap) {
  p2pq_wr w;
  if (!info || !out || info->odcid_len > P2PQ_MAX_CID_LEN || info->rscid_len > P2PQ_MAX_CID_LEN ||
      (info->kind != P2PQ_TOKEN_RETRY && info->kind != P2PQ_TOKEN_NEW_TOKEN))
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&w, out, cap);
  if (p2pq_wr_u8(&w, info->kind) || p2pq_wr_u64(&w, info->issued) ||
      p2pq_wr_u8(&w, (uint8_t)info->odcid_len) ||
      p2pq_wr_bytes(&w, info->odcid, info->odcid_len) ||
      p2pq_wr_u8(&w, (uint8_t)info->rscid_len) || p2pq_wr_bytes(&w, info->rscid, info->rscid_len))
    return P2PQ_ERR_NOBUF;
  return (int)(w.p - out);
}

static int rd_cid(p2pq_rd *r, uint8_t *cid, size_t *len) {
  uint8_t n;
  int rv;
  if ((rv = p2pq_rd_u8(r, &n)))
    return rv;
  if (n > P2PQ_MAX_CID_LEN)
    return P2PQ_ERR_MALFORMED;
  *len = n;
  return p2pq_rd_copy(r, cid, n);
}

int p2pq_token_info_decode(const uint8_t *p, size_t len, p2pq_token_info *info) {
  p2pq_rd r;
  uint64_t issued;
  int rv;
  if (!info || (len && !p))
    return P2PQ_ERR_INVALID_ARG;
  memset(info, 0, sizeof(*info));
  p2pq_rd_init(&r, p, len);
  if ((rv = p2pq_rd_u8(&r, &info->kind)) || (rv = p2pq_rd_u64(&r, &issued)) ||
      (rv = rd_cid(&r, info->odcid, &info->odcid_len)) ||
      (rv = rd_cid(&r, info->rscid, &info->rscid_len)))
    return rv;
  info->issued = issued;
  if (p2pq_rd_left(&r) != 0 ||
      (info->kind != P2PQ_TOKEN_RETRY && info->kind != P2PQ_TOKEN_NEW_TOKEN))
    return P2PQ_ERR_MALFORMED;
  return 0;
}

/* Associated data binding a token to the client: kind, family, IP, and the port
 * for Retry tokens only. */
static int token_ad(uint8_t kind, const p2pq_addr *a, uint8_t ad[20]) {
  size_t iplen = p2pq_addr_iplen(a);
  if (!iplen)
    return P2PQ_ERR_INVALID_ARG;
  ad[0] = kind;
  ad[1] = a->family;
  memcpy(ad + 2, a->ip, iplen);
  if (kind != P2PQ_TOKEN_RETRY)
    return (int)(2 + iplen);
  ad[2 + iplen] = (uint8_t)(a->port >> 8);
  ad[3 + iplen] = (uint8_t)a->port;
  return (int)(4 + iplen);
}

int p2pq_token_make(const p2pq_token_key *k, const uint8_t nonce[12],
                    const p2pq_token_info *info, const p2pq_addr *client, uint8_t *out,
                    size_t cap) {
  uint8_t plain[P2PQ_TOKEN_INFO_MAX], ad[20];
  int n, adlen;
  if (!client || !info)
    return P2PQ_ERR_INVALID_ARG;
  if ((n = p2pq_token_info_encode(info, plain, sizeof(plain))) < 0)
    return n;
  if ((adlen = token_ad(info->kind, client, ad)) < 0)
    return adlen;
  return p2pq_token_seal_ad(k, nonce, ad, (size_t)adlen, plain, (size_t)n, out, cap);
}

int p2pq_token_check(const p2pq_token_key *k, const uint8_t *in, size_t len,
                     const p2pq_addr *client, p2pq_tstamp now, p2pq_tstamp lifetime,
                     p2pq_token_info *info) {
  uint8_t plain[P2PQ_TOKEN_INFO_MAX], ad[20];
  uint8_t kind;
  int n = P2PQ_ERR_INVALID_TOKEN, adlen;
  if (!client || !info)
    return P2PQ_ERR_INVALID_ARG;
  /* The kind is part of the binding; try both rather than trust unsealed bytes. */
  for (kind = P2PQ_TOKEN_RETRY; kind <= P2PQ_TOKEN_NEW_TOKEN; kind++) {
    if ((adlen = token_ad(kind, client, ad)) < 0)
      return adlen;
    n = p2pq_token_open_ad(k, ad, (size_t)adlen, in, len, plain, sizeof(plain));
    if (n >= 0)
      break;
    if (n != P2PQ_ERR_INVALID_TOKEN)
      return P2PQ_ERR_INVALID_TOKEN; /* e.g. longer than any token we make */
  }
  if (n < 0)
    return n;
  if (p2pq_token_info_decode(plain, (size_t)n, info) != 0 || info->kind != kind ||
      info->issued > now || now - info->issued > lifetime) {
    gnutls_memset(info, 0, sizeof(*info));
    return P2PQ_ERR_INVALID_TOKEN;
  }
  return 0;
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
