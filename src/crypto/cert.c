/* Credentials, key/certificate generation and SPKI fingerprints over GnuTLS. */
#include "crypto/cert.h"

#include <arpa/inet.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>

#include "p2pq/error.h"

struct p2pq_creds {
  gnutls_certificate_credentials_t cred;
  int is_server;
  int raw_public_key;
  int has_key;
  p2pq_verify_mode verify;
  uint8_t (*pins)[32];
  size_t n_pins;
  int require_client_auth;
};

/* GnuTLS datums hold unsigned int lengths; refuse anything larger. */
static int datum_of(gnutls_datum_t *d, const void *p, size_t len) {
  if (!p || len == 0 || len > 0x7fffffff)
    return P2PQ_ERR_INVALID_ARG;
  d->data = (unsigned char *)(uintptr_t)p;
  d->size = (unsigned int)len;
  return 0;
}

/* Copies a GnuTLS-allocated datum into a NUL-terminated malloc'd string. */
static int dup_datum(const gnutls_datum_t *d, char **out, size_t *len) {
  char *s = malloc((size_t)d->size + 1);
  if (!s)
    return P2PQ_ERR_NOMEM;
  memcpy(s, d->data, d->size);
  s[d->size] = '\0';
  *out = s;
  if (len)
    *len = d->size;
  return 0;
}

static int pubkey_fingerprint(gnutls_pubkey_t pub, uint8_t out[32]) {
  gnutls_datum_t der = {NULL, 0};
  int rv = P2PQ_ERR_CRYPTO;
  if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0)
    return P2PQ_ERR_CRYPTO;
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out) == 0)
    rv = 0;
  gnutls_free(der.data);
  return rv;
}

int p2pq_fingerprint_from_spki_der(const uint8_t *der, size_t len, uint8_t out[32]) {
  gnutls_pubkey_t pub;
  gnutls_datum_t d;
  int rv = datum_of(&d, der, len);
  if (rv < 0)
    return rv;
  if (gnutls_pubkey_init(&pub) < 0)
    return P2PQ_ERR_NOMEM;
  rv = gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_DER) < 0 ? P2PQ_ERR_MALFORMED
                                                             : pubkey_fingerprint(pub, out);
  gnutls_pubkey_deinit(pub);
  return rv;
}

static int crt_fingerprint(const void *p, size_t len, gnutls_x509_crt_fmt_t fmt,
                           uint8_t out[32]) {
  gnutls_x509_crt_t crt;
  gnutls_pubkey_t pub;
  gnutls_datum_t d;
  int rv = datum_of(&d, p, len);
  if (rv < 0)
    return rv;
  if (gnutls_x509_crt_init(&crt) < 0)
    return P2PQ_ERR_NOMEM;
  if (gnutls_pubkey_init(&pub) < 0) {
    gnutls_x509_crt_deinit(crt);
    return P2PQ_ERR_NOMEM;
  }
  if (gnutls_x509_crt_import(crt, &d, fmt) < 0 || gnutls_pubkey_import_x509(pub, crt, 0) < 0)
    rv = P2PQ_ERR_MALFORMED;
  else
    rv = pubkey_fingerprint(pub, out);
  gnutls_pubkey_deinit(pub);
  gnutls_x509_crt_deinit(crt);
  return rv;
}

int p2pq_fingerprint_from_cert_der(const uint8_t *der, size_t len, uint8_t out[32]) {
  return crt_fingerprint(der, len, GNUTLS_X509_FMT_DER, out);
}

int p2pq_fingerprint_from_cert_pem(const char *cert_pem, size_t len, uint8_t out[32]) {
  return crt_fingerprint(cert_pem, len, GNUTLS_X509_FMT_PEM, out);
}

