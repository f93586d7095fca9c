/* TLS 1.3 handshake driver for QUIC over GnuTLS's QUIC hooks (RFC 9001 sec. 4).
 *
 * GnuTLS never sees a record layer here: outgoing handshake messages arrive in
 * tls_read_cb (GnuTLS "reads" them out to us), incoming CRYPTO data goes in with
 * gnutls_handshake_write, and gnutls_handshake() is called again after each
 * input; it returns GNUTLS_E_AGAIN while it waits for more. Secrets come out
 * per level through tls_secret_cb. GnuTLS uses its own RNG internally: the one
 * documented exception to the sans-I/O rule (see tls.h). */
#include "crypto/tls.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "p2pq/error.h"

#define TLS_ALPN_MAX 255 /* RFC 7301: protocol names are 1..255 bytes */
#define TLS_ALERT_INTERNAL_ERROR 80
/* Largest handshake message we buffer. GnuTLS waits for a whole message
 * whatever its declared length (up to 16 MiB); certificate chains are far
 * smaller than this. */
#define TLS_MAX_HS_MSG 65536

/* Where the incoming CRYPTO stream of one level stands in handshake-message
 * framing (type u8, length u24, body). */
typedef struct tls_framer {
  uint8_t hdr[4];     /* the header, held back until complete */
  uint8_t hdr_len;    /* header bytes seen of the current message; 4: in body */
  uint8_t type;       /* type of the current message */
  uint32_t body_left; /* length while in the header, then body bytes to come */
} tls_framer;

#define TLS_HS_NEW_SESSION_TICKET 4
#define TLS_HS_END_OF_EARLY_DATA 5
#define TLS_HS_KEY_UPDATE 24
#define TLS_ALERT_UNEXPECTED_MESSAGE 10

struct p2pq_tls {
  gnutls_session_t s;
  struct p2pq_creds_view cv;
  p2pq_tls_callbacks cb;
  char *sni;
  uint8_t *local_params;
  size_t local_params_len;
  int want_alpn;      /* ALPN configured: the peer must agree on one */
  int got_params;     /* peer's transport parameters seen */
  int started;        /* gnutls_handshake() called at least once */
  int done;           /* handshake complete */
  int auth_failed;    /* our peer verification rejected the peer */
  int err;            /* sticky error once failed */
  uint8_t alert;      /* alert to send as CRYPTO_ERROR */
  tls_framer in[P2PQ_LEVEL_COUNT];
  p2pq_level rx_level; /* the only level GnuTLS reads handshake messages at now */
  char alpn[TLS_ALPN_MAX + 1];
  char peer_sni[256]; /* server: the name the client asked for */
};

/* TLS 1.3 only, the three AEADs QUIC v1 uses (no CCM: not in suite.h), no
 * middlebox-compatibility ChangeCipherSpec (RFC 9001 section 8.4). */
#define TLS_PRIO_BASE                                                                    \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"                  \
  "+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE"

static gnutls_record_encryption_level_t level_to_gnutls(p2pq_level l) {
  switch (l) {
  case P2PQ_LEVEL_EARLY:
    return GNUTLS_ENCRYPTION_LEVEL_EARLY;
  case P2PQ_LEVEL_HANDSHAKE:
    return GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE;
  case P2PQ_LEVEL_APP:
    return GNUTLS_ENCRYPTION_LEVEL_APPLICATION;
  default:
    return GNUTLS_ENCRYPTION_LEVEL_INITIAL;
  }
}

static p2pq_level level_from_gnutls(gnutls_record_encryption_level_t l) {
  switch (l) {
  case GNUTLS_ENCRYPTION_LEVEL_EARLY:
    return P2PQ_LEVEL_EARLY;
  case GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE:
    return P2PQ_LEVEL_HANDSHAKE;
  case GNUTLS_ENCRYPTION_LEVEL_APPLICATION:
    return P2PQ_LEVEL_APP;
  default:
    return P2PQ_LEVEL_INITIAL;
  }
}

