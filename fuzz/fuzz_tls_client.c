/* TLS client handshake input: a started client p2pq_tls gets arbitrary bytes
 * as the server's CRYPTO data. The first input byte picks the level (low two
 * bits) so that wrong-level input is exercised too. Must fail cleanly or wait,
 * never crash, leak or complete. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/tls.h"

static p2pq_creds *g_creds;

static int on_crypto_out(void *user, p2pq_level level, const uint8_t *data, size_t len) {
  (void)user, (void)level, (void)data, (void)len;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const alpn[] = {"h3"};
  static const uint8_t params[] = {0x01, 0x02, 0x40, 0x64};
  p2pq_tls_config cfg = {NULL, alpn, 1, "fuzz.test", params, sizeof(params)};
  p2pq_tls_callbacks cb = {NULL, NULL, on_crypto_out, NULL, NULL};
  p2pq_tls *t;
  int rc;
  if (!g_creds) {
    p2pq_creds_config cc;
    memset(&cc, 0, sizeof(cc));
    if (p2pq_creds_new(&g_creds, &cc) != 0)
      abort();
  }
  if (size < 1)
    return 0;
  cfg.creds = g_creds;
  if (p2pq_tls_new(&t, &cfg, &cb) != 0 || p2pq_tls_start(t) != 0)
    abort();
  rc = p2pq_tls_recv(t, (p2pq_level)(data[0] & 3), data + 1, size - 1);
  if (rc < 0 && p2pq_tls_recv(t, P2PQ_LEVEL_INITIAL, data, size) != rc)
    abort();
  if (p2pq_tls_is_done(t))
    abort();
  p2pq_tls_free(t);
  return 0;
}
