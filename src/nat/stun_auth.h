/* Internal: the hashes behind MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT. */
#ifndef P2PQ_NAT_STUN_AUTH_H
#define P2PQ_NAT_STUN_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* HMAC over a header whose length field is replaced by len_field, followed by
 * body[0..body_len). sha256 selects HMAC-SHA256 (32-byte out) over HMAC-SHA1
 * (20-byte out). Returns 0 or P2PQ_ERR_CRYPTO. */
int p2pq_stun_hmac(int sha256, const uint8_t *key, size_t keylen, const uint8_t hdr[20],
                   uint16_t len_field, const uint8_t *body, size_t body_len, uint8_t *out);

#endif