/* Imports a PEM private key (PKCS#8 or traditional) and its public half. */
static int load_key_pair(const char *key_pem, size_t len, gnutls_privkey_t *priv,
                         gnutls_pubkey_t *pub) {
  gnutls_datum_t d;
  int rv = datum_of(&d, key_pem, len);
  if (rv < 0)
    return rv;
  *priv = NULL;
  *pub = NULL;
  if (gnutls_privkey_init(priv) < 0)
    return P2PQ_ERR_NOMEM;
  if (gnutls_pubkey_init(pub) < 0) {
    gnutls_privkey_deinit(*priv);
    return P2PQ_ERR_NOMEM;
  }
  if (gnutls_privkey_import_x509_raw(*priv, &d, GNUTLS_X509_FMT_PEM, NULL, 0) < 0 ||
      gnutls_pubkey_import_privkey(*pub, *priv, 0, 0) < 0) {
    gnutls_pubkey_deinit(*pub);
    gnutls_privkey_deinit(*priv);
    return P2PQ_ERR_MALFORMED;
  }
  return 0;
}

int p2pq_fingerprint_from_key_pem(const char *key_pem, size_t len, uint8_t out[32]) {
  gnutls_privkey_t priv;
  gnutls_pubkey_t pub;
  int rv = load_key_pair(key_pem, len, &priv, &pub);
  if (rv < 0)
    return rv;
  rv = pubkey_fingerprint(pub, out);
  gnutls_pubkey_deinit(pub);
  gnutls_privkey_deinit(priv);
  return rv;
}

void p2pq_fingerprint_format(const uint8_t fp[32], char out[72]) {
  static const char hex[] = "0123456789abcdef";
  size_t i;
  memcpy(out, "sha256:", 7);
  for (i = 0; i < 32; i++) {
    out[7 + 2 * i] = hex[fp[i] >> 4];
    out[8 + 2 * i] = hex[fp[i] & 15];
  }
  out[71] = '\0';
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int p2pq_fingerprint_parse(const char *s, uint8_t out[32]) {
  uint8_t tmp[32];
  size_t i;
  if (!s)
    return P2PQ_ERR_INVALID_ARG;
  if (strncmp(s, "sha256:", 7) == 0)
    s += 7;
  for (i = 0; i < 32; i++) {
    int hi = hexval(s[2 * i]), lo;
    if (hi < 0)
      return P2PQ_ERR_MALFORMED;
    lo = hexval(s[2 * i + 1]);
    if (lo < 0)
      return P2PQ_ERR_MALFORMED;
    tmp[i] = (uint8_t)(hi << 4 | lo);
  }
  if (s[64] != '\0')
    return P2PQ_ERR_MALFORMED;
  memcpy(out, tmp, 32);
  return 0;
}

int p2pq_key_generate_ed25519(char **key_pem, size_t *key_len) {
  gnutls_x509_privkey_t key;
  gnutls_datum_t d = {NULL, 0};
  int rv = P2PQ_ERR_CRYPTO;
  if (!key_pem)
    return P2PQ_ERR_INVALID_ARG;
  if (gnutls_x509_privkey_init(&key) < 0)
    return P2PQ_ERR_NOMEM;
  if (gnutls_x509_privkey_generate2(key, GNUTLS_PK_EDDSA_ED25519, 256, 0, NULL, 0) == 0 &&
      gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
                                        &d) == 0)
    rv = dup_datum(&d, key_pem, key_len);
  gnutls_free(d.data);
  gnutls_x509_privkey_deinit(key);
  return rv;
}

/* Subject name, SAN (DNS name or IP address literal) and TLS key purposes. */
static int cert_set_identity(gnutls_x509_crt_t crt, const char *cn) {
  uint8_t ip[16];
  size_t n = strlen(cn);
  int r;
  if (gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                    (unsigned)n) < 0)
    return P2PQ_ERR_CONFIG;
  if (inet_pton(AF_INET, cn, ip) == 1)
    r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
                                             GNUTLS_FSAN_SET);
  else if (inet_pton(AF_INET6, cn, ip) == 1)
    r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
                                             GNUTLS_FSAN_SET);
  else
    r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, cn, (unsigned)n,
                                             GNUTLS_FSAN_SET);
  if (r < 0 || gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
      gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
      gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0 ||
      gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0) < 0)
    return P2PQ_ERR_CRYPTO;
  return 0;
}

/* Fills and self-signs crt; the serial is derived from the key so that no
 * extra randomness is needed (RFC 5280 only asks for uniqueness per issuer). */
