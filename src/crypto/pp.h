/* QUIC packet protection (RFC 9001 section 5): AEAD payload protection, header
 * protection, key update (section 6) and AEAD usage limits (section 6.6).
 *
 * A p2pq_pp_key protects one direction at one encryption level (or one key phase
 * of 1-RTT). Cipher handles are created once in _init/_update; the per-packet
 * calls allocate nothing and work in place. The handles carry per-call state, so
 * one key must not be used by two threads at the same time. */
#ifndef P2PQ_CRYPTO_PP_H
#define P2PQ_CRYPTO_PP_H

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/suite.h"

#define P2PQ_PP_IV_LEN 12
#define P2PQ_PP_MAX_KEY_LEN 32
#define P2PQ_PP_MAX_PN_LEN 4
#define P2PQ_PP_SAMPLE_OFFSET 4 /* sample starts 4 bytes after the pn offset */

typedef struct p2pq_pp_key {
  p2pq_aead_alg alg;                  /* P2PQ_AEAD_NONE when not initialised */
  uint8_t iv[P2PQ_PP_IV_LEN];         /* "quic iv" */
  gnutls_aead_cipher_hd_t aead;       /* keyed with "quic key" */
  gnutls_cipher_hd_t hp;              /* AES-CBC (used as ECB) or ChaCha20 */
  uint8_t hp_key[P2PQ_PP_MAX_KEY_LEN]; /* kept so a key update can rebuild hp */
  size_t key_len;                     /* AEAD and hp key length */
  uint8_t secret[P2PQ_MAX_SECRET_LEN]; /* traffic secret, the base of "quic ku" */
  size_t secret_len;
} p2pq_pp_key;

/* Secret length (hash length) for alg: 32 or 48; 0 if alg is unknown. */
size_t p2pq_pp_secret_len(p2pq_aead_alg alg);
/* The suite's hash as a gnutls_mac_algorithm_t, or -1 if alg is unknown. */
int p2pq_pp_hash(p2pq_aead_alg alg);
/* AEAD key length: 16 or 32; 0 if alg is unknown. */
size_t p2pq_pp_key_len(p2pq_aead_alg alg);
/* The QUIC AEAD for a gnutls_cipher_algorithm_t (as GnuTLS's secret callback
 * reports it), or P2PQ_AEAD_NONE if QUIC cannot use it. */
p2pq_aead_alg p2pq_pp_alg_from_gnutls(int cipher);

/* Derives "quic key", "quic iv" and "quic hp" from secret (which must be
 * p2pq_pp_secret_len(alg) bytes) and creates the cipher handles. k is overwritten
 * without being freed: pass a zeroed or cleared key. On error k is left cleared. */
int p2pq_pp_key_init(p2pq_pp_key *k, p2pq_aead_alg alg, const uint8_t *secret,
                     size_t secret_len);
/* Wipes secrets and frees handles. Safe on a zeroed struct and when called twice. */
void p2pq_pp_key_clear(p2pq_pp_key *k);
/* Key update (RFC 9001 section 6): next gets the secret "quic ku" of cur and the
 * packet key and iv derived from it; the header protection key stays cur's.
 * next must not be cur and, as for _init, must be zeroed or cleared. */
int p2pq_pp_key_update(p2pq_pp_key *next, const p2pq_pp_key *cur);

/* AEAD in place with nonce = iv XOR pn (RFC 9001 section 5.3) and the header as
 * associated data. seal encrypts payload[0..len) and writes the 16-byte tag at
 * payload+len (the caller leaves room); returns len + 16. open takes len including
 * the tag and returns the plaintext length, or P2PQ_ERR_DECRYPT (the payload bytes
 * are then unspecified: keep a copy if another key must be tried; the 16 tag
 * bytes are never written, so a Stateless Reset token at the end of the
 * datagram can still be compared after a failure). */
int p2pq_pp_seal(const p2pq_pp_key *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
                 uint8_t *payload, size_t len);
int p2pq_pp_open(const p2pq_pp_key *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
                 uint8_t *payload, size_t len);

/* Header protection mask (RFC 9001 section 5.4.3 / 5.4.4). */
int p2pq_pp_hp_mask(const p2pq_pp_key *k, const uint8_t sample[16], uint8_t mask[5]);

/* Protects a whole packet in place. pkt[0..pn_offset) is the unprotected header up
 * to the packet number; this call writes the pn_len-byte truncated pn at pn_offset
 * and the pn length bits of byte 0 itself. The payload runs from pn_offset+pn_len
 * to pkt_len; 16 bytes of room for the tag must follow. pkt_len must be at least
 * pn_offset + 4 so the header protection sample exists (pad otherwise). Returns
 * the protected length pkt_len + 16. */
int p2pq_pp_protect(const p2pq_pp_key *k, uint8_t *pkt, size_t pn_offset, size_t pn_len,
                    uint64_t pn, size_t pkt_len);

/* Removes header protection in place from the packet pkt[0..pkt_len) whose packet
 * number starts at pn_offset. Returns pn_len (1..4) and stores the truncated pn;
 * P2PQ_ERR_TRUNCATED if pkt_len < pn_offset + 4 + 16. */
int p2pq_pp_unprotect_header(const p2pq_pp_key *k, uint8_t *pkt, size_t pkt_len,
                             size_t pn_offset, uint32_t *truncated_pn);

/* Packet number decoding (RFC 9000 appendix A.3): the full pn closest to
 * largest_pn + 1 whose low pn_len bytes are truncated_pn. largest_pn is
 * UINT64_MAX when no packet has been received yet in that number space. */
uint64_t p2pq_pp_decode_pn(uint64_t largest_pn, uint32_t truncated_pn, size_t pn_len);

/* unprotect_header + decode_pn + open in one call. On success returns the plaintext
 * payload length; the payload starts at pkt + pn_offset + pn_len (*pn_len_out) and
 * *pn holds the full packet number. On failure the last 16 bytes are intact. */
int p2pq_pp_unprotect(const p2pq_pp_key *k, uint8_t *pkt, size_t pkt_len, size_t pn_offset,
                      uint64_t largest_pn, uint64_t *pn, size_t *pn_len_out);

/* AEAD usage limits (RFC 9001 section 6.6): packets that may be protected with
 * one key, and forged packets that may fail to open before the connection must
 * close. 0 for an unknown alg. */
uint64_t p2pq_pp_confidentiality_limit(p2pq_aead_alg alg);
uint64_t p2pq_pp_integrity_limit(p2pq_aead_alg alg);

#endif
