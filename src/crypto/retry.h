/* Stateless secrets of a server: the Retry integrity tag (RFC 9001 section 5.8),
 * sealed address-validation tokens for Retry and NEW_TOKEN (RFC 9000 section 8.1)
 * and stateless reset tokens (RFC 9000 section 10.3.2). Sans-I/O: nonces come
 * from the caller. */
#ifndef P2PQ_CRYPTO_RETRY_H
#define P2PQ_CRYPTO_RETRY_H

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

#define P2PQ_RETRY_TAG_LEN 16
#define P2PQ_TOKEN_NONCE_LEN 12
#define P2PQ_TOKEN_OVERHEAD (12 + 16) /* nonce + AEAD tag */
#define P2PQ_STATELESS_RESET_TOKEN_LEN 16

/* Tag over the pseudo-packet (odcid length, odcid, Retry packet without tag).
 * P2PQ_ERR_UNSUPPORTED for versions other than v1. */
int p2pq_retry_tag(uint32_t version, const uint8_t *odcid, size_t odcid_len,
                   const uint8_t *retry_wo_tag, size_t len, uint8_t tag[16]);
/* Checks the last 16 bytes of retry_pkt[0..len). 0 if valid, P2PQ_ERR_DECRYPT if
 * the tag is wrong or the packet is shorter than a tag; P2PQ_ERR_UNSUPPORTED for
 * an unknown version. */
int p2pq_retry_verify(uint32_t version, const uint8_t *odcid, size_t odcid_len,
                      const uint8_t *retry_pkt, size_t len);

/* AES-256-GCM under a key derived from a 32-byte server secret. */
typedef struct p2pq_token_key {
  gnutls_aead_cipher_hd_t aead;
} p2pq_token_key;

int p2pq_token_key_init(p2pq_token_key *k, const uint8_t secret[32]);
/* Frees the handle; safe on a zeroed struct and when called twice. */
void p2pq_token_key_clear(p2pq_token_key *k);

/* out = nonce || ciphertext || tag; returns its length (len + 28) or
 * P2PQ_ERR_NOBUF. plain may alias out + 12. The nonce must never repeat under
 * one key (a counter or 96 random bits). */
int p2pq_token_seal(const p2pq_token_key *k, const uint8_t nonce[12], const uint8_t *plain,
                    size_t len, uint8_t *out, size_t cap);
/* Returns the plaintext length, P2PQ_ERR_INVALID_TOKEN if in is short, forged or
 * sealed under another key, or P2PQ_ERR_NOBUF. plain may alias in. */
int p2pq_token_open(const p2pq_token_key *k, const uint8_t *in, size_t len, uint8_t *plain,
                    size_t cap);
/* The same with associated data that is authenticated but not carried in the
 * token (for example the client's address, so a token only works from there). */
int p2pq_token_seal_ad(const p2pq_token_key *k, const uint8_t nonce[12], const uint8_t *ad,
                       size_t ad_len, const uint8_t *plain, size_t len, uint8_t *out,
                       size_t cap);
int p2pq_token_open_ad(const p2pq_token_key *k, const uint8_t *ad, size_t ad_len,
                       const uint8_t *in, size_t len, uint8_t *plain, size_t cap);

/* Structured address-validation tokens (RFC 9000 section 8.1) on top of the
 * sealer. A Retry token is bound to the client's IP and port and carries the
 * connection IDs the server must echo in its transport parameters; a NEW_TOKEN
 * token is bound to the IP only (the client's port changes between
 * connections). `issued` and `now` are the caller's clock in ns: use wall-clock
 * time if tokens must survive a restart. */
enum { P2PQ_TOKEN_RETRY = 1, P2PQ_TOKEN_NEW_TOKEN = 2 };

typedef struct p2pq_token_info {
  uint8_t kind;        /* P2PQ_TOKEN_RETRY or P2PQ_TOKEN_NEW_TOKEN */
  p2pq_tstamp issued;
  uint8_t odcid[20];   /* Retry: the client's original Destination CID */
  size_t odcid_len;
  uint8_t rscid[20];   /* Retry: the Source CID of the Retry packet */
  size_t rscid_len;
} p2pq_token_info;

#define P2PQ_TOKEN_INFO_MAX (1 + 8 + 1 + 20 + 1 + 20)
#define P2PQ_TOKEN_MAX_LEN (P2PQ_TOKEN_INFO_MAX + P2PQ_TOKEN_OVERHEAD)

/* Seals info for client; returns the token length (<= P2PQ_TOKEN_MAX_LEN). */
int p2pq_token_make(const p2pq_token_key *k, const uint8_t nonce[12],
                    const p2pq_token_info *info, const p2pq_addr *client, uint8_t *out,
                    size_t cap);
/* Opens and checks a token: P2PQ_ERR_INVALID_TOKEN if it does not open for this
 * client, is malformed, was issued after now or more than lifetime ns before
 * now. On success fills *info. */
int p2pq_token_check(const p2pq_token_key *k, const uint8_t *in, size_t len,
                     const p2pq_addr *client, p2pq_tstamp now, p2pq_tstamp lifetime,
                     p2pq_token_info *info);
/* The plaintext codec under the two calls above (exposed for tests and fuzzing). */
int p2pq_token_info_encode(const p2pq_token_info *info, uint8_t *out, size_t cap);
int p2pq_token_info_decode(const uint8_t *p, size_t len, p2pq_token_info *info);

/* HMAC-SHA256(static_key, cid) truncated to 16 bytes: the stateless reset token
 * a server can recompute for any of its connection IDs without state. */
int p2pq_stateless_reset_token(const uint8_t static_key[32], const uint8_t *cid,
                               size_t cid_len, uint8_t token[16]);

#endif