static p2pq_aead_alg aead_from_gnutls(gnutls_cipher_algorithm_t c) {
  switch (c) {
  case GNUTLS_CIPHER_AES_128_GCM:
    return P2PQ_AEAD_AES_128_GCM;
  case GNUTLS_CIPHER_AES_256_GCM:
    return P2PQ_AEAD_AES_256_GCM;
  case GNUTLS_CIPHER_CHACHA20_POLY1305:
    return P2PQ_AEAD_CHACHA20_POLY1305;
  default:
    return P2PQ_AEAD_NONE;
  }
}

/* A callback failed: remember its code (it wins over GnuTLS's) and make GnuTLS
 * abort with some error. */
static int tls_cb_fail(p2pq_tls *t, int rv) {
  if (!t->err)
    t->err = rv;
  return GNUTLS_E_APPLICATION_ERROR_MIN;
}

/* Our own handshake check failed with a TLS alert. */
static int tls_alert_fail(p2pq_tls *t, uint8_t alert, int gnutls_err) {
  if (!t->alert)
    t->alert = alert;
  if (!t->err)
    t->err = P2PQ_ERR_TLS_ALERT;
  return gnutls_err;
}

static int tls_secret_cb(gnutls_session_t s, gnutls_record_encryption_level_t glevel,
                         const void *rx, const void *tx, size_t len) {
  p2pq_tls *t = gnutls_session_get_ptr(s);
  p2pq_aead_alg alg;
  int rv;
  alg = aead_from_gnutls(glevel == GNUTLS_ENCRYPTION_LEVEL_EARLY ? gnutls_early_cipher_get(s)
                                                                 : gnutls_cipher_get(s));
  if (alg == P2PQ_AEAD_NONE || len > P2PQ_MAX_SECRET_LEN)
    return tls_cb_fail(t, P2PQ_ERR_UNSUPPORTED);
  /* GnuTLS installs a read secret exactly when it starts reading at that level;
   * CRYPTO data is never carried in 0-RTT. */
  if (rx && glevel != GNUTLS_ENCRYPTION_LEVEL_EARLY)
    t->rx_level = level_from_gnutls(glevel);
  if (!t->cb.on_secret)
    return 0;
  rv = t->cb.on_secret(t->cb.user, level_from_gnutls(glevel), alg, rx, tx, len);
  return rv < 0 ? tls_cb_fail(t, rv) : 0;
}

/* GnuTLS hands us a complete handshake message to carry in CRYPTO frames. */
static int tls_read_cb(gnutls_session_t s, gnutls_record_encryption_level_t glevel,
                       gnutls_handshake_description_t htype, const void *data, size_t len) {
  p2pq_tls *t = gnutls_session_get_ptr(s);
  int rv;
  if (htype == GNUTLS_HANDSHAKE_CHANGE_CIPHER_SPEC || len == 0 || !t->cb.on_crypto_out)
    return 0;
  rv = t->cb.on_crypto_out(t->cb.user, level_from_gnutls(glevel), data, len);
  return rv < 0 ? tls_cb_fail(t, rv) : 0;
}

/* GnuTLS "sends" an alert: QUIC carries it as CRYPTO_ERROR instead. */
static int tls_alert_cb(gnutls_session_t s, gnutls_record_encryption_level_t glevel,
                        gnutls_alert_level_t alevel, gnutls_alert_description_t desc) {
  p2pq_tls *t = gnutls_session_get_ptr(s);
  if (!t->alert && desc != GNUTLS_A_CLOSE_NOTIFY)
    t->alert = (uint8_t)desc;
  return 0;
}

static void hex_append(char *out, const uint8_t *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = hex[p[i] >> 4];
    out[2 * i + 1] = hex[p[i] & 15];
  }
  out[2 * n] = '\0';
}

/* NSS key log line: "<label> <client_random hex> <secret hex>". Always
 * installed so that GnuTLS never writes $SSLKEYLOGFILE itself. */