static int cert_build(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn,
                      time_t now, uint32_t valid_seconds) {
  uint8_t serial[16];
  unsigned char kid[64];
  size_t kid_len = sizeof(kid);
  int rv;
  if (gnutls_x509_crt_set_version(crt, 3) < 0 || gnutls_x509_crt_set_key(crt, key) < 0)
    return P2PQ_ERR_CRYPTO;
  if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, kid, &kid_len) < 0 ||
      kid_len < sizeof(serial))
    return P2PQ_ERR_CRYPTO;
  memcpy(serial, kid, sizeof(serial));
  serial[0] &= 0x7f; /* positive INTEGER */
  serial[0] |= 0x40; /* no leading zero octet */
  if (gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
      gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
      gnutls_x509_crt_set_expiration_time(crt, now + (time_t)valid_seconds) < 0)
    return P2PQ_ERR_CRYPTO;
  rv = cert_set_identity(crt, cn);
  if (rv < 0)
    return rv;
  if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
    return P2PQ_ERR_CRYPTO;
  return 0;
}

int p2pq_cert_self_signed_at(const char *common_name, time_t now, uint32_t valid_seconds,
                             char **cert_pem, size_t *cert_len, char **key_pem,
                             size_t *key_len) {
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t cd = {NULL, 0}, kd = {NULL, 0};
  int rv;
  if (!common_name || !*common_name || !cert_pem || !key_pem || valid_seconds == 0)
    return P2PQ_ERR_INVALID_ARG;
  if (gnutls_x509_privkey_init(&key) < 0)
    return P2PQ_ERR_NOMEM;
  if (gnutls_x509_crt_init(&crt) < 0) {
    gnutls_x509_privkey_deinit(key);
    return P2PQ_ERR_NOMEM;
  }
  rv = gnutls_x509_privkey_generate2(key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0,
                                     NULL, 0) < 0
           ? P2PQ_ERR_CRYPTO
           : cert_build(crt, key, common_name, now, valid_seconds);
  if (rv == 0 && (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cd) < 0 ||
                  gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
                                                    GNUTLS_PKCS_PLAIN, &kd) < 0))
    rv = P2PQ_ERR_CRYPTO;
  if (rv == 0 && (rv = dup_datum(&cd, cert_pem, cert_len)) == 0 &&
      (rv = dup_datum(&kd, key_pem, key_len)) < 0) {
    free(*cert_pem);
    *cert_pem = NULL;
  }
  gnutls_free(cd.data);
  gnutls_free(kd.data);
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_privkey_deinit(key);
  return rv;
}

int p2pq_cert_self_signed(const char *common_name, uint32_t valid_seconds, char **cert_pem,
                          size_t *cert_len, char **key_pem, size_t *key_len) {
  /* Wall-clock read: certificate validity is defined in wall-clock time. */
  return p2pq_cert_self_signed_at(common_name, time(NULL), valid_seconds, cert_pem, cert_len,
                                  key_pem, key_len);
}

/* Loads key_pem as an RFC 7250 raw public key (public half derived here). */
static int creds_load_rawpk(p2pq_creds *c, const p2pq_creds_config *cfg) {
  gnutls_privkey_t priv;
  gnutls_pubkey_t pub;
  gnutls_datum_t pubd = {NULL, 0}, keyd;
  int rv = load_key_pair(cfg->key_pem, cfg->key_pem_len, &priv, &pub);
  if (rv < 0)
    return rv;
  datum_of(&keyd, cfg->key_pem, cfg->key_pem_len);
  if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pubd) < 0 ||
      gnutls_certificate_set_rawpk_key_mem(c->cred, &pubd, &keyd, GNUTLS_X509_FMT_PEM, NULL,
                                           0, NULL, 0, 0) < 0)
    rv = P2PQ_ERR_CRYPTO;
  gnutls_free(pubd.data);
  gnutls_pubkey_deinit(pub);
  gnutls_privkey_deinit(priv);
  return rv;
}

static int creds_load_x509(p2pq_creds *c, const p2pq_creds_config *cfg) {
  gnutls_datum_t cd, kd;
  if (datum_of(&cd, cfg->cert_pem, cfg->cert_pem_len) < 0 ||
      datum_of(&kd, cfg->key_pem, cfg->key_pem_len) < 0)
    return P2PQ_ERR_CONFIG;
  if (gnutls_certificate_set_x509_key_mem2(c->cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) <
      0)
    return P2PQ_ERR_MALFORMED;
  return 0;
}

