/* TLS 1.3 handshake driver: a client and a server p2pq_tls connected in
 * memory, CRYPTO bytes of each level routed to the other side at that level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/cert.h"
#include "crypto/tls.h"
#include "p2pq/error.h"

#define QCAP 16384
#define MAX_KEYLOG 16

typedef struct side {
  p2pq_tls *t;
  uint8_t q[P2PQ_LEVEL_COUNT][QCAP]; /* bytes to deliver to the peer */
  size_t qlen[P2PQ_LEVEL_COUNT];
  uint8_t first_out[QCAP]; /* first flight at INITIAL (the ClientHello) */
  size_t first_out_len;
  uint8_t rx[P2PQ_LEVEL_COUNT][P2PQ_MAX_SECRET_LEN];
  uint8_t tx[P2PQ_LEVEL_COUNT][P2PQ_MAX_SECRET_LEN];
  size_t rx_len[P2PQ_LEVEL_COUNT], tx_len[P2PQ_LEVEL_COUNT];
  p2pq_aead_alg alg[P2PQ_LEVEL_COUNT];
  uint8_t params[1024];
  size_t params_len;
  int params_calls;
  int params_rv;
  char keylog[MAX_KEYLOG][300];
  int n_keylog;
  int rc; /* last p2pq_tls_recv result */
} side;

static int on_secret(void *user, p2pq_level level, p2pq_aead_alg alg, const uint8_t *rx,
                     const uint8_t *tx, size_t len) {
  side *s = user;
  assert_true(len <= P2PQ_MAX_SECRET_LEN);
  s->alg[level] = alg;
  if (rx) {
    memcpy(s->rx[level], rx, len);
    s->rx_len[level] = len;
  }
  if (tx) {
    memcpy(s->tx[level], tx, len);
    s->tx_len[level] = len;
  }
  return 0;
}

static int on_crypto_out(void *user, p2pq_level level, const uint8_t *data, size_t len) {
  side *s = user;
  assert_true(s->qlen[level] + len <= QCAP);
  memcpy(s->q[level] + s->qlen[level], data, len);
  s->qlen[level] += len;
  if (level == P2PQ_LEVEL_INITIAL && s->first_out_len == 0) {
    memcpy(s->first_out, data, len);
    s->first_out_len = len;
  }
  return 0;
}

static int on_peer_params(void *user, const uint8_t *data, size_t len) {
  side *s = user;
  assert_true(len <= sizeof(s->params));
  memcpy(s->params, data, len);
  s->params_len = len;
  s->params_calls++;
  return s->params_rv;
}

static void on_keylog(void *user, const char *line) {
  side *s = user;
  assert_true(s->n_keylog < MAX_KEYLOG);
  assert_true(strlen(line) < sizeof(s->keylog[0]));
  strcpy(s->keylog[s->n_keylog++], line);
}

static const uint8_t CLIENT_PARAMS[] = {0x01, 0x02, 0x40, 0x64, 0x04, 0x04, 0x80, 0x10, 0x00, 0x00,
                                        0x0f, 0x04, 0xde, 0xad, 0xbe, 0xef};
static const uint8_t SERVER_PARAMS[] = {0x00, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                        0x08, 0x03, 0x02, 0x45, 0xc0, 0x0e, 0x01, 0x07};

static void side_new(side *s, const p2pq_creds *creds, const char *const *alpn, size_t n_alpn,
                     const char *sni, const uint8_t *params, size_t params_len) {
  p2pq_tls_config cfg = {creds, alpn, n_alpn, sni, params, params_len};
  p2pq_tls_callbacks cb = {s, on_secret, on_crypto_out, on_peer_params, on_keylog};
  memset(s, 0, sizeof(*s));
  assert_int_equal(p2pq_tls_new(&s->t, &cfg, &cb), 0);
}

static size_t g_chunk; /* 0: whole queue at once; else deliver in pieces this big */

/* Delivers n bytes to a side, in pieces of g_chunk bytes if set. */
static int deliver(side *to, p2pq_level l, const uint8_t *p, size_t n) {
  size_t step = g_chunk ? g_chunk : n;
  int rc = 0;
  for (size_t off = 0; off < n && rc == 0; off += step)
    rc = p2pq_tls_recv(to->t, l, p + off, n - off < step ? n - off : step);
  return rc;
}

/* Moves queued bytes from one side to the other until nothing moves or a side
 * fails. Returns the number of rounds. */
static int pump(side *c, side *s) {
  static uint8_t buf[QCAP];
  int rounds = 0, moved = 1;
  while (moved && rounds < 32) {
    moved = 0;
    rounds++;
    for (int dir = 0; dir < 2; dir++) {
      side *from = dir ? s : c, *to = dir ? c : s;
      for (int l = 0; l < P2PQ_LEVEL_COUNT; l++) {
        size_t n = from->qlen[l];
        if (!n || to->rc < 0)
          continue;
        memcpy(buf, from->q[l], n);
        from->qlen[l] = 0;
        to->rc = deliver(to, (p2pq_level)l, buf, n);
        moved = 1;
      }
    }
  }
  return rounds;
}

static void sides_free(side *c, side *s) {
  p2pq_tls_free(c->t);
  p2pq_tls_free(s->t);
}

/* Creds helpers. */
typedef struct pem {
  char *cert, *key;
  size_t cert_len, key_len;
} pem;

static void pem_self_signed(pem *p, const char *cn) {
  assert_int_equal(
      p2pq_cert_self_signed(cn, 3600, &p->cert, &p->cert_len, &p->key, &p->key_len), 0);
}

static void pem_ed25519(pem *p) {
  p->cert = NULL;
  p->cert_len = 0;
  assert_int_equal(p2pq_key_generate_ed25519(&p->key, &p->key_len), 0);
}

static void pem_free(pem *p) {
  free(p->cert);
  free(p->key);
}

static p2pq_creds *creds_x509_server(const pem *p) {
  p2pq_creds *c;
  p2pq_creds_config cfg = {0};
  cfg.is_server = 1;
  cfg.cert_pem = p->cert;
  cfg.cert_pem_len = p->cert_len;
  cfg.key_pem = p->key;
  cfg.key_pem_len = p->key_len;
  assert_int_equal(p2pq_creds_new(&c, &cfg), 0);
  return c;
}

static p2pq_creds *creds_client(p2pq_verify_mode mode, const uint8_t (*pins)[32],
                                size_t n_pins, const char *ca_file) {
  p2pq_creds *c;
  p2pq_creds_config cfg = {0};
  cfg.verify = mode;
  cfg.pins = pins;
  cfg.n_pins = n_pins;
  cfg.ca_file = ca_file;
  assert_int_equal(p2pq_creds_new(&c, &cfg), 0);
  return c;
}