static int tls_keylog_cb(gnutls_session_t s, const char *label, const gnutls_datum_t *secret) {
  p2pq_tls *t = gnutls_session_get_ptr(s);
  gnutls_datum_t crand, srand;
  char line[64 + 1 + 64 + 1 + 2 * 64 + 1];
  size_t ll;
  if (!t->cb.on_keylog || !label || !secret)
    return 0;
  gnutls_session_get_random(s, &crand, &srand);
  ll = strlen(label);
  if (ll > 64 || crand.size != 32 || secret->size > 64)
    return 0;
  memcpy(line, label, ll);
  line[ll] = ' ';
  hex_append(line + ll + 1, crand.data, 32);
  line[ll + 65] = ' ';
  hex_append(line + ll + 66, secret->data, secret->size);
  t->cb.on_keylog(t->cb.user, line);
  return 0;
}

static int tls_ext_send(gnutls_session_t s, gnutls_buffer_t extdata) {
  p2pq_tls *t = gnutls_session_get_ptr(s);
  if (t->local_params_len == 0)
    return GNUTLS_E_INT_RET_0; /* send the extension, empty */
  return gnutls_buffer_append_data(extdata, t->local_params, t->local_params_len);
}

static int tls_ext_recv(gnutls_session_t s, const unsigned char *data, size_t len) {
  p2pq_tls *t = gnutls_session_get_ptr(s);
  int rv;
  if (t->got_params) /* a second ClientHello after HelloRetryRequest */
    return 0;
  t->got_params = 1;
  if (!t->cb.on_peer_params)
    return 0;
  rv = t->cb.on_peer_params(t->cb.user, data, len);
  return rv < 0 ? tls_cb_fail(t, rv) : 0;
}

/* Checks that must hold once the peer's extensions are in: the server after
 * ClientHello, the client after EncryptedExtensions (RFC 9001 section 8). */
static int tls_check_extensions(p2pq_tls *t) {
  gnutls_datum_t sel;
  if (t->want_alpn) {
    if (gnutls_alpn_get_selected_protocol(t->s, &sel) < 0 || sel.size == 0 ||
        sel.size > TLS_ALPN_MAX)
      return tls_alert_fail(t, GNUTLS_A_NO_APPLICATION_PROTOCOL,
                            GNUTLS_E_NO_APPLICATION_PROTOCOL);
    memcpy(t->alpn, sel.data, sel.size);
    t->alpn[sel.size] = '\0';
  }
  if (!t->got_params)
    return tls_alert_fail(t, GNUTLS_A_MISSING_EXTENSION, GNUTLS_E_MISSING_EXTENSION);
  return 0;
}

/* Keeps the client's DNS server name (longer than our buffer: none). */
static void tls_read_sni(p2pq_tls *t) {
  size_t n;
  unsigned type, i;
  for (i = 0;; i++) {
    n = sizeof(t->peer_sni) - 1;
    if (gnutls_server_name_get(t->s, t->peer_sni, &n, &type, i) < 0 ||
        n >= sizeof(t->peer_sni)) {
      t->peer_sni[0] = '\0';
      return;
    }
    if (type == GNUTLS_NAME_DNS) {
      t->peer_sni[n] = '\0';
      return;
    }
  }
}

/* GnuTLS calls the post hook of ClientHello after parsing it, but that of
 * EncryptedExtensions before: the client checks at the next server message. */
static int tls_hook_cb(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                       const gnutls_datum_t *msg) {
  p2pq_tls *t = gnutls_session_get_ptr(s);
  if (!incoming || when != GNUTLS_HOOK_POST)
    return 0;
  if (t->cv.is_server) {
    if (htype != GNUTLS_HANDSHAKE_CLIENT_HELLO)
      return 0;
    tls_read_sni(t);
    return tls_check_extensions(t);
  }
  switch (htype) {
  case GNUTLS_HANDSHAKE_CERTIFICATE_REQUEST:
  case GNUTLS_HANDSHAKE_CERTIFICATE_PKT:
  case GNUTLS_HANDSHAKE_CERTIFICATE_VERIFY:
  case GNUTLS_HANDSHAKE_FINISHED:
    return tls_check_extensions(t);
  default:
    return 0;
  }
}

static int tls_pin_match(const p2pq_tls *t, const uint8_t fp[32]) {
  size_t i;
  for (i = 0; i < t->cv.n_pins; i++)
    if (memcmp(t->cv.pins[i], fp, 32) == 0)
      return 1;
  return 0;
}