static int creds_load_trust(p2pq_creds *c, const p2pq_creds_config *cfg) {
  int n;
  if (cfg->ca_file)
    n = gnutls_certificate_set_x509_trust_file(c->cred, cfg->ca_file, GNUTLS_X509_FMT_PEM);
  else
    n = gnutls_certificate_set_x509_system_trust(c->cred);
  return n <= 0 ? P2PQ_ERR_NOT_FOUND : 0;
}

static int creds_check_config(const p2pq_creds_config *cfg) {
  if (cfg->verify != P2PQ_VERIFY_NONE && cfg->verify != P2PQ_VERIFY_CA &&
      cfg->verify != P2PQ_VERIFY_PIN)
    return P2PQ_ERR_CONFIG;
  if (cfg->verify == P2PQ_VERIFY_PIN && (!cfg->pins || cfg->n_pins == 0))
    return P2PQ_ERR_CONFIG;
  if (cfg->verify == P2PQ_VERIFY_CA && cfg->raw_public_key)
    return P2PQ_ERR_CONFIG; /* a CA can only vouch for certificates */
  if (cfg->raw_public_key && cfg->cert_pem)
    return P2PQ_ERR_CONFIG;
  if ((cfg->cert_pem || cfg->raw_public_key) && !cfg->key_pem)
    return P2PQ_ERR_CONFIG;
  if (cfg->is_server && !cfg->cert_pem && !cfg->raw_public_key)
    return P2PQ_ERR_CONFIG;
  return 0;
}

static int creds_fill(p2pq_creds *c, const p2pq_creds_config *cfg) {
  int rv;
  if (gnutls_certificate_allocate_credentials(&c->cred) < 0) {
    c->cred = NULL;
    return P2PQ_ERR_NOMEM;
  }
  if (cfg->raw_public_key)
    rv = creds_load_rawpk(c, cfg);
  else if (cfg->cert_pem)
    rv = creds_load_x509(c, cfg);
  else
    rv = 0;
  if (rv < 0)
    return rv;
  c->has_key = cfg->raw_public_key || cfg->cert_pem;
  if (cfg->verify == P2PQ_VERIFY_CA && (!cfg->is_server || cfg->require_client_auth)) {
    rv = creds_load_trust(c, cfg);
    if (rv < 0)
      return rv;
  }
  if (cfg->verify == P2PQ_VERIFY_PIN) {
    c->pins = malloc(cfg->n_pins * sizeof(*c->pins));
    if (!c->pins)
      return P2PQ_ERR_NOMEM;
    memcpy(c->pins, cfg->pins, cfg->n_pins * sizeof(*c->pins));
    c->n_pins = cfg->n_pins;
  }
  return 0;
}

int p2pq_creds_new(p2pq_creds **out, const p2pq_creds_config *cfg) {
  p2pq_creds *c;
  int rv;
  if (!out || !cfg)
    return P2PQ_ERR_INVALID_ARG;
  *out = NULL;
  rv = creds_check_config(cfg);
  if (rv < 0)
    return rv;
  c = calloc(1, sizeof(*c));
  if (!c)
    return P2PQ_ERR_NOMEM;
  c->is_server = !!cfg->is_server;
  c->raw_public_key = !!cfg->raw_public_key;
  c->verify = cfg->verify;
  c->require_client_auth = !!cfg->require_client_auth;
  rv = creds_fill(c, cfg);
  if (rv < 0) {
    p2pq_creds_free(c);
    return rv;
  }
  *out = c;
  return 0;
}

void p2pq_creds_free(p2pq_creds *c) {
  if (!c)
    return;
  if (c->cred)
    gnutls_certificate_free_credentials(c->cred);
  free(c->pins);
  free(c);
}

void p2pq_creds_view(const p2pq_creds *c, struct p2pq_creds_view *v) {
  v->gnutls_cred = c->cred;
  v->is_server = c->is_server;
  v->raw_public_key = c->raw_public_key;
  v->has_key = c->has_key;
  v->verify = c->verify;
  v->pins = (const uint8_t(*)[32])c->pins;
  v->n_pins = c->n_pins;
  v->require_client_auth = c->require_client_auth;
}
