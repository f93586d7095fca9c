/* Names shared by the TLS driver, packet protection and the connection:
 * encryption levels and the AEADs QUIC v1 uses (RFC 9001 section 5). */
#ifndef P2PQ_CRYPTO_SUITE_H
#define P2PQ_CRYPTO_SUITE_H

typedef enum p2pq_level {
  P2PQ_LEVEL_INITIAL = 0,
  P2PQ_LEVEL_EARLY = 1, /* 0-RTT */
  P2PQ_LEVEL_HANDSHAKE = 2,
  P2PQ_LEVEL_APP = 3, /* 1-RTT */
  P2PQ_LEVEL_COUNT = 4
} p2pq_level;

typedef enum p2pq_aead_alg {
  P2PQ_AEAD_NONE = 0,
  P2PQ_AEAD_AES_128_GCM = 1,        /* TLS_AES_128_GCM_SHA256 */
  P2PQ_AEAD_AES_256_GCM = 2,        /* TLS_AES_256_GCM_SHA384 */
  P2PQ_AEAD_CHACHA20_POLY1305 = 3,  /* TLS_CHACHA20_POLY1305_SHA256 */
} p2pq_aead_alg;

#define P2PQ_AEAD_TAG_LEN 16
#define P2PQ_HP_SAMPLE_LEN 16
#define P2PQ_MAX_SECRET_LEN 48 /* SHA-384 */

#endif