/* X.509 chain to the trust store, the server's name (client side) and the key
 * purpose of the peer's role. */
static int tls_verify_chain(p2pq_tls *t, unsigned *status) {
  gnutls_typed_vdata_st vd[2];
  unsigned n = 0;
  vd[n].type = GNUTLS_DT_KEY_PURPOSE_OID;
  vd[n].data = (unsigned char *)(uintptr_t)(t->cv.is_server ? GNUTLS_KP_TLS_WWW_CLIENT
                                                            : GNUTLS_KP_TLS_WWW_SERVER);
  vd[n++].size = 0;
  if (!t->cv.is_server) {
    vd[n].type = GNUTLS_DT_DNS_HOSTNAME;
    vd[n].data = (unsigned char *)t->sni;
    vd[n++].size = 0;
  }
  return gnutls_certificate_verify_peers(t->s, vd, n, status);
}

/* Peer identity check; runs when the peer's Certificate has arrived. */
static int tls_verify_cb(gnutls_session_t s) {
  p2pq_tls *t = gnutls_session_get_ptr(s);
  uint8_t fp[32];
  unsigned status = 0;
  int ok = 0;
  switch (t->cv.verify) {
  case P2PQ_VERIFY_NONE:
    ok = 1;
    break;
  case P2PQ_VERIFY_CA:
    ok = tls_verify_chain(t, &status) == 0 && status == 0;
    break;
  case P2PQ_VERIFY_PIN:
    ok = p2pq_tls_peer_fingerprint(t, fp) == 0 && tls_pin_match(t, fp);
    break;
  }
  if (ok)
    return 0;
  t->auth_failed = 1;
  return -1;
}

static int is_ip_literal(const char *s) {
  uint8_t buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Raw public keys are negotiable unless the peer must chain to a CA. */
static int tls_set_priority(p2pq_tls *t) {
  char prio[sizeof(TLS_PRIO_BASE) + 96];
  const char *ctype = "";
  if (t->cv.verify != P2PQ_VERIFY_CA)
    ctype = t->cv.raw_public_key
                ? (t->cv.is_server ? ":+CTYPE-SRV-RAWPK:+CTYPE-CLI-RAWPK:+CTYPE-CLI-X509"
                                   : ":+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK:+CTYPE-SRV-X509")
                : ":+CTYPE-SRV-X509:+CTYPE-SRV-RAWPK:+CTYPE-CLI-X509:+CTYPE-CLI-RAWPK";
  snprintf(prio, sizeof(prio), "%s%s", TLS_PRIO_BASE, ctype);
  return gnutls_priority_set_direct(t->s, prio, NULL) < 0 ? P2PQ_ERR_TLS : 0;
}

static int tls_set_alpn(p2pq_tls *t, const p2pq_tls_config *cfg) {
  gnutls_datum_t *d;
  size_t i;
  int rv;
  unsigned flags = t->cv.is_server ? GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE : 0;
  if (cfg->n_alpn == 0)
    return 0;
  if (!cfg->alpn || cfg->n_alpn > 64)
    return P2PQ_ERR_CONFIG;
  d = calloc(cfg->n_alpn, sizeof(*d));
  if (!d)
    return P2PQ_ERR_NOMEM;
  for (i = 0; i < cfg->n_alpn; i++) {
    size_t n = cfg->alpn[i] ? strlen(cfg->alpn[i]) : 0;
    if (n == 0 || n > TLS_ALPN_MAX) {
      free(d);
      return P2PQ_ERR_CONFIG;
    }
    d[i].data = (unsigned char *)(uintptr_t)cfg->alpn[i];
    d[i].size = (unsigned)n;
  }
  rv = gnutls_alpn_set_protocols(t->s, d, (unsigned)cfg->n_alpn, flags);
  free(d);
  t->want_alpn = 1;
  return rv < 0 ? P2PQ_ERR_CONFIG : 0;
}

static int tls_set_identity(p2pq_tls *t, const p2pq_tls_config *cfg) {
  if (!t->cv.is_server && t->cv.verify == P2PQ_VERIFY_CA && (!cfg->sni || !*cfg->sni))
    return P2PQ_ERR_CONFIG; /* a chain without a name to check proves nothing */
  if (gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, t->cv.gnutls_cred) < 0)
    return P2PQ_ERR_TLS;
  if (cfg->sni && !t->cv.is_server) {
    t->sni = strdup(cfg->sni);
    if (!t->sni)
      return P2PQ_ERR_NOMEM;
    if (!is_ip_literal(cfg->sni) &&
        gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, cfg->sni, strlen(cfg->sni)) < 0)
      return P2PQ_ERR_CONFIG;
  }
  if (t->cv.is_server && t->cv.require_client_auth)
    gnutls_certificate_server_set_request(t->s, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_verify_function(t->s, tls_verify_cb);
  return 0;
}

