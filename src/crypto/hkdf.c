/* HKDF through GnuTLS. Used when keys are installed, never per packet. */
#include "crypto/hkdf.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "common/buf.h"
#include "p2pq/error.h"

#define HKDF_LABEL_PREFIX "tls13 "
#define HKDF_LABEL_MAX 255

size_t p2pq_hkdf_hash_len(int hash) {
  switch (hash) {
  case GNUTLS_MAC_SHA256:
    return 32;
  case GNUTLS_MAC_SHA384:
    return 48;
  default:
    return 0;
  }
}

int p2pq_hkdf_extract(int hash, const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                      size_t ikm_len, uint8_t *prk) {
  /* GnuTLS takes non-const datums; it does not write through them. */
  gnutls_datum_t k = {(unsigned char *)(uintptr_t)ikm, (unsigned)ikm_len};
  gnutls_datum_t s = {(unsigned char *)(uintptr_t)salt, (unsigned)salt_len};
  if (!p2pq_hkdf_hash_len(hash) || !prk || (ikm_len && !ikm) || (salt_len && !salt))
    return P2PQ_ERR_INVALID_ARG;
  if (gnutls_hkdf_extract((gnutls_mac_algorithm_t)hash, &k, &s, prk) < 0)
    return P2PQ_ERR_CRYPTO;
  return 0;
}

int p2pq_hkdf_expand(int hash, const uint8_t *prk, size_t prk_len, const uint8_t *info,
                     size_t info_len, uint8_t *out, size_t out_len) {
  gnutls_datum_t k = {(unsigned char *)(uintptr_t)prk, (unsigned)prk_len};
  gnutls_datum_t i = {(unsigned char *)(uintptr_t)info, (unsigned)info_len};
  size_t hlen = p2pq_hkdf_hash_len(hash);
  if (!hlen || !prk || !out || (info_len && !info) || out_len == 0 || out_len > 255 * hlen)
    return P2PQ_ERR_INVALID_ARG;
  if (gnutls_hkdf_expand((gnutls_mac_algorithm_t)hash, &k, &i, out, out_len) < 0)
    return P2PQ_ERR_CRYPTO;
  return 0;
}

int p2pq_hkdf_expand_label(int hash, const uint8_t *secret, size_t secret_len,
                           const char *label, uint8_t *out, size_t out_len) {
  /* struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; } */
  uint8_t info[2 + 1 + HKDF_LABEL_MAX + 1];
  size_t plen = sizeof(HKDF_LABEL_PREFIX) - 1, llen;
  p2pq_wr w;
  if (!label || out_len > 0xffff)
    return P2PQ_ERR_INVALID_ARG;
  llen = strlen(label);
  if (plen + llen > HKDF_LABEL_MAX)
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&w, info, sizeof(info));
  if (p2pq_wr_u16(&w, (uint16_t)out_len) || p2pq_wr_u8(&w, (uint8_t)(plen + llen)) ||
      p2pq_wr_bytes(&w, HKDF_LABEL_PREFIX, plen) || p2pq_wr_bytes(&w, label, llen) ||
      p2pq_wr_u8(&w, 0))
    return P2PQ_ERR_INVALID_ARG;
  return p2pq_hkdf_expand(hash, secret, secret_len, info, (size_t)(w.p - info), out, out_len);
}
