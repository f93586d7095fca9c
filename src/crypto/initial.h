/* Initial packet keys (RFC 9001 section 5.2): derived from the client's first
 * Destination Connection ID and a version-specific salt. */
#ifndef P2PQ_CRYPTO_INITIAL_H
#define P2PQ_CRYPTO_INITIAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/pp.h"

#define P2PQ_QUIC_V1 0x00000001u
#define P2PQ_INITIAL_SECRET_LEN 32
#define P2PQ_MAX_CID_LEN 20

/* client_initial_secret and server_initial_secret (SHA-256, 32 bytes each).
 * P2PQ_ERR_UNSUPPORTED for versions other than v1; dcid_len must be <= 20. */
int p2pq_initial_secrets(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                         uint8_t client[32], uint8_t server[32]);

/* Initial keys (AES-128-GCM) for one endpoint: a client sends with the client
 * secret and receives with the server's; a server the other way round. rx and tx
 * are initialised here (p2pq_pp_key_clear them later). */
int p2pq_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len, int is_server,
                      p2pq_pp_key *rx, p2pq_pp_key *tx);

#endif
