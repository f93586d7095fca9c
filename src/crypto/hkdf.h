/* HKDF (RFC 5869) and the TLS 1.3 HKDF-Expand-Label (RFC 8446 section 7.1) that
 * QUIC uses to derive packet protection keys (RFC 9001 section 5.1). `hash` is a
 * gnutls_mac_algorithm_t (GNUTLS_MAC_SHA256 or GNUTLS_MAC_SHA384). */
#ifndef P2PQ_CRYPTO_HKDF_H
#define P2PQ_CRYPTO_HKDF_H

#include <stddef.h>
#include <stdint.h>

/* Output length of `hash` in bytes, or 0 if it is not SHA-256/SHA-384. */
size_t p2pq_hkdf_hash_len(int hash);

/* prk = HMAC-Hash(salt, ikm); writes p2pq_hkdf_hash_len(hash) bytes to prk. */
int p2pq_hkdf_extract(int hash, const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                      size_t ikm_len, uint8_t *prk);

/* HKDF-Expand(prk, info, out_len). */
int p2pq_hkdf_expand(int hash, const uint8_t *prk, size_t prk_len, const uint8_t *info,
                     size_t info_len, uint8_t *out, size_t out_len);

/* HKDF-Expand-Label(secret, "tls13 " + label, "", out_len): the context is empty,
 * which is all QUIC needs. label is NUL-terminated, without the "tls13 " prefix. */
int p2pq_hkdf_expand_label(int hash, const uint8_t *secret, size_t secret_len,
                           const char *label, uint8_t *out, size_t out_len);

#endif
