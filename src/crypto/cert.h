/* Credentials for the TLS driver: X.509 certificates or RFC 7250 raw public
 * keys, peer verification policy (CA chain, SPKI pins, none), plus helpers to
 * make keys and self-signed certificates and to compute/format the SHA-256
 * SubjectPublicKeyInfo fingerprints that pins are made of.
 *
 * Key and certificate generation use GnuTLS's own RNG, the one documented
 * exception to the sans-I/O rule (see tls.h). */
#ifndef P2PQ_CRYPTO_CERT_H
#define P2PQ_CRYPTO_CERT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Credentials shared by many connections; immutable after p2pq_creds_new, so
 * they may be used by several p2pq_tls at once. Must outlive them. */
typedef struct p2pq_creds p2pq_creds;

typedef enum {
  P2PQ_VERIFY_NONE = 0, /* --insecure */
  P2PQ_VERIFY_CA = 1,   /* X.509 chain + hostname against CA file or system store */
  P2PQ_VERIFY_PIN = 2   /* peer's SubjectPublicKeyInfo SHA-256 must equal one of the
                           pins; works for X.509 certs and raw public keys. The key is
                           the identity: certificate names and dates are not checked */
} p2pq_verify_mode;

typedef struct p2pq_creds_config {
  int is_server;
  const char *cert_pem; size_t cert_pem_len; /* X.509 chain, PEM in memory (NULL: none) */
  const char *key_pem;  size_t key_pem_len;  /* private key PEM for cert or raw public key */
  int raw_public_key; /* 1: present key_pem's public key as an RFC 7250 raw public key */
  p2pq_verify_mode verify;
  const char *ca_file; /* P2PQ_VERIFY_CA: NULL = system trust store */
  const uint8_t (*pins)[32]; size_t n_pins; /* P2PQ_VERIFY_PIN */
  int require_client_auth; /* server: request and verify a client certificate / raw key */
} p2pq_creds_config;

/* Errors: P2PQ_ERR_CONFIG (inconsistent config, e.g. a server without a key, CA
 * mode with a raw public key, PIN mode without pins), P2PQ_ERR_MALFORMED (PEM
 * does not parse), P2PQ_ERR_NOT_FOUND (CA file unreadable or empty),
 * P2PQ_ERR_NOMEM, P2PQ_ERR_CRYPTO. */
int p2pq_creds_new(p2pq_creds **out, const p2pq_creds_config *cfg);
void p2pq_creds_free(p2pq_creds *c);

/* Ephemeral self-signed X.509 certificate (ECDSA P-256, CN and DNS SAN =
 * common_name, valid from one hour ago for valid_seconds) for `p2pquic serve`
 * without --cert. PEM strings are NUL-terminated, malloc'd; free() them. This
 * wrapper reads the wall clock (certificate validity is wall-clock time, like
 * GnuTLS's own validity checks); p2pq_cert_self_signed_at takes it instead. */
int p2pq_cert_self_signed(const char *common_name, uint32_t valid_seconds, char **cert_pem,
                          size_t *cert_len, char **key_pem, size_t *key_len);
int p2pq_cert_self_signed_at(const char *common_name, time_t now, uint32_t valid_seconds,
                             char **cert_pem, size_t *cert_len, char **key_pem,
                             size_t *key_len);

/* New Ed25519 private key as PKCS#8 PEM (NUL-terminated, malloc'd). */
int p2pq_key_generate_ed25519(char **key_pem, size_t *key_len);

/* SHA-256 of the DER SubjectPublicKeyInfo of a private key's public half, of
 * the first certificate in a PEM chain, or of a DER SPKI / DER certificate. */
int p2pq_fingerprint_from_key_pem(const char *key_pem, size_t len, uint8_t out[32]);
int p2pq_fingerprint_from_cert_pem(const char *cert_pem, size_t len, uint8_t out[32]);
int p2pq_fingerprint_from_spki_der(const uint8_t *der, size_t len, uint8_t out[32]);
int p2pq_fingerprint_from_cert_der(const uint8_t *der, size_t len, uint8_t out[32]);

#define P2PQ_FINGERPRINT_STRLEN 72 /* "sha256:" + 64 hex + NUL */
/* Writes "sha256:<64 lowercase hex>". */
void p2pq_fingerprint_format(const uint8_t fp[32], char out[72]);
/* Accepts "sha256:<64 hex>" or "<64 hex>" (either case); P2PQ_ERR_MALFORMED else. */
int p2pq_fingerprint_parse(const char *s, uint8_t out[32]);

/* For the TLS driver (internal). */
struct p2pq_creds_view {
  void *gnutls_cred; /* gnutls_certificate_credentials_t */
  int is_server;
  int raw_public_key;
  int has_key;
  p2pq_verify_mode verify;
  const uint8_t (*pins)[32];
  size_t n_pins;
  int require_client_auth;
};
void p2pq_creds_view(const p2pq_creds *c, struct p2pq_creds_view *v);

#endif
