/* QUIC packet protection (RFC 9001 sections 5 and 6). */
#include "crypto/pp.h"

#include <limits.h>
#include <string.h>

#include "common/buf.h"
#include "crypto/hkdf.h"
#include "p2pq/error.h"

size_t p2pq_pp_secret_len(p2pq_aead_alg alg) {
  switch (alg) {
  case P2PQ_AEAD_AES_128_GCM:
  case P2PQ_AEAD_CHACHA20_POLY1305:
    return 32;
  case P2PQ_AEAD_AES_256_GCM:
    return 48;
  default:
    return 0;
  }
}

int p2pq_pp_hash(p2pq_aead_alg alg) {
  switch (alg) {
  case P2PQ_AEAD_AES_128_GCM:
  case P2PQ_AEAD_CHACHA20_POLY1305:
    return GNUTLS_MAC_SHA256;
  case P2PQ_AEAD_AES_256_GCM:
    return GNUTLS_MAC_SHA384;
  default:
    return -1;
  }
}

size_t p2pq_pp_key_len(p2pq_aead_alg alg) {
  switch (alg) {
  case P2PQ_AEAD_AES_128_GCM:
    return 16;
  case P2PQ_AEAD_AES_256_GCM:
  case P2PQ_AEAD_CHACHA20_POLY1305:
    return 32;
  default:
    return 0;
  }
}

p2pq_aead_alg p2pq_pp_alg_from_gnutls(int cipher) {
  switch (cipher) {
  case GNUTLS_CIPHER_AES_128_GCM:
    return P2PQ_AEAD_AES_128_GCM;
  case GNUTLS_CIPHER_AES_256_GCM:
    return P2PQ_AEAD_AES_256_GCM;
  case GNUTLS_CIPHER_CHACHA20_POLY1305:
    return P2PQ_AEAD_CHACHA20_POLY1305;
  default:
    return P2PQ_AEAD_NONE; /* includes AES-CCM: not offered by p2pquic */
  }
}

static gnutls_cipher_algorithm_t aead_cipher(p2pq_aead_alg alg) {
  switch (alg) {
  case P2PQ_AEAD_AES_128_GCM:
    return GNUTLS_CIPHER_AES_128_GCM;
  case P2PQ_AEAD_AES_256_GCM:
    return GNUTLS_CIPHER_AES_256_GCM;
  default:
    return GNUTLS_CIPHER_CHACHA20_POLY1305;
  }
}

/* GnuTLS has no ECB mode; CBC over one block with a zero IV is the same thing. */
static gnutls_cipher_algorithm_t hp_cipher(p2pq_aead_alg alg) {
  switch (alg) {
  case P2PQ_AEAD_AES_128_GCM:
    return GNUTLS_CIPHER_AES_128_CBC;
  case P2PQ_AEAD_AES_256_GCM:
    return GNUTLS_CIPHER_AES_256_CBC;
  default:
    return GNUTLS_CIPHER_CHACHA20_32;
  }
}

void p2pq_pp_key_clear(p2pq_pp_key *k) {
  if (!k)
    return;
  if (k->aead)
    gnutls_aead_cipher_deinit(k->aead);
  if (k->hp)
    gnutls_cipher_deinit(k->hp);
  gnutls_memset(k, 0, sizeof(*k));
}