static p2pq_creds *creds_rawpk(int is_server, const pem *key, const uint8_t (*pins)[32],
                               size_t n_pins, int require_client_auth) {
  p2pq_creds *c;
  p2pq_creds_config cfg = {0};
  cfg.is_server = is_server;
  cfg.raw_public_key = 1;
  cfg.key_pem = key->key;
  cfg.key_pem_len = key->key_len;
  cfg.verify = n_pins ? P2PQ_VERIFY_PIN : P2PQ_VERIFY_NONE;
  cfg.pins = pins;
  cfg.n_pins = n_pins;
  cfg.require_client_auth = require_client_auth;
  assert_int_equal(p2pq_creds_new(&c, &cfg), 0);
  return c;
}

static const char *const ALPN_C[] = {"p2pq/1", "h3"};
static const char *const ALPN_S[] = {"h3", "p2pq/1"};
static const char *const ALPN_OTHER[] = {"hq-interop"};

/* Runs a full handshake between two sides built from the given creds. */
static void run(side *c, side *s, const p2pq_creds *cc, const p2pq_creds *sc, const char *sni,
                const char *const *calpn, size_t nc, const char *const *salpn, size_t ns) {
  side_new(c, cc, calpn, nc, sni, CLIENT_PARAMS, sizeof(CLIENT_PARAMS));
  side_new(s, sc, salpn, ns, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
  assert_true(p2pq_tls_is_server(s->t));
  assert_false(p2pq_tls_is_server(c->t));
  assert_int_equal(p2pq_tls_start(s->t), 0);
  assert_int_equal(s->qlen[P2PQ_LEVEL_INITIAL], 0);
  assert_int_equal(p2pq_tls_start(c->t), 0);
  assert_true(c->qlen[P2PQ_LEVEL_INITIAL] > 0);
  pump(c, s);
}

static void assert_secrets_match(const side *c, const side *s) {
  for (int l = P2PQ_LEVEL_HANDSHAKE; l <= P2PQ_LEVEL_APP; l++) {
    assert_true(c->tx_len[l] >= 32);
    assert_int_equal(c->tx_len[l], s->rx_len[l]);
    assert_int_equal(c->rx_len[l], s->tx_len[l]);
    assert_memory_equal(c->tx[l], s->rx[l], c->tx_len[l]);
    assert_memory_equal(c->rx[l], s->tx[l], c->rx_len[l]);
    assert_memory_not_equal(c->tx[l], c->rx[l], c->tx_len[l]);
    assert_int_equal(c->alg[l], s->alg[l]);
    assert_int_not_equal(c->alg[l], P2PQ_AEAD_NONE);
  }
  assert_memory_not_equal(c->tx[P2PQ_LEVEL_HANDSHAKE], c->tx[P2PQ_LEVEL_APP], 32);
}

static void assert_params_exchanged(const side *c, const side *s) {
  assert_int_equal(c->params_calls, 1);
  assert_int_equal(s->params_calls, 1);
  assert_int_equal(s->params_len, sizeof(CLIENT_PARAMS));
  assert_memory_equal(s->params, CLIENT_PARAMS, sizeof(CLIENT_PARAMS));
  assert_int_equal(c->params_len, sizeof(SERVER_PARAMS));
  assert_memory_equal(c->params, SERVER_PARAMS, sizeof(SERVER_PARAMS));
}

static void test_x509_pin(void **state) {
  pem sp;
  uint8_t fp[1][32], peer[32];
  p2pq_creds *sc, *cc;
  side c, s;
  (void)state;
  pem_self_signed(&sp, "server.test");
  assert_int_equal(p2pq_fingerprint_from_cert_pem(sp.cert, sp.cert_len, fp[0]), 0);
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_PIN, (const uint8_t(*)[32])fp, 1, NULL);
  run(&c, &s, cc, sc, "server.test", ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(c.rc, 0);
  assert_int_equal(s.rc, 0);
  assert_true(p2pq_tls_is_done(c.t));
  assert_true(p2pq_tls_is_done(s.t));
  assert_secrets_match(&c, &s);
  assert_params_exchanged(&c, &s);
  /* server preference wins */
  assert_string_equal(p2pq_tls_alpn(c.t), "h3");
  assert_string_equal(p2pq_tls_alpn(s.t), "h3");
  assert_int_equal(p2pq_tls_peer_fingerprint(c.t, peer), 0);
  assert_memory_equal(peer, fp[0], 32);
  assert_int_equal(p2pq_tls_peer_fingerprint(s.t, peer), P2PQ_ERR_NOT_FOUND);
  assert_string_equal(p2pq_tls_peer_sni(s.t), "server.test");
  assert_true(s.first_out_len > 4);
  assert_int_equal(s.first_out[0], 2); /* ServerHello */
  if (getenv("P2PQ_DUMP_SERVER_HELLO")) { /* seed of fuzz_tls_client: level byte + SH */
    FILE *f = fopen(getenv("P2PQ_DUMP_SERVER_HELLO"), "wb");
    assert_non_null(f);
    assert_int_equal(fputc(0, f), 0);
    assert_int_equal(fwrite(s.first_out, 1, s.first_out_len, f), s.first_out_len);
    fclose(f);
  }
  assert_null(p2pq_tls_peer_sni(c.t));
  assert_int_equal(p2pq_tls_alert(c.t), 0);
  assert_int_equal(p2pq_tls_alert(s.t), 0);
  sides_free(&c, &s);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

/* The same handshake with CRYPTO data cut into small pieces. */
static void test_fragmented(void **state) {
  static const size_t chunks[] = {1, 3, 5, 64};
  pem sp;
  p2pq_creds *sc, *cc;
  side c, s;
  (void)state;
  pem_self_signed(&sp, "server.test");
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);
  for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    g_chunk = chunks[i];
    run(&c, &s, cc, sc, NULL, ALPN_C, 2, ALPN_S, 2);
    assert_int_equal(c.rc, 0);
    assert_int_equal(s.rc, 0);
    assert_true(p2pq_tls_is_done(c.t) && p2pq_tls_is_done(s.t));
    assert_secrets_match(&c, &s);
    assert_params_exchanged(&c, &s);
    sides_free(&c, &s);
  }
  g_chunk = 0;
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

/* After the handshake: TLS KeyUpdate is forbidden in QUIC (RFC 9001 sec. 6). */
static void test_post_handshake(void **state) {
  static const uint8_t key_update[] = {24, 0, 0, 1, 0};
  static const uint8_t ticket[] = {4,    0, 0, 16, 0, 0, 0x0e, 0x10, 1, 2, 3, 4, 1,
                                   0x42, 0, 2, 0xaa, 0xbb, 0, 0};
  static const uint8_t cert_req[] = {13, 0, 0, 4, 0, 0, 0, 0};
  pem sp;
  p2pq_creds *sc, *cc;
  side c, s;
  (void)state;
  pem_self_signed(&sp, "server.test");
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);
  run(&c, &s, cc, sc, NULL, ALPN_C, 2, ALPN_S, 2);
  assert_true(p2pq_tls_is_done(c.t) && p2pq_tls_is_done(s.t));
  /* the server sends nothing after its flight (no session tickets) */
  for (int l = 0; l < P2PQ_LEVEL_COUNT; l++)
    assert_int_equal(s.qlen[l] + c.qlen[l], 0);
  /* session tickets are dropped (no resumption), in any fragmentation */
  for (size_t i = 0; i < sizeof(ticket); i++)
    assert_int_equal(p2pq_tls_recv(c.t, P2PQ_LEVEL_APP, ticket + i, 1), 0);
  assert_int_equal(p2pq_tls_recv(c.t, P2PQ_LEVEL_APP, ticket, sizeof(ticket)), 0);
  assert_true(p2pq_tls_is_done(c.t));
  assert_int_equal(p2pq_tls_recv(c.t, P2PQ_LEVEL_APP, key_update, sizeof(key_update)),
                   P2PQ_ERR_TLS_ALERT);
  assert_int_equal(p2pq_tls_alert(c.t), 10);
  assert_false(p2pq_tls_is_done(c.t));
  /* post-handshake client authentication is not allowed in QUIC either */
  assert_int_equal(p2pq_tls_recv(s.t, P2PQ_LEVEL_APP, cert_req, sizeof(cert_req)),
                   P2PQ_ERR_TLS_ALERT);
  assert_int_equal(p2pq_tls_alert(s.t), 10);
  sides_free(&c, &s);
  /* handshake-level data after the handshake is at the wrong level */
  run(&c, &s, cc, sc, NULL, ALPN_C, 2, ALPN_S, 2);
  assert_true(p2pq_tls_is_done(s.t));
  assert_int_equal(p2pq_tls_recv(s.t, P2PQ_LEVEL_HANDSHAKE, ticket, sizeof(ticket)),
                   P2PQ_ERR_PROTOCOL);
  sides_free(&c, &s);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

static void test_x509_insecure(void **state) {
  pem sp;
  p2pq_creds *sc, *cc;
  side c, s;
  (void)state;
  pem_self_signed(&sp, "server.test");
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);
  run(&c, &s, cc, sc, NULL, ALPN_C, 2, ALPN_S + 1, 1);
  assert_int_equal(c.rc, 0);
  assert_int_equal(s.rc, 0);
  assert_true(p2pq_tls_is_done(c.t) && p2pq_tls_is_done(s.t));
  assert_secrets_match(&c, &s);
  assert_params_exchanged(&c, &s);
  assert_string_equal(p2pq_tls_alpn(c.t), "p2pq/1");
  assert_null(p2pq_tls_peer_sni(s.t)); /* the client sent none */
  sides_free(&c, &s);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

static void test_wrong_pin(void **state) {
  pem sp;
  uint8_t fp[2][32];
  p2pq_creds *sc, *cc;
  side c, s;
  (void)state;
  pem_self_signed(&sp, "server.test");
  assert_int_equal(p2pq_fingerprint_from_cert_pem(sp.cert, sp.cert_len, fp[0]), 0);
  fp[0][31] ^= 1;
  memset(fp[1], 0x5a, 32);
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_PIN, (const uint8_t(*)[32])fp, 2, NULL);
  run(&c, &s, cc, sc, "server.test", ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(c.rc, P2PQ_ERR_PEER_AUTH);
  assert_false(p2pq_tls_is_done(c.t));
  assert_false(p2pq_tls_is_done(s.t));
  assert_int_equal(p2pq_tls_alert(c.t), 42); /* bad_certificate */
  /* no application secrets were handed out to the failed client */
  assert_int_equal(c.tx_len[P2PQ_LEVEL_APP], 0);
  /* sticky */
  assert_int_equal(p2pq_tls_recv(c.t, P2PQ_LEVEL_HANDSHAKE, (const uint8_t *)"x", 1),
                   P2PQ_ERR_PEER_AUTH);
  sides_free(&c, &s);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

static void test_alpn_mismatch(void **state) {
  pem sp;
  p2pq_creds *sc, *cc;
  side c, s;
  (void)state;
  pem_self_signed(&sp, "server.test");
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);
  run(&c, &s, cc, sc, NULL, ALPN_OTHER, 1, ALPN_S, 2);
  assert_int_equal(s.rc, P2PQ_ERR_TLS_ALERT);
  assert_int_equal(p2pq_tls_alert(s.t), 120);
  assert_false(p2pq_tls_is_done(s.t));
  assert_null(p2pq_tls_alpn(s.t));
  sides_free(&c, &s);
  /* a client offering no ALPN at all is refused the same way */
  run(&c, &s, cc, sc, NULL, NULL, 0, ALPN_S, 2);
  assert_int_equal(s.rc, P2PQ_ERR_TLS_ALERT);
  assert_int_equal(p2pq_tls_alert(s.t), 120);
  sides_free(&c, &s);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

static void test_rawpk_mutual(void **state) {
  pem sk, ck, other;
  uint8_t sfp[1][32], cfp[1][32], peer[32];
  p2pq_creds *sc, *cc, *bad;
  side c, s;
  (void)state;
  pem_ed25519(&sk);
  pem_ed25519(&ck);
  pem_ed25519(&other);
  assert_int_equal(p2pq_fingerprint_from_key_pem(sk.key, sk.key_len, sfp[0]), 0);
  assert_int_equal(p2pq_fingerprint_from_key_pem(ck.key, ck.key_len, cfp[0]), 0);
  sc = creds_rawpk(1, &sk, (const uint8_t(*)[32])cfp, 1, 1);
  cc = creds_rawpk(0, &ck, (const uint8_t(*)[32])sfp, 1, 0);
  run(&c, &s, cc, sc, NULL, ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(c.rc, 0);
  assert_int_equal(s.rc, 0);
  assert_true(p2pq_tls_is_done(c.t) && p2pq_tls_is_done(s.t));
  assert_secrets_match(&c, &s);
  assert_params_exchanged(&c, &s);
  assert_int_equal(p2pq_tls_peer_fingerprint(c.t, peer), 0);
  assert_memory_equal(peer, sfp[0], 32);
  assert_int_equal(p2pq_tls_peer_fingerprint(s.t, peer), 0);
  assert_memory_equal(peer, cfp[0], 32);
  sides_free(&c, &s);

  /* a client with a key the server did not pin is refused by the server */
  bad = creds_rawpk(0, &other, (const uint8_t(*)[32])sfp, 1, 0);
  run(&c, &s, bad, sc, NULL, ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(s.rc, P2PQ_ERR_PEER_AUTH);
  assert_false(p2pq_tls_is_done(s.t));
  assert_int_equal(p2pq_tls_alert(s.t), 42);
  assert_int_equal(s.tx_len[P2PQ_LEVEL_APP] != 0 && s.rx_len[P2PQ_LEVEL_APP] != 0, 0);
  sides_free(&c, &s);
  p2pq_creds_free(bad);

  /* a client with no key at all is refused too */
  bad = creds_client(P2PQ_VERIFY_PIN, (const uint8_t(*)[32])sfp, 1, NULL);
  run(&c, &s, bad, sc, NULL, ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(s.rc, P2PQ_ERR_PEER_AUTH);
  assert_int_equal(p2pq_tls_alert(s.t), 116); /* certificate_required */
  assert_false(p2pq_tls_is_done(s.t));
  sides_free(&c, &s);
  p2pq_creds_free(bad);

  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sk);
  pem_free(&ck);
  pem_free(&other);
}

/* X.509 server, raw-public-key client, pins both ways. */
static void test_mixed_x509_rawpk(void **state) {
  pem sp, ck;
  uint8_t sfp[1][32], cfp[1][32], peer[32];
  p2pq_creds *sc, *cc;
  p2pq_creds_config cfg = {0};
  side c, s;
  (void)state;
  pem_self_signed(&sp, "server.test");
  pem_ed25519(&ck);
  assert_int_equal(p2pq_fingerprint_from_cert_pem(sp.cert, sp.cert_len, sfp[0]), 0);
  assert_int_equal(p2pq_fingerprint_from_key_pem(ck.key, ck.key_len, cfp[0]), 0);
  cfg.is_server = 1;
  cfg.cert_pem = sp.cert;
  cfg.cert_pem_len = sp.cert_len;
  cfg.key_pem = sp.key;
  cfg.key_pem_len = sp.key_len;
  cfg.verify = P2PQ_VERIFY_PIN;
  cfg.pins = (const uint8_t(*)[32])cfp;
  cfg.n_pins = 1;
  cfg.require_client_auth = 1;
  assert_int_equal(p2pq_creds_new(&sc, &cfg), 0);
  cc = creds_rawpk(0, &ck, (const uint8_t(*)[32])sfp, 1, 0);
  run(&c, &s, cc, sc, "server.test", ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(c.rc, 0);
  assert_int_equal(s.rc, 0);
  assert_true(p2pq_tls_is_done(c.t) && p2pq_tls_is_done(s.t));
  assert_secrets_match(&c, &s);
  assert_int_equal(p2pq_tls_peer_fingerprint(c.t, peer), 0);
  assert_memory_equal(peer, sfp[0], 32);
  assert_int_equal(p2pq_tls_peer_fingerprint(s.t, peer), 0);
  assert_memory_equal(peer, cfp[0], 32);
  sides_free(&c, &s);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
  pem_free(&ck);
}

/* A test CA made with GnuTLS: a self-signed root written to a temp file. */
typedef struct ca_fixture {
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  char path[64];
} ca_fixture;

static void crt_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn,
                       unsigned char serial) {
  time_t now = time(NULL);
  assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
  assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
  assert_int_equal(gnutls_x509_crt_set_serial(crt, &serial, 1), 0);
  assert_int_equal(gnutls_x509_crt_set_activation_time(crt, now - 3600), 0);
  assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, now + 3600), 0);
  assert_int_equal(
      gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn)), 0);
}

