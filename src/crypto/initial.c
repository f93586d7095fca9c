/* Initial secrets and keys (RFC 9001 section 5.2). */
#include "crypto/initial.h"

#include <gnutls/gnutls.h>
#include <string.h>

#include "crypto/hkdf.h"
#include "p2pq/error.h"

static const uint8_t initial_salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34,
                                            0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                                            0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};

int p2pq_initial_secrets(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                         uint8_t client[32], uint8_t server[32]) {
  uint8_t prk[P2PQ_INITIAL_SECRET_LEN];
  int rv;
  if (version != P2PQ_QUIC_V1)
    return P2PQ_ERR_UNSUPPORTED;
  if ((dcid_len && !dcid) || dcid_len > P2PQ_MAX_CID_LEN || !client || !server)
    return P2PQ_ERR_INVALID_ARG;
  rv = p2pq_hkdf_extract(GNUTLS_MAC_SHA256, initial_salt_v1, sizeof(initial_salt_v1), dcid,
                         dcid_len, prk);
  if (rv == 0)
    rv = p2pq_hkdf_expand_label(GNUTLS_MAC_SHA256, prk, sizeof(prk), "client in", client,
                                P2PQ_INITIAL_SECRET_LEN);
  if (rv == 0)
    rv = p2pq_hkdf_expand_label(GNUTLS_MAC_SHA256, prk, sizeof(prk), "server in", server,
                                P2PQ_INITIAL_SECRET_LEN);
  gnutls_memset(prk, 0, sizeof(prk));
  return rv;
}

int p2pq_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len, int is_server,
                      p2pq_pp_key *rx, p2pq_pp_key *tx) {
  uint8_t c[P2PQ_INITIAL_SECRET_LEN], s[P2PQ_INITIAL_SECRET_LEN];
  int rv;
  if (!rx || !tx || rx == tx)
    return P2PQ_ERR_INVALID_ARG;
  memset(rx, 0, sizeof(*rx));
  memset(tx, 0, sizeof(*tx));
  rv = p2pq_initial_secrets(version, dcid, dcid_len, c, s);
  if (rv == 0)
    rv = p2pq_pp_key_init(rx, P2PQ_AEAD_AES_128_GCM, is_server ? c : s, sizeof(c));
  if (rv == 0)
    rv = p2pq_pp_key_init(tx, P2PQ_AEAD_AES_128_GCM, is_server ? s : c, sizeof(c));
  if (rv < 0) {
    p2pq_pp_key_clear(rx);
    p2pq_pp_key_clear(tx);
  }
  gnutls_memset(c, 0, sizeof(c));
  gnutls_memset(s, 0, sizeof(s));
  return rv;
}