/* Fills k from secret; the hp key is derived unless hp_key is given (key update). */
static int key_setup(p2pq_pp_key *k, p2pq_aead_alg alg, const uint8_t *secret,
                     size_t secret_len, const uint8_t *hp_key) {
  uint8_t key[P2PQ_PP_MAX_KEY_LEN];
  gnutls_datum_t d;
  int hash = p2pq_pp_hash(alg), rv;
  size_t klen = p2pq_pp_key_len(alg);

  memset(k, 0, sizeof(*k));
  if (!klen || !secret || secret_len != p2pq_pp_secret_len(alg))
    return P2PQ_ERR_INVALID_ARG;
  k->alg = alg;
  k->key_len = klen;
  memcpy(k->secret, secret, secret_len);
  k->secret_len = secret_len;
  if ((rv = p2pq_hkdf_expand_label(hash, secret, secret_len, "quic key", key, klen)) ||
      (rv = p2pq_hkdf_expand_label(hash, secret, secret_len, "quic iv", k->iv, sizeof(k->iv))))
    goto fail;
  if (hp_key)
    memcpy(k->hp_key, hp_key, klen);
  else if ((rv = p2pq_hkdf_expand_label(hash, secret, secret_len, "quic hp", k->hp_key, klen)))
    goto fail;
  rv = P2PQ_ERR_CRYPTO;
  d.data = key;
  d.size = (unsigned)klen;
  if (gnutls_aead_cipher_init(&k->aead, aead_cipher(alg), &d) < 0) {
    k->aead = NULL;
    goto fail;
  }
  d.data = k->hp_key;
  if (gnutls_cipher_init(&k->hp, hp_cipher(alg), &d, NULL) < 0) {
    k->hp = NULL;
    goto fail;
  }
  gnutls_memset(key, 0, sizeof(key));
  return 0;
fail:
  gnutls_memset(key, 0, sizeof(key));
  p2pq_pp_key_clear(k);
  return rv;
}

int p2pq_pp_key_init(p2pq_pp_key *k, p2pq_aead_alg alg, const uint8_t *secret,
                     size_t secret_len) {
  if (!k)
    return P2PQ_ERR_INVALID_ARG;
  return key_setup(k, alg, secret, secret_len, NULL);
}

int p2pq_pp_key_update(p2pq_pp_key *next, const p2pq_pp_key *cur) {
  uint8_t secret[P2PQ_MAX_SECRET_LEN];
  int rv;
  if (!next || !cur || next == cur || cur->alg == P2PQ_AEAD_NONE)
    return P2PQ_ERR_INVALID_ARG;
  rv = p2pq_hkdf_expand_label(p2pq_pp_hash(cur->alg), cur->secret, cur->secret_len, "quic ku",
                              secret, cur->secret_len);
  if (rv == 0)
    rv = key_setup(next, cur->alg, secret, cur->secret_len, cur->hp_key);
  gnutls_memset(secret, 0, sizeof(secret));
  return rv;
}

/* RFC 9001 section 5.3: the 62-bit pn, big-endian, XORed into the low bytes. */
static void make_nonce(const p2pq_pp_key *k, uint64_t pn, uint8_t nonce[P2PQ_PP_IV_LEN]) {
  int i;
  memcpy(nonce, k->iv, P2PQ_PP_IV_LEN);
  for (i = P2PQ_PP_IV_LEN - 1; i >= P2PQ_PP_IV_LEN - 8; i--) {
    nonce[i] ^= (uint8_t)pn;
    pn >>= 8;
  }
}

/* The one-shot GnuTLS calls run in place (ctext == ptext): the backends
 * (AES-NI/PCLMUL GCM, nettle) process each block before writing it, and the
 * one-shot path uses the stitched GCM code, markedly faster on full packets than
 * the scatter-gather (v2) path. */
int p2pq_pp_seal(const p2pq_pp_key *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
                 uint8_t *payload, size_t len) {
  uint8_t nonce[P2PQ_PP_IV_LEN];
  size_t out_len = len + P2PQ_AEAD_TAG_LEN;
  if (!k || !k->aead || !payload || (ad_len && !ad) || len > (size_t)INT_MAX - P2PQ_AEAD_TAG_LEN)
    return P2PQ_ERR_INVALID_ARG;
  make_nonce(k, pn, nonce);
  if (gnutls_aead_cipher_encrypt(k->aead, nonce, sizeof(nonce), ad, ad_len, P2PQ_AEAD_TAG_LEN,
                                 payload, len, payload, &out_len) < 0 ||
      out_len != len + P2PQ_AEAD_TAG_LEN)
    return P2PQ_ERR_CRYPTO;
  return (int)out_len;
}