static void ca_make(ca_fixture *ca) {
  gnutls_datum_t d;
  FILE *f;
  int fd;
  assert_int_equal(gnutls_x509_privkey_init(&ca->key), 0);
  assert_int_equal(gnutls_x509_privkey_generate(ca->key, GNUTLS_PK_EDDSA_ED25519, 256, 0), 0);
  assert_int_equal(gnutls_x509_crt_init(&ca->crt), 0);
  crt_common(ca->crt, ca->key, "p2pq test CA", 1);
  assert_int_equal(gnutls_x509_crt_set_basic_constraints(ca->crt, 1, -1), 0);
  assert_int_equal(gnutls_x509_crt_set_key_usage(ca->crt, GNUTLS_KEY_KEY_CERT_SIGN), 0);
  assert_int_equal(gnutls_x509_crt_sign2(ca->crt, ca->crt, ca->key, GNUTLS_DIG_SHA512, 0), 0);
  assert_int_equal(gnutls_x509_crt_export2(ca->crt, GNUTLS_X509_FMT_PEM, &d), 0);
  strcpy(ca->path, "/tmp/p2pq-test-ca-XXXXXX");
  fd = mkstemp(ca->path);
  assert_true(fd >= 0);
  f = fdopen(fd, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(d.data, 1, d.size, f), d.size);
  fclose(f);
  gnutls_free(d.data);
}

