/* TLS 1.3 handshake driver for QUIC (RFC 9001 section 4) over GnuTLS's QUIC
 * API. Handshake bytes travel in CRYPTO frames, never in TLS records: the
 * connection feeds received CRYPTO data in with p2pq_tls_recv and gets bytes to
 * send, traffic secrets and the peer's transport parameters through callbacks.
 *
 * Sans-I/O: no sockets, files or clocks are touched here, except that GnuTLS
 * draws randomness (client/server random, key shares, signatures) from its own
 * RNG and reads the wall clock to check certificate validity, the one
 * documented exception to the rule that randomness comes through p2pq_rand_fn.
 *
 * Session tickets, resumption and 0-RTT are disabled for now. */
#ifndef P2PQ_CRYPTO_TLS_H
#define P2PQ_CRYPTO_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"
#include "crypto/suite.h"

typedef struct p2pq_tls p2pq_tls;

typedef struct p2pq_tls_callbacks {
  void *user;
  /* New traffic secrets for a level (either side may be NULL when only one is
   * ready); alg is the negotiated AEAD. */
  int (*on_secret)(void *user, p2pq_level level, p2pq_aead_alg alg, const uint8_t *rx_secret,
                   const uint8_t *tx_secret, size_t secret_len);
  /* Handshake bytes to send in CRYPTO frames at this level. */
  int (*on_crypto_out)(void *user, p2pq_level level, const uint8_t *data, size_t len);
  /* The peer's quic_transport_parameters extension body (called once, before the
   * handshake completes). Return <0 to abort the handshake; that code is then
   * what p2pq_tls_recv returns. */
  int (*on_peer_params)(void *user, const uint8_t *data, size_t len);
  /* One NSS key-log line without newline (may be NULL). */
  void (*on_keylog)(void *user, const char *line);
} p2pq_tls_callbacks;

typedef struct p2pq_tls_config {
  const p2pq_creds *creds;
  const char *const *alpn; size_t n_alpn; /* client: offered in order; server: accepted,
                                             in preference order */
  const char *sni; /* client: server name (also the name checked in P2PQ_VERIFY_CA,
                      where it is required); NULL for none; an IP literal is checked
                      but not sent as SNI */
  const uint8_t *local_params; size_t local_params_len; /* our encoded transport params */
} p2pq_tls_config;

/* cfg's strings and params are copied; creds must outlive the p2pq_tls.
 * Errors: P2PQ_ERR_INVALID_ARG, P2PQ_ERR_CONFIG, P2PQ_ERR_NOMEM, P2PQ_ERR_TLS. */
int p2pq_tls_new(p2pq_tls **out, const p2pq_tls_config *cfg, const p2pq_tls_callbacks *cb);
void p2pq_tls_free(p2pq_tls *t);

/* Client: emits the ClientHello through on_crypto_out; server: no-op. */
int p2pq_tls_start(p2pq_tls *t);

/* Feeds in-order CRYPTO data received at a level and advances the handshake
 * (may call all callbacks). After the handshake, post-handshake messages at
 * P2PQ_LEVEL_APP are accepted. Errors: P2PQ_ERR_TLS_ALERT (p2pq_tls_alert says
 * which), P2PQ_ERR_TLS, P2PQ_ERR_PEER_AUTH (alert set too), a callback's own
 * error, or P2PQ_ERR_CRYPTO_BUFFER when a handshake message declares more than
 * 64 KiB (no alert: close with CRYPTO_BUFFER_EXCEEDED). Once it failed, every
 * later call returns the same error. */
int p2pq_tls_recv(p2pq_tls *t, p2pq_level level, const uint8_t *data, size_t len);

int p2pq_tls_is_done(const p2pq_tls *t);
/* Negotiated ALPN (NUL-terminated, owned by t) or NULL. */
const char *p2pq_tls_alpn(const p2pq_tls *t);
/* Server: the DNS name the client sent as SNI (NUL-terminated, owned by t),
 * or NULL. */
const char *p2pq_tls_peer_sni(const p2pq_tls *t);
/* SHA-256 of the peer's SubjectPublicKeyInfo; P2PQ_ERR_NOT_FOUND if the peer
 * presented no certificate or key. */
int p2pq_tls_peer_fingerprint(const p2pq_tls *t, uint8_t out[32]);
/* TLS alert to send as CRYPTO_ERROR 0x100+alert (0 if none). */
uint8_t p2pq_tls_alert(const p2pq_tls *t);
int p2pq_tls_is_server(const p2pq_tls *t);

/* The extension codepoint of quic_transport_parameters (RFC 9001 section 8.2). */
#define P2PQ_TLS_EXT_QUIC_TRANSPORT_PARAMS 0x39

#endif