int p2pq_pp_open(const p2pq_pp_key *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
                 uint8_t *payload, size_t len) {
  uint8_t nonce[P2PQ_PP_IV_LEN];
  size_t out_len;
  if (!k || !k->aead || !payload || (ad_len && !ad) || len > INT_MAX)
    return P2PQ_ERR_INVALID_ARG;
  if (len < P2PQ_AEAD_TAG_LEN)
    return P2PQ_ERR_DECRYPT;
  out_len = len - P2PQ_AEAD_TAG_LEN;
  make_nonce(k, pn, nonce);
  if (gnutls_aead_cipher_decrypt(k->aead, nonce, sizeof(nonce), ad, ad_len, P2PQ_AEAD_TAG_LEN,
                                 payload, len, payload, &out_len) < 0 ||
      out_len != len - P2PQ_AEAD_TAG_LEN)
    return P2PQ_ERR_DECRYPT;
  return (int)out_len;
}

int p2pq_pp_hp_mask(const p2pq_pp_key *k, const uint8_t sample[16], uint8_t mask[5]) {
  static const uint8_t zero[P2PQ_HP_SAMPLE_LEN];
  uint8_t iv[P2PQ_HP_SAMPLE_LEN], block[P2PQ_HP_SAMPLE_LEN];
  if (!k || !k->hp || !sample || !mask)
    return P2PQ_ERR_INVALID_ARG;
  if (k->alg == P2PQ_AEAD_CHACHA20_POLY1305) {
    /* GnuTLS's CHACHA20_32 IV is the 32-bit little-endian counter followed by
     * the 96-bit nonce: exactly the layout of the QUIC sample (5.4.4). */
    memcpy(iv, sample, sizeof(iv));
    gnutls_cipher_set_iv(k->hp, iv, sizeof(iv));
    if (gnutls_cipher_encrypt2(k->hp, zero, 5, mask, 5) < 0)
      return P2PQ_ERR_CRYPTO;
    return 0;
  }
  memset(iv, 0, sizeof(iv));
  gnutls_cipher_set_iv(k->hp, iv, sizeof(iv));
  if (gnutls_cipher_encrypt2(k->hp, sample, sizeof(block), block, sizeof(block)) < 0)
    return P2PQ_ERR_CRYPTO;
  memcpy(mask, block, 5);
  return 0;
}

/* XORs the mask into byte 0 (4 bits for long headers, 5 for short) and pn bytes. */
static void apply_mask(uint8_t *pkt, size_t pn_offset, size_t pn_len, const uint8_t mask[5]) {
  size_t i;
  pkt[0] ^= mask[0] & ((pkt[0] & 0x80) ? 0x0f : 0x1f);
  for (i = 0; i < pn_len; i++)
    pkt[pn_offset + i] ^= mask[1 + i];
}

int p2pq_pp_protect(const p2pq_pp_key *k, uint8_t *pkt, size_t pn_offset, size_t pn_len,
                    uint64_t pn, size_t pkt_len) {
  uint8_t mask[5];
  size_t hdr_len = pn_offset + pn_len, i;
  int rv;
  if (!k || !pkt || pn_offset == 0 || pn_len < 1 || pn_len > P2PQ_PP_MAX_PN_LEN ||
      pn_offset > pkt_len || pkt_len - pn_offset < P2PQ_PP_SAMPLE_OFFSET)
    return P2PQ_ERR_INVALID_ARG;
  pkt[0] = (uint8_t)((pkt[0] & ~0x03u) | (pn_len - 1));
  for (i = 0; i < pn_len; i++)
    pkt[pn_offset + i] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
  rv = p2pq_pp_seal(k, pn, pkt, hdr_len, pkt + hdr_len, pkt_len - hdr_len);
  if (rv < 0)
    return rv;
  if ((rv = p2pq_pp_hp_mask(k, pkt + pn_offset + P2PQ_PP_SAMPLE_OFFSET, mask)) < 0)
    return rv;
  apply_mask(pkt, pn_offset, pn_len, mask);
  return (int)(pkt_len + P2PQ_AEAD_TAG_LEN);
}