static void ca_free(ca_fixture *ca) {
  unlink(ca->path);
  gnutls_x509_crt_deinit(ca->crt);
  gnutls_x509_privkey_deinit(ca->key);
}

/* Issues an end-entity certificate for name (also its DNS SAN) with the given
 * TLS key purpose. */
static void ca_issue(ca_fixture *ca, const char *name, const char *purpose, unsigned char serial,
                     pem *out) {
  gnutls_x509_privkey_t k;
  gnutls_x509_crt_t crt;
  gnutls_datum_t d;
  assert_int_equal(gnutls_x509_privkey_init(&k), 0);
  assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_EDDSA_ED25519, 256, 0), 0);
  assert_int_equal(gnutls_x509_crt_init(&crt), 0);
  crt_common(crt, k, name, serial);
  assert_int_equal(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
                                                        strlen(name), GNUTLS_FSAN_SET),
                   0);
  assert_int_equal(gnutls_x509_crt_set_basic_constraints(crt, 0, -1), 0);
  assert_int_equal(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), 0);
  assert_int_equal(gnutls_x509_crt_set_key_purpose_oid(crt, purpose, 0), 0);
  assert_int_equal(gnutls_x509_crt_sign2(crt, ca->crt, ca->key, GNUTLS_DIG_SHA512, 0), 0);
  assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d), 0);
  out->cert = strndup((char *)d.data, d.size);
  out->cert_len = d.size;
  gnutls_free(d.data);
  assert_int_equal(
      gnutls_x509_privkey_export2_pkcs8(k, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d), 0);
  out->key = strndup((char *)d.data, d.size);
  out->key_len = d.size;
  gnutls_free(d.data);
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_privkey_deinit(k);
}

static p2pq_creds *creds_x509(int is_server, const pem *p, p2pq_verify_mode verify,
                              const char *ca_file, int require_client_auth) {
  p2pq_creds *c;
  p2pq_creds_config cfg = {0};
  cfg.is_server = is_server;
  cfg.cert_pem = p->cert;
  cfg.cert_pem_len = p->cert_len;
  cfg.key_pem = p->key;
  cfg.key_pem_len = p->key_len;
  cfg.verify = verify;
  cfg.ca_file = ca_file;
  cfg.require_client_auth = require_client_auth;
  assert_int_equal(p2pq_creds_new(&c, &cfg), 0);
  return c;
}

