/* Whole-stack receive path: arbitrary datagrams into a server endpoint and into
 * a client endpoint mid-handshake. Nothing may crash, over-read or leak; the
 * endpoints must stay usable (send and timers still work). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "p2pq/quic.h"

static void fill(void *user, uint8_t *out, size_t len) {
  uint64_t *s = user;
  for (size_t i = 0; i < len; i++) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    out[i] = (uint8_t)(*s >> 56);
  }
}

static p2pq_creds *g_screds, *g_ccreds;

static int init_creds(void) {
  char *cert, *key;
  size_t cl, kl;
  p2pq_creds_config cc;
  if (p2pq_cert_self_signed("fuzz", 3600, &cert, &cl, &key, &kl) != 0)
    return -1;
  memset(&cc, 0, sizeof(cc));
  cc.is_server = 1;
  cc.cert_pem = cert;
  cc.cert_pem_len = cl;
  cc.key_pem = key;
  cc.key_pem_len = kl;
  if (p2pq_creds_new(&g_screds, &cc) != 0)
    return -1;
  memset(&cc, 0, sizeof(cc));
  cc.verify = P2PQ_VERIFY_NONE;
  free(cert);
  free(key);
  return p2pq_creds_new(&g_ccreds, &cc);
}

static void drain(p2pq_endpoint *ep, p2pq_tstamp now) {
  uint8_t out[1500];
  p2pq_tx tx;
  p2pq_event ev;
  int i;
  for (i = 0; i < 64 && p2pq_endpoint_send(ep, out, sizeof(out), 1, &tx, now) > 0; i++)
    ;
  while (p2pq_endpoint_poll_event(ep, &ev))
    ;
  if (p2pq_endpoint_next_timeout(ep) <= now + P2PQ_S)
    p2pq_endpoint_on_timeout(ep, now + P2PQ_S);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *alpn[] = {"hq-interop"};
  static int ready;
  p2pq_endpoint *srv = NULL, *cli = NULL;
  p2pq_conn *c = NULL;
  p2pq_config cfg;
  p2pq_addr sa, ca;
  uint64_t seed = 1, seed2 = 2;
  p2pq_tstamp now = P2PQ_S;
  size_t off = 0;
  if (!ready) {
    if (init_creds() != 0)
      abort();
    ready = 1;
  }
  memset(&cfg, 0, sizeof(cfg));
  p2pq_settings_default(&cfg.settings);
  cfg.alpn = alpn;
  cfg.n_alpn = 1;
  cfg.rand = fill;
  cfg.rand_user = &seed;
  cfg.is_server = 1;
  cfg.creds = g_screds;
  cfg.settings.max_datagram_frame_size = 1200;
  cfg.settings.address_discovery = 2;
  if (p2pq_endpoint_new(&srv, &cfg) != 0)
    abort();
  cfg.is_server = 0;
  cfg.creds = g_ccreds;
  cfg.rand_user = &seed2;
  if (p2pq_endpoint_new(&cli, &cfg) != 0)
    abort();
  p2pq_addr_parse(&sa, "198.51.100.1:443", -1);
  p2pq_addr_parse(&ca, "203.0.113.5:5000", -1);
  p2pq_endpoint_connect(cli, &c, &ca, &sa, "localhost", now);
  drain(cli, now);
  /* input: a sequence of [u16 length][bytes] datagrams, alternately to each side */
  for (int turn = 0; off + 2 <= size; turn++) {
    size_t len = ((size_t)data[off] << 8 | data[off + 1]) % 1500;
    off += 2;
    if (len > size - off)
      len = size - off;
    if (turn & 1)
      p2pq_endpoint_recv(cli, data + off, len, &ca, &sa, 0, now);
    else
      p2pq_endpoint_recv(srv, data + off, len, &sa, &ca, 0, now);
    off += len;
    now += P2PQ_MS;
    drain(turn & 1 ? cli : srv, now);
  }
  p2pq_endpoint_free(srv);
  p2pq_endpoint_free(cli);
  return 0;
}