int p2pq_pp_unprotect_header(const p2pq_pp_key *k, uint8_t *pkt, size_t pkt_len,
                             size_t pn_offset, uint32_t *truncated_pn) {
  p2pq_rd r;
  const uint8_t *sample;
  uint8_t mask[5], b;
  size_t pn_len, i;
  uint32_t tpn = 0;
  int rv;
  if (!k || !pkt || !truncated_pn || pn_offset == 0)
    return P2PQ_ERR_INVALID_ARG;
  p2pq_rd_init(&r, pkt, pkt_len);
  if (p2pq_rd_skip(&r, pn_offset) || p2pq_rd_skip(&r, P2PQ_PP_SAMPLE_OFFSET) ||
      p2pq_rd_bytes(&r, P2PQ_HP_SAMPLE_LEN, &sample))
    return P2PQ_ERR_TRUNCATED;
  if ((rv = p2pq_pp_hp_mask(k, sample, mask)) < 0)
    return rv;
  pkt[0] ^= mask[0] & ((pkt[0] & 0x80) ? 0x0f : 0x1f);
  pn_len = (size_t)(pkt[0] & 0x03) + 1;
  p2pq_rd_init(&r, pkt + pn_offset, pn_len); /* in bounds: the sample lies beyond */
  for (i = 0; i < pn_len; i++) {
    pkt[pn_offset + i] ^= mask[1 + i];
    if (p2pq_rd_u8(&r, &b))
      return P2PQ_ERR_TRUNCATED;
    tpn = (tpn << 8) | b;
  }
  *truncated_pn = tpn;
  return (int)pn_len;
}

uint64_t p2pq_pp_decode_pn(uint64_t largest_pn, uint32_t truncated_pn, size_t pn_len) {
  const uint64_t pn_max = 1ull << 62;
  uint64_t expected = largest_pn + 1; /* UINT64_MAX (none yet) wraps to 0 */
  uint64_t win, hwin, cand;
  if (pn_len < 1 || pn_len > P2PQ_PP_MAX_PN_LEN)
    return truncated_pn;
  win = 1ull << (8 * pn_len);
  hwin = win / 2;
  cand = (expected & ~(win - 1)) | (truncated_pn & (win - 1));
  if (expected >= hwin && cand <= expected - hwin && cand < pn_max - win)
    return cand + win;
  if (cand > expected + hwin && cand >= win)
    return cand - win;
  return cand;
}

int p2pq_pp_unprotect(const p2pq_pp_key *k, uint8_t *pkt, size_t pkt_len, size_t pn_offset,
                      uint64_t largest_pn, uint64_t *pn, size_t *pn_len_out) {
  uint32_t tpn;
  uint64_t full;
  size_t hdr_len;
  int rv = p2pq_pp_unprotect_header(k, pkt, pkt_len, pn_offset, &tpn);
  if (rv < 0)
    return rv;
  hdr_len = pn_offset + (size_t)rv;
  full = p2pq_pp_decode_pn(largest_pn, tpn, (size_t)rv);
  rv = p2pq_pp_open(k, full, pkt, hdr_len, pkt + hdr_len, pkt_len - hdr_len);
  if (rv < 0)
    return rv;
  if (pn)
    *pn = full;
  if (pn_len_out)
    *pn_len_out = hdr_len - pn_offset;
  return rv;
}

uint64_t p2pq_pp_confidentiality_limit(p2pq_aead_alg alg) {
  switch (alg) {
  case P2PQ_AEAD_AES_128_GCM:
  case P2PQ_AEAD_AES_256_GCM:
    return 1ull << 23;
  case P2PQ_AEAD_CHACHA20_POLY1305:
    return 1ull << 62; /* above the number of possible packets: no limit */
  default:
    return 0;
  }
}

uint64_t p2pq_pp_integrity_limit(p2pq_aead_alg alg) {
  switch (alg) {
  case P2PQ_AEAD_AES_128_GCM:
  case P2PQ_AEAD_AES_256_GCM:
    return 1ull << 52;
  case P2PQ_AEAD_CHACHA20_POLY1305:
    return 1ull << 36;
  default:
    return 0;
  }
}