static int tls_set_hooks(p2pq_tls *t) {
  gnutls_session_set_ptr(t->s, t);
  gnutls_handshake_set_secret_function(t->s, tls_secret_cb);
  gnutls_handshake_set_read_function(t->s, tls_read_cb);
  gnutls_alert_set_read_function(t->s, tls_alert_cb);
  gnutls_session_set_keylog_function(t->s, tls_keylog_cb);
  gnutls_handshake_set_hook_function(t->s, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_POST,
                                     tls_hook_cb);
  if (gnutls_session_ext_register(t->s, "quic_transport_parameters",
                                  P2PQ_TLS_EXT_QUIC_TRANSPORT_PARAMS, GNUTLS_EXT_TLS,
                                  tls_ext_recv, tls_ext_send, NULL, NULL, NULL,
                                  GNUTLS_EXT_FLAG_TLS | GNUTLS_EXT_FLAG_CLIENT_HELLO |
                                      GNUTLS_EXT_FLAG_EE) < 0)
    return P2PQ_ERR_TLS;
  return 0;
}

static int tls_setup(p2pq_tls *t, const p2pq_tls_config *cfg) {
  unsigned flags = (t->cv.is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
                   GNUTLS_NO_END_OF_EARLY_DATA | GNUTLS_NO_TICKETS | GNUTLS_NO_AUTO_SEND_TICKET;
  int rv;
  if (t->cv.verify != P2PQ_VERIFY_CA)
    flags |= GNUTLS_ENABLE_RAWPK;
  if (cfg->local_params_len) {
    t->local_params = malloc(cfg->local_params_len);
    if (!t->local_params)
      return P2PQ_ERR_NOMEM;
    memcpy(t->local_params, cfg->local_params, cfg->local_params_len);
    t->local_params_len = cfg->local_params_len;
  }
  if (gnutls_init(&t->s, flags) < 0) {
    t->s = NULL;
    return P2PQ_ERR_NOMEM;
  }
  if ((rv = tls_set_priority(t)) < 0 || (rv = tls_set_alpn(t, cfg)) < 0 ||
      (rv = tls_set_identity(t, cfg)) < 0 || (rv = tls_set_hooks(t)) < 0)
    return rv;
  return 0;
}

int p2pq_tls_new(p2pq_tls **out, const p2pq_tls_config *cfg, const p2pq_tls_callbacks *cb) {
  p2pq_tls *t;
  int rv;
  if (!out || !cfg || !cb || !cfg->creds || (!cfg->local_params && cfg->local_params_len))
    return P2PQ_ERR_INVALID_ARG;
  *out = NULL;
  t = calloc(1, sizeof(*t));
  if (!t)
    return P2PQ_ERR_NOMEM;
  p2pq_creds_view(cfg->creds, &t->cv);
  t->cb = *cb;
  rv = tls_setup(t, cfg);
  if (rv < 0) {
    p2pq_tls_free(t);
    return rv;
  }
  *out = t;
  return 0;
}

void p2pq_tls_free(p2pq_tls *t) {
  if (!t)
    return;
  if (t->s)
    gnutls_deinit(t->s);
  free(t->sni);
  free(t->local_params);
  free(t);
}

static int is_auth_error(int grv) {
  switch (grv) {
  case GNUTLS_E_CERTIFICATE_ERROR:
  case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
  case GNUTLS_E_NO_CERTIFICATE_FOUND:
  case GNUTLS_E_CERTIFICATE_REQUIRED:
  case GNUTLS_E_PK_SIG_VERIFY_FAILED:
    return 1;
  default:
    return 0;
  }
}

/* Turns a fatal GnuTLS error into our sticky error and an alert to send. */
static int tls_fail(p2pq_tls *t, int grv) {
  int alevel, a;
  if (t->err)
    return t->err;
  a = gnutls_error_to_alert(grv, &alevel);
  if (!t->alert)
    t->alert = (uint8_t)(a >= 0 ? a : TLS_ALERT_INTERNAL_ERROR);
  if (t->auth_failed || is_auth_error(grv))
    t->err = P2PQ_ERR_PEER_AUTH;
  else
    t->err = a >= 0 ? P2PQ_ERR_TLS_ALERT : P2PQ_ERR_TLS;
  return t->err;
}

/* Runs the handshake as far as the input allows. */
static int tls_advance(p2pq_tls *t) {
  int grv;
  if (t->done)
    return 0;
  t->started = 1;
  grv = gnutls_handshake(t->s);
  if (grv == 0) {
    /* Belt and braces: the hook normally ran these checks already. */
    if (tls_check_extensions(t) < 0)
      return t->err;
    t->done = 1;
    return 0;
  }
  if (!gnutls_error_is_fatal(grv))
    return t->err ? t->err : 0;
  return tls_fail(t, grv);
}

/* Consumes data up to the end of the current handshake message (or of data);
 * *complete says whether a message ended there. Refuses a declared length
 * over TLS_MAX_HS_MSG so that a peer cannot make GnuTLS buffer a huge message. */
static int tls_frame_next(tls_framer *f, const uint8_t *data, size_t len, size_t *used,
                          int *complete) {
  p2pq_rd r;
  uint8_t b = 0;
  size_t n;
  p2pq_rd_init(&r, data, len);
  *complete = 0;
  while (p2pq_rd_left(&r) && !*complete) {
    if (f->hdr_len < 4) {
      p2pq_rd_u8(&r, &b);
      f->hdr[f->hdr_len] = b;
      if (f->hdr_len++ == 0) {
        f->type = b;
        f->body_left = 0;
        continue;
      }
      f->body_left = f->body_left << 8 | b;
      if (f->hdr_len < 4)
        continue;
      if (f->body_left > TLS_MAX_HS_MSG)
        return P2PQ_ERR_CRYPTO_BUFFER;
    } else {
      n = p2pq_rd_left(&r) < f->body_left ? p2pq_rd_left(&r) : f->body_left;
      p2pq_rd_skip(&r, n);
      f->body_left -= (uint32_t)n;
    }
    if (f->body_left == 0) {
      f->hdr_len = 0;
      *complete = 1;
    }
  }
  *used = (size_t)(r.p - data);
  return 0;
}

/* Errors that are ours, not GnuTLS's: sticky, no alert unless given. */
static int tls_fail_own(p2pq_tls *t, int rv, uint8_t alert) {
  if (!t->err) {
    t->err = rv;
    t->alert = alert;
  }
  return t->err;
}

/* GnuTLS 3.7.9 was seen to lose a message whose 4-byte header came split over
 * two gnutls_handshake_write calls, so header bytes are held back in the
 * framer until all four are here (bodies may come in any pieces). */
static int tls_write(p2pq_tls *t, p2pq_level level, const tls_framer *f, uint8_t held,
                     const uint8_t *data, size_t used) {
  gnutls_record_encryption_level_t gl = level_to_gnutls(level);
  int grv;
  if (f->hdr_len >= 1 && f->hdr_len <= 3) /* header still incomplete */
    return 0;
  if (held == 0)
    return gnutls_handshake_write(t->s, gl, data, used);
  grv = gnutls_handshake_write(t->s, gl, f->hdr, 4);
  if (grv < 0 || used == (size_t)(4 - held))
    return grv;
  return gnutls_handshake_write(t->s, gl, data + (4 - held), used - (size_t)(4 - held));
}

/* Hands GnuTLS one message (or the part of it that is here) at a time, so
 * that each message is read at the level GnuTLS expects (RFC 9001 section
 * 4.1.3: GnuTLS itself does not check). */
static int tls_feed(p2pq_tls *t, p2pq_level level, const uint8_t *data, size_t len) {
  tls_framer *f = &t->in[level];
  size_t used;
  int complete, rv, grv;
  /* The first gnutls_handshake() call sets up the read state: bytes written
   * before it would not be taken as the start of a message. */
  if (!t->started && (rv = tls_advance(t)) < 0)
    return rv;
  while (len) {
    uint8_t held = f->hdr_len < 4 ? f->hdr_len : 0; /* header bytes kept back */
    if (f->hdr_len == 0 && level != t->rx_level)
      return tls_fail_own(t, P2PQ_ERR_PROTOCOL, 0);
    rv = tls_frame_next(f, data, len, &used, &complete);
    if (rv < 0) /* CRYPTO_BUFFER_EXCEEDED, a transport error */
      return tls_fail_own(t, rv, 0);
    /* QUIC has its own key update and no EndOfEarlyData (RFC 9001 sec. 6, 8.3);
     * after the handshake only session tickets may come (no post-handshake
     * client auth, sec. 4.4), and without resumption we drop them unread. */
    if (f->type == TLS_HS_KEY_UPDATE || f->type == TLS_HS_END_OF_EARLY_DATA ||
        (t->done && f->type != TLS_HS_NEW_SESSION_TICKET))
      return tls_fail_own(t, P2PQ_ERR_TLS_ALERT, TLS_ALERT_UNEXPECTED_MESSAGE);
    grv = t->done ? 0 : tls_write(t, level, f, held, data, used);
    if (grv < 0)
      return tls_fail(t, grv);
    if (t->err) /* a callback failed inside post-handshake processing */
      return t->err;
    data += used;
    len -= used;
    if (complete && (rv = tls_advance(t)) < 0)
      return rv;
  }
  return 0;
}

int p2pq_tls_start(p2pq_tls *t) {
  if (!t)
    return P2PQ_ERR_INVALID_ARG;
  if (t->err)
    return t->err;
  if (t->cv.is_server)
    return 0;
  return tls_advance(t);
}

int p2pq_tls_recv(p2pq_tls *t, p2pq_level level, const uint8_t *data, size_t len) {
  if (!t || (!data && len) || (unsigned)level >= P2PQ_LEVEL_COUNT)
    return P2PQ_ERR_INVALID_ARG;
  if (t->err)
    return t->err;
  if (len)
    return tls_feed(t, level, data, len);
  return tls_advance(t);
}

int p2pq_tls_is_done(const p2pq_tls *t) { return t && t->done && !t->err; }

const char *p2pq_tls_alpn(const p2pq_tls *t) {
  return t && t->alpn[0] ? t->alpn : NULL;
}

int p2pq_tls_peer_fingerprint(const p2pq_tls *t, uint8_t out[32]) {
  const gnutls_datum_t *peers;
  unsigned n = 0;
  if (!t || !out)
    return P2PQ_ERR_INVALID_ARG;
  peers = gnutls_certificate_get_peers(t->s, &n);
  if (!peers || n == 0)
    return P2PQ_ERR_NOT_FOUND;
  switch (gnutls_certificate_type_get2(t->s, GNUTLS_CTYPE_PEERS)) {
  case GNUTLS_CRT_X509:
    return p2pq_fingerprint_from_cert_der(peers[0].data, peers[0].size, out);
  case GNUTLS_CRT_RAWPK:
    return p2pq_fingerprint_from_spki_der(peers[0].data, peers[0].size, out);
  default:
    return P2PQ_ERR_UNSUPPORTED;
  }
}

const char *p2pq_tls_peer_sni(const p2pq_tls *t) {
  return t && t->peer_sni[0] ? t->peer_sni : NULL;
}

uint8_t p2pq_tls_alert(const p2pq_tls *t) { return t ? t->alert : 0; }

int p2pq_tls_is_server(const p2pq_tls *t) { return t ? t->cv.is_server : 0; }
