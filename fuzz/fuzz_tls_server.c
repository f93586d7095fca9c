/* TLS server handshake input: arbitrary bytes as Initial-level CRYPTO data to
 * a fresh server p2pq_tls. It must fail cleanly or wait for more, never crash
 * or leak; whatever it answers goes nowhere. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/tls.h"

static p2pq_creds *g_creds;

static int on_secret(void *user, p2pq_level level, p2pq_aead_alg alg, const uint8_t *rx,
                     const uint8_t *tx, size_t len) {
  (void)user, (void)level, (void)alg, (void)rx, (void)tx, (void)len;
  return 0;
}
static int on_crypto_out(void *user, p2pq_level level, const uint8_t *data, size_t len) {
  (void)user, (void)level, (void)data, (void)len;
  return 0;
}
static int on_peer_params(void *user, const uint8_t *data, size_t len) {
  (void)user, (void)data, (void)len;
  return 0;
}

static void creds_init(void) {
  char *cert, *key;
  size_t cl, kl;
  p2pq_creds_config cfg;
  if (p2pq_cert_self_signed("fuzz.test", 86400, &cert, &cl, &key, &kl) != 0)
    abort();
  memset(&cfg, 0, sizeof(cfg));
  cfg.is_server = 1;
  cfg.cert_pem = cert;
  cfg.cert_pem_len = cl;
  cfg.key_pem = key;
  cfg.key_pem_len = kl;
  if (p2pq_creds_new(&g_creds, &cfg) != 0)
    abort();
  free(cert);
  free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const alpn[] = {"h3", "p2pq/1"};
  static const uint8_t params[] = {0x01, 0x02, 0x40, 0x64};
  p2pq_tls_config cfg = {NULL, alpn, 2, NULL, params, sizeof(params)};
  p2pq_tls_callbacks cb = {NULL, on_secret, on_crypto_out, on_peer_params, NULL};
  p2pq_tls *t;
  int rc;
  if (!g_creds)
    creds_init();
  cfg.creds = g_creds;
  if (p2pq_tls_new(&t, &cfg, &cb) != 0)
    abort();
  rc = p2pq_tls_recv(t, P2PQ_LEVEL_INITIAL, data, size);
  /* a failure is sticky and a success never completes the handshake alone */
  if (rc < 0 && p2pq_tls_recv(t, P2PQ_LEVEL_INITIAL, data, size) != rc)
    abort();
  if (p2pq_tls_is_done(t))
    abort();
  p2pq_tls_free(t);
  return 0;
}