static void test_ca(void **state) {
  ca_fixture ca;
  pem sp, self;
  p2pq_creds *sc, *cc, *sc_self;
  side c, s;
  (void)state;
  ca_make(&ca);
  ca_issue(&ca, "localhost", GNUTLS_KP_TLS_WWW_SERVER, 2, &sp);
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_CA, NULL, 0, ca.path);
  run(&c, &s, cc, sc, "localhost", ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(c.rc, 0);
  assert_int_equal(s.rc, 0);
  assert_true(p2pq_tls_is_done(c.t) && p2pq_tls_is_done(s.t));
  assert_secrets_match(&c, &s);
  sides_free(&c, &s);

  /* right chain, wrong name */
  run(&c, &s, cc, sc, "example.org", ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(c.rc, P2PQ_ERR_PEER_AUTH);
  assert_false(p2pq_tls_is_done(c.t));
  assert_int_equal(p2pq_tls_alert(c.t), 42);
  sides_free(&c, &s);

  /* CA mode needs a name to check */
  {
    p2pq_tls *t = NULL;
    p2pq_tls_config cfg = {cc, ALPN_C, 2, NULL, CLIENT_PARAMS, sizeof(CLIENT_PARAMS)};
    p2pq_tls_callbacks cb = {&c, on_secret, on_crypto_out, on_peer_params, NULL};
    assert_int_equal(p2pq_tls_new(&t, &cfg, &cb), P2PQ_ERR_CONFIG);
    assert_null(t);
  }

  /* right name, not issued by the CA */
  pem_self_signed(&self, "localhost");
  sc_self = creds_x509_server(&self);
  run(&c, &s, cc, sc_self, "localhost", ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(c.rc, P2PQ_ERR_PEER_AUTH);
  sides_free(&c, &s);

  p2pq_creds_free(sc_self);
  pem_free(&self);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
  ca_free(&ca);
}

/* A server that requires client certificates issued by its CA. */
static void test_ca_client_auth(void **state) {
  ca_fixture ca;
  pem sp, cp, cp_server_only, self;
  p2pq_creds *sc, *cc, *bad;
  side c, s;
  (void)state;
  ca_make(&ca);
  ca_issue(&ca, "localhost", GNUTLS_KP_TLS_WWW_SERVER, 2, &sp);
  ca_issue(&ca, "client-1", GNUTLS_KP_TLS_WWW_CLIENT, 3, &cp);
  ca_issue(&ca, "client-2", GNUTLS_KP_TLS_WWW_SERVER, 4, &cp_server_only);
  sc = creds_x509(1, &sp, P2PQ_VERIFY_CA, ca.path, 1);
  cc = creds_x509(0, &cp, P2PQ_VERIFY_CA, ca.path, 0);
  run(&c, &s, cc, sc, "localhost", ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(c.rc, 0);
  assert_int_equal(s.rc, 0);
  assert_true(p2pq_tls_is_done(c.t) && p2pq_tls_is_done(s.t));
  sides_free(&c, &s);

  /* a CA certificate that is not meant for client authentication */
  bad = creds_x509(0, &cp_server_only, P2PQ_VERIFY_CA, ca.path, 0);
  run(&c, &s, bad, sc, "localhost", ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(s.rc, P2PQ_ERR_PEER_AUTH);
  assert_int_equal(p2pq_tls_alert(s.t), 42); /* sent, and refused: bad_certificate */
  sides_free(&c, &s);
  p2pq_creds_free(bad);

  /* a self-signed client certificate: GnuTLS does not even send it, as the
   * CertificateRequest names the CA and this certificate is not from it */
  pem_self_signed(&self, "client-1");
  bad = creds_x509(0, &self, P2PQ_VERIFY_CA, ca.path, 0);
  run(&c, &s, bad, sc, "localhost", ALPN_C, 2, ALPN_S, 2);
  assert_int_equal(s.rc, P2PQ_ERR_PEER_AUTH);
  assert_int_equal(p2pq_tls_alert(s.t), 116); /* certificate_required */
  sides_free(&c, &s);
  p2pq_creds_free(bad);

  pem_free(&self);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
  pem_free(&cp);
  pem_free(&cp_server_only);
  ca_free(&ca);
}

static int keylog_find(const side *s, const char *label, const char **rest) {
  size_t n = strlen(label);
  for (int i = 0; i < s->n_keylog; i++)
    if (strncmp(s->keylog[i], label, n) == 0 && s->keylog[i][n] == ' ') {
      *rest = s->keylog[i] + n + 1;
      return 1;
    }
  return 0;
}

static void hex(const uint8_t *p, size_t n, char *out) {
  for (size_t i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_keylog(void **state) {
  static const char *labels[] = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                                 "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                                 "SERVER_TRAFFIC_SECRET_0"};
  pem sp;
  p2pq_creds *sc, *cc;
  side c, s;
  const char *cr, *sr;
  char h[2 * P2PQ_MAX_SECRET_LEN + 1];
  (void)state;
  pem_self_signed(&sp, "server.test");
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);
  run(&c, &s, cc, sc, NULL, ALPN_C, 2, ALPN_S, 2);
  assert_true(p2pq_tls_is_done(c.t) && p2pq_tls_is_done(s.t));
  for (size_t i = 0; i < 4; i++) {
    assert_true(keylog_find(&c, labels[i], &cr));
    assert_true(keylog_find(&s, labels[i], &sr));
    /* same line on both sides: same client random, same secret */
    assert_string_equal(cr, sr);
    assert_int_equal(cr[64], ' ');
    for (int k = 0; k < 64; k++)
      assert_non_null(strchr("0123456789abcdef", cr[k]));
  }
  /* the logged secrets are the ones handed to on_secret */
  assert_true(keylog_find(&c, labels[0], &cr));
  hex(c.tx[P2PQ_LEVEL_HANDSHAKE], c.tx_len[P2PQ_LEVEL_HANDSHAKE], h);
  assert_string_equal(cr + 65, h);
  assert_true(keylog_find(&c, labels[3], &cr));
  hex(c.rx[P2PQ_LEVEL_APP], c.rx_len[P2PQ_LEVEL_APP], h);
  assert_string_equal(cr + 65, h);
  sides_free(&c, &s);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

static void test_params_rejected_by_callback(void **state) {
  pem sp;
  p2pq_creds *sc, *cc;
  side c, s;
  (void)state;
  pem_self_signed(&sp, "server.test");
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);
  side_new(&c, cc, ALPN_C, 2, NULL, CLIENT_PARAMS, sizeof(CLIENT_PARAMS));
  side_new(&s, sc, ALPN_S, 2, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
  s.params_rv = P2PQ_ERR_TRANSPORT_PARAM;
  assert_int_equal(p2pq_tls_start(c.t), 0);
  pump(&c, &s);
  assert_int_equal(s.rc, P2PQ_ERR_TRANSPORT_PARAM);
  assert_false(p2pq_tls_is_done(s.t));
  assert_int_equal(s.qlen[P2PQ_LEVEL_HANDSHAKE], 0);
  sides_free(&c, &s);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

/* A plain GnuTLS client without the quic_transport_parameters extension. */
static int plain_read_cb(gnutls_session_t sess, gnutls_record_encryption_level_t level,
                         gnutls_handshake_description_t htype, const void *data, size_t len) {
  side *s = gnutls_session_get_ptr(sess);
  return on_crypto_out(s, P2PQ_LEVEL_INITIAL, data, len);
}

static void test_missing_params(void **state) {
  pem sp;
  p2pq_creds *sc;
  gnutls_session_t g;
  gnutls_certificate_credentials_t gc;
  gnutls_datum_t alpn = {(unsigned char *)"h3", 2};
  side plain, s;
  (void)state;
  pem_self_signed(&sp, "server.test");
  sc = creds_x509_server(&sp);
  memset(&plain, 0, sizeof(plain));
  assert_int_equal(gnutls_certificate_allocate_credentials(&gc), 0);
  assert_int_equal(gnutls_init(&g, GNUTLS_CLIENT | GNUTLS_NO_END_OF_EARLY_DATA), 0);
  assert_int_equal(gnutls_priority_set_direct(g, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL), 0);
  assert_int_equal(gnutls_credentials_set(g, GNUTLS_CRD_CERTIFICATE, gc), 0);
  assert_int_equal(gnutls_alpn_set_protocols(g, &alpn, 1, 0), 0);
  gnutls_session_set_ptr(g, &plain);
  gnutls_handshake_set_read_function(g, plain_read_cb);
  assert_int_equal(gnutls_handshake(g), GNUTLS_E_AGAIN);
  assert_true(plain.qlen[P2PQ_LEVEL_INITIAL] > 0);

  side_new(&s, sc, ALPN_S, 2, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
  s.rc = p2pq_tls_recv(s.t, P2PQ_LEVEL_INITIAL, plain.q[0], plain.qlen[0]);
  assert_int_equal(s.rc, P2PQ_ERR_TLS_ALERT);
  assert_int_equal(p2pq_tls_alert(s.t), 109);
  assert_int_equal(s.params_calls, 0);
  p2pq_tls_free(s.t);
  gnutls_deinit(g);
  gnutls_certificate_free_credentials(gc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

/* Callbacks of a plain GnuTLS QUIC server (see plain_server_new). */
static int plain_srv_read_cb(gnutls_session_t sess, gnutls_record_encryption_level_t level,
                             gnutls_handshake_description_t htype, const void *data,
                             size_t len) {
  side *s = gnutls_session_get_ptr(sess);
  p2pq_level l = level == GNUTLS_ENCRYPTION_LEVEL_INITIAL     ? P2PQ_LEVEL_INITIAL
                 : level == GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE ? P2PQ_LEVEL_HANDSHAKE
                                                              : P2PQ_LEVEL_APP;
  return on_crypto_out(s, l, data, len);
}
static int plain_srv_secret_cb(gnutls_session_t sess, gnutls_record_encryption_level_t level,
                               const void *rx, const void *tx, size_t len) {
  return 0;
}
static int plain_ext_recv(gnutls_session_t sess, const unsigned char *data, size_t len) {
  return on_peer_params(gnutls_session_get_ptr(sess), data, len);
}
static int plain_ext_send(gnutls_session_t sess, gnutls_buffer_t buf) {
  return gnutls_buffer_append_data(buf, SERVER_PARAMS, sizeof(SERVER_PARAMS));
}

/* A plain GnuTLS QUIC server for the tests below. */
typedef struct plain_server {
  gnutls_session_t g;
  gnutls_certificate_credentials_t gc;
  pem pem;
  side out;
  int grv; /* last gnutls_handshake() result */
  int initial_flights; /* CRYPTO deliveries from the client at INITIAL */
} plain_server;

static void plain_server_new(plain_server *ps, const char *prio, int with_params,
                             int with_alpn) {
  gnutls_datum_t cd, kd, alpn = {(unsigned char *)"h3", 2};
  memset(ps, 0, sizeof(*ps));
  ps->grv = GNUTLS_E_AGAIN;
  pem_self_signed(&ps->pem, "server.test");
  cd.data = (unsigned char *)ps->pem.cert;
  cd.size = (unsigned)ps->pem.cert_len;
  kd.data = (unsigned char *)ps->pem.key;
  kd.size = (unsigned)ps->pem.key_len;
  assert_int_equal(gnutls_certificate_allocate_credentials(&ps->gc), 0);
  assert_int_equal(
      gnutls_certificate_set_x509_key_mem2(ps->gc, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0), 0);
  assert_int_equal(
      gnutls_init(&ps->g, GNUTLS_SERVER | GNUTLS_NO_END_OF_EARLY_DATA | GNUTLS_NO_TICKETS), 0);
  assert_int_equal(gnutls_priority_set_direct(ps->g, prio, NULL), 0);
  assert_int_equal(gnutls_credentials_set(ps->g, GNUTLS_CRD_CERTIFICATE, ps->gc), 0);
  if (with_alpn)
    assert_int_equal(gnutls_alpn_set_protocols(ps->g, &alpn, 1, 0), 0);
  gnutls_session_set_ptr(ps->g, &ps->out);
  gnutls_handshake_set_read_function(ps->g, plain_srv_read_cb);
  gnutls_handshake_set_secret_function(ps->g, plain_srv_secret_cb);
  if (with_params)
    assert_int_equal(gnutls_session_ext_register(
                         ps->g, "qtp", 0x39, GNUTLS_EXT_TLS, plain_ext_recv, plain_ext_send,
                         NULL, NULL, NULL,
                         GNUTLS_EXT_FLAG_TLS | GNUTLS_EXT_FLAG_CLIENT_HELLO |
                             GNUTLS_EXT_FLAG_EE),
                     0);
  assert_int_equal(gnutls_handshake(ps->g), GNUTLS_E_AGAIN);
}

static void plain_server_free(plain_server *ps) {
  gnutls_deinit(ps->g);
  gnutls_certificate_free_credentials(ps->gc);
  pem_free(&ps->pem);
}

/* Runs our client against the plain server until neither has anything to say
 * or our client fails. */
static void plain_pump(side *c, plain_server *ps) {
  static const gnutls_record_encryption_level_t glevel[] = {
      GNUTLS_ENCRYPTION_LEVEL_INITIAL, GNUTLS_ENCRYPTION_LEVEL_EARLY,
      GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE, GNUTLS_ENCRYPTION_LEVEL_APPLICATION};
  for (int round = 0; round < 8 && c->rc == 0; round++) {
    for (int l = 0; l < P2PQ_LEVEL_COUNT; l++) {
      if (c->qlen[l] == 0)
        continue;
      if (l == P2PQ_LEVEL_INITIAL)
        ps->initial_flights++;
      assert_int_equal(gnutls_handshake_write(ps->g, glevel[l], c->q[l], c->qlen[l]), 0);
      c->qlen[l] = 0;
      ps->grv = gnutls_handshake(ps->g);
      assert_true(ps->grv == 0 || ps->grv == GNUTLS_E_AGAIN);
    }
    for (int l = 0; l < P2PQ_LEVEL_COUNT && c->rc == 0; l++) {
      if (ps->out.qlen[l] == 0)
        continue;
      c->rc = p2pq_tls_recv(c->t, (p2pq_level)l, ps->out.q[l], ps->out.qlen[l]);
      ps->out.qlen[l] = 0;
    }
  }
}

#define PLAIN_PRIO "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE"

/* A server that accepts only P-384 key shares, so that our client (which
 * offers X25519 / P-256 shares) gets a HelloRetryRequest. */
static void test_hello_retry(void **state) {
  p2pq_creds *cc;
  plain_server ps;
  side c;
  (void)state;
  plain_server_new(&ps, PLAIN_PRIO ":-GROUP-ALL:+GROUP-SECP384R1", 1, 1);
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);
  side_new(&c, cc, ALPN_C, 2, NULL, CLIENT_PARAMS, sizeof(CLIENT_PARAMS));
  assert_int_equal(p2pq_tls_start(c.t), 0);
  plain_pump(&c, &ps);
  assert_int_equal(c.rc, 0);
  assert_int_equal(ps.grv, 0);
  assert_true(p2pq_tls_is_done(c.t));
  assert_int_equal(ps.initial_flights, 2); /* ClientHello, then again after the HRR */
  assert_int_equal(ps.out.params_calls, 2); /* in both ClientHellos */
  assert_memory_equal(ps.out.params, CLIENT_PARAMS, sizeof(CLIENT_PARAMS));
  assert_memory_equal(c.params, SERVER_PARAMS, sizeof(SERVER_PARAMS));
  assert_string_equal(p2pq_tls_alpn(c.t), "h3");
  p2pq_tls_free(c.t);
  p2pq_creds_free(cc);
  plain_server_free(&ps);
}

/* Each QUIC v1 cipher suite maps to its AEAD and secret length. */
static void test_cipher_suites(void **state) {
  static const struct {
    const char *prio;
    p2pq_aead_alg alg;
    size_t secret_len;
  } cases[] = {
      {PLAIN_PRIO ":-CIPHER-ALL:+AES-128-GCM", P2PQ_AEAD_AES_128_GCM, 32},
      {PLAIN_PRIO ":-CIPHER-ALL:+AES-256-GCM", P2PQ_AEAD_AES_256_GCM, 48},
      {PLAIN_PRIO ":-CIPHER-ALL:+CHACHA20-POLY1305", P2PQ_AEAD_CHACHA20_POLY1305, 32},
  };
  p2pq_creds *cc;
  plain_server ps;
  side c;
  (void)state;
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    plain_server_new(&ps, cases[i].prio, 1, 1);
    side_new(&c, cc, ALPN_C, 2, NULL, CLIENT_PARAMS, sizeof(CLIENT_PARAMS));
    assert_int_equal(p2pq_tls_start(c.t), 0);
    plain_pump(&c, &ps);
    assert_int_equal(c.rc, 0);
    assert_true(p2pq_tls_is_done(c.t));
    for (int l = P2PQ_LEVEL_HANDSHAKE; l <= P2PQ_LEVEL_APP; l++) {
      assert_int_equal(c.alg[l], cases[i].alg);
      assert_int_equal(c.rx_len[l], cases[i].secret_len);
      assert_int_equal(c.tx_len[l], cases[i].secret_len);
    }
    p2pq_tls_free(c.t);
    plain_server_free(&ps);
  }
  p2pq_creds_free(cc);
}

/* A server without quic_transport_parameters, or without ALPN. */
static void test_client_checks_server_extensions(void **state) {
  p2pq_creds *cc;
  plain_server ps;
  side c;
  (void)state;
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);

  plain_server_new(&ps, PLAIN_PRIO, 0, 1);
  side_new(&c, cc, ALPN_C, 2, NULL, CLIENT_PARAMS, sizeof(CLIENT_PARAMS));
  assert_int_equal(p2pq_tls_start(c.t), 0);
  plain_pump(&c, &ps);
  assert_int_equal(c.rc, P2PQ_ERR_TLS_ALERT);
  assert_int_equal(p2pq_tls_alert(c.t), 109); /* missing_extension */
  assert_int_equal(c.params_calls, 0);
  assert_int_equal(c.tx_len[P2PQ_LEVEL_APP], 0);
  assert_false(p2pq_tls_is_done(c.t));
  p2pq_tls_free(c.t);
  plain_server_free(&ps);

  plain_server_new(&ps, PLAIN_PRIO, 1, 0);
  side_new(&c, cc, ALPN_C, 2, NULL, CLIENT_PARAMS, sizeof(CLIENT_PARAMS));
  assert_int_equal(p2pq_tls_start(c.t), 0);
  plain_pump(&c, &ps);
  assert_int_equal(c.rc, P2PQ_ERR_TLS_ALERT);
  assert_int_equal(p2pq_tls_alert(c.t), 120); /* no_application_protocol */
  assert_false(p2pq_tls_is_done(c.t));
  p2pq_tls_free(c.t);
  plain_server_free(&ps);

  p2pq_creds_free(cc);
}

/* Captures a real ClientHello (also written to $P2PQ_DUMP_CLIENT_HELLO, the
 * seed of fuzz_tls_server) and feeds broken variants to fresh servers. */
static void test_garbage(void **state) {
  pem sp;
  p2pq_creds *sc, *cc;
  side c, s;
  uint8_t ch[QCAP], junk[512];
  size_t chlen;
  const char *dump = getenv("P2PQ_DUMP_CLIENT_HELLO");
  (void)state;
  pem_self_signed(&sp, "server.test");
  sc = creds_x509_server(&sp);
  cc = creds_client(P2PQ_VERIFY_NONE, NULL, 0, NULL);
  side_new(&c, cc, ALPN_C, 2, "server.test", CLIENT_PARAMS, sizeof(CLIENT_PARAMS));
  assert_int_equal(p2pq_tls_start(c.t), 0);
  chlen = c.qlen[P2PQ_LEVEL_INITIAL];
  assert_true(chlen > 4 && ch[0] == ch[0]);
  memcpy(ch, c.q[P2PQ_LEVEL_INITIAL], chlen);
  assert_int_equal(ch[0], 1); /* ClientHello */
  if (dump) {
    FILE *f = fopen(dump, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(ch, 1, chlen, f), chlen);
    fclose(f);
  }

  /* pseudo-random junk at every level */
  for (size_t i = 0; i < sizeof(junk); i++)
    junk[i] = (uint8_t)(i * 2654435761u >> 13);
  for (int l = 0; l < P2PQ_LEVEL_COUNT; l++) {
    /* declares a 12 MB message: refused before GnuTLS would buffer it */
    side_new(&s, sc, ALPN_S, 2, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
    s.rc = p2pq_tls_recv(s.t, (p2pq_level)l, junk, sizeof(junk));
    /* a fresh server reads only at INITIAL (RFC 9001 section 4.1.3) */
    assert_int_equal(s.rc, l == P2PQ_LEVEL_INITIAL ? P2PQ_ERR_CRYPTO_BUFFER : P2PQ_ERR_PROTOCOL);
    assert_false(p2pq_tls_is_done(s.t));
    p2pq_tls_free(s.t);
    /* well-framed junk messages of unknown type */
    side_new(&s, sc, ALPN_S, 2, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
    for (size_t i = 0; i + 20 <= sizeof(junk); i += 20) {
      junk[i] = 0x63;
      junk[i + 1] = 0;
      junk[i + 2] = 0;
      junk[i + 3] = 16;
    }
    s.rc = p2pq_tls_recv(s.t, (p2pq_level)l, junk, 500);
    if (l == P2PQ_LEVEL_INITIAL) {
      assert_int_equal(s.rc, P2PQ_ERR_TLS_ALERT);
      assert_int_equal(p2pq_tls_alert(s.t), 10); /* unexpected_message */
    } else {
      assert_int_equal(s.rc, P2PQ_ERR_PROTOCOL);
    }
    assert_false(p2pq_tls_is_done(s.t));
    p2pq_tls_free(s.t);
    for (size_t i = 0; i < sizeof(junk); i++)
      junk[i] = (uint8_t)(i * 2654435761u >> 13);
  }
  /* every strict prefix of the ClientHello: waits for more, sends nothing */
  for (size_t n = 1; n < chlen; n += (n < 64 ? 1 : 37)) {
    side_new(&s, sc, ALPN_S, 2, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
    assert_int_equal(p2pq_tls_recv(s.t, P2PQ_LEVEL_INITIAL, ch, n), 0);
    assert_int_equal(s.qlen[P2PQ_LEVEL_INITIAL], 0);
    /* the rest completes it */
    assert_int_equal(p2pq_tls_recv(s.t, P2PQ_LEVEL_INITIAL, ch + n, chlen - n), 0);
    assert_true(s.qlen[P2PQ_LEVEL_INITIAL] > 0);
    p2pq_tls_free(s.t);
  }
  /* a valid ClientHello at the wrong level */
  for (int l = 1; l < P2PQ_LEVEL_COUNT; l++) {
    side_new(&s, sc, ALPN_S, 2, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
    assert_int_equal(p2pq_tls_recv(s.t, (p2pq_level)l, ch, chlen), P2PQ_ERR_PROTOCOL);
    assert_int_equal(s.qlen[P2PQ_LEVEL_INITIAL] + s.qlen[P2PQ_LEVEL_HANDSHAKE], 0);
    p2pq_tls_free(s.t);
  }
  /* a second message after the ClientHello at INITIAL: by then the server
   * reads at HANDSHAKE only */
  {
    uint8_t two[QCAP];
    memcpy(two, ch, chlen);
    memcpy(two + chlen, ch, chlen);
    side_new(&s, sc, ALPN_S, 2, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
    assert_int_equal(p2pq_tls_recv(s.t, P2PQ_LEVEL_INITIAL, two, 2 * chlen), P2PQ_ERR_PROTOCOL);
    p2pq_tls_free(s.t);
  }
  /* a ClientHello whose declared length is one short of its body */
  {
    uint8_t bad[QCAP];
    memcpy(bad, ch, chlen);
    bad[3] = (uint8_t)(bad[3] - 1);
    side_new(&s, sc, ALPN_S, 2, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
    s.rc = p2pq_tls_recv(s.t, P2PQ_LEVEL_INITIAL, bad, chlen);
    assert_true(s.rc < 0);
    assert_int_not_equal(p2pq_tls_alert(s.t), 0);
    p2pq_tls_free(s.t);
  }
  /* flipped bytes anywhere: error or, rarely, a changed but valid hello */
  for (size_t i = 0; i < chlen; i += 7) {
    uint8_t bad[QCAP];
    memcpy(bad, ch, chlen);
    bad[i] ^= 0xff;
    side_new(&s, sc, ALPN_S, 2, NULL, SERVER_PARAMS, sizeof(SERVER_PARAMS));
    s.rc = p2pq_tls_recv(s.t, P2PQ_LEVEL_INITIAL, bad, chlen);
    assert_true(s.rc <= 0);
    p2pq_tls_free(s.t);
  }
  /* garbage to a client waiting for the ServerHello */
  c.rc = p2pq_tls_recv(c.t, P2PQ_LEVEL_INITIAL, junk, sizeof(junk));
  assert_true(c.rc < 0);
  assert_int_equal(p2pq_tls_recv(c.t, P2PQ_LEVEL_INITIAL, ch, chlen), c.rc);
  p2pq_tls_free(c.t);
  p2pq_creds_free(cc);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

static void test_bad_args(void **state) {
  pem sp;
  p2pq_creds *sc;
  p2pq_tls *t = NULL;
  p2pq_tls_callbacks cb = {0};
  p2pq_tls_config cfg = {0};
  static const char *const bad_alpn[] = {""};
  (void)state;
  assert_int_equal(p2pq_tls_new(&t, &cfg, &cb), P2PQ_ERR_INVALID_ARG);
  pem_self_signed(&sp, "server.test");
  sc = creds_x509_server(&sp);
  cfg.creds = sc;
  cfg.alpn = bad_alpn;
  cfg.n_alpn = 1;
  assert_int_equal(p2pq_tls_new(&t, &cfg, &cb), P2PQ_ERR_CONFIG);
  assert_null(t);
  cfg.n_alpn = 0;
  assert_int_equal(p2pq_tls_new(&t, &cfg, &cb), 0);
  assert_int_equal(p2pq_tls_recv(t, P2PQ_LEVEL_COUNT, (const uint8_t *)"x", 1),
                   P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_tls_recv(t, P2PQ_LEVEL_INITIAL, NULL, 1), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_tls_recv(t, P2PQ_LEVEL_INITIAL, NULL, 0), 0);
  assert_false(p2pq_tls_is_done(t));
  assert_null(p2pq_tls_alpn(t));
  p2pq_tls_free(t);
  p2pq_tls_free(NULL);
  p2pq_creds_free(sc);
  pem_free(&sp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_x509_pin),
      cmocka_unit_test(test_x509_insecure),
      cmocka_unit_test(test_fragmented),
      cmocka_unit_test(test_post_handshake),
      cmocka_unit_test(test_wrong_pin),
      cmocka_unit_test(test_alpn_mismatch),
      cmocka_unit_test(test_rawpk_mutual),
      cmocka_unit_test(test_mixed_x509_rawpk),
      cmocka_unit_test(test_ca),
      cmocka_unit_test(test_ca_client_auth),
      cmocka_unit_test(test_hello_retry),
      cmocka_unit_test(test_client_checks_server_extensions),
      cmocka_unit_test(test_cipher_suites),
      cmocka_unit_test(test_keylog),
      cmocka_unit_test(test_params_rejected_by_callback),
      cmocka_unit_test(test_missing_params),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
