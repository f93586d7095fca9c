/* The STUN responder hooked into a real QUIC endpoint: Binding requests built
 * with the STUN codec go in through p2pq_endpoint_recv and their answers come
 * out of p2pq_endpoint_send, to the sender, with its address XOR-mapped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "crypto/cert.h"
#include "nat/stun.h"
#include "p2pq/quic.h"
#include "peer/stun_responder.h"

static void seq_rand(void *user, uint8_t *out, size_t len) {
  uint8_t *ctr = user;
  for (size_t i = 0; i < len; i++)
    out[i] = (uint8_t)(*ctr += 37);
}

typedef struct fixture {
  p2pq_creds *creds;
  p2pq_endpoint *ep;
  p2pq_stun_responder r;
  uint8_t ctr;
} fixture;

static int setup(void **state) {
  static const char *alpn[] = {"hq-interop"};
  static fixture f;
  p2pq_creds_config cc;
  p2pq_config cfg;
  memset(&f, 0, sizeof(f));
  memset(&cc, 0, sizeof(cc));
  cc.verify = P2PQ_VERIFY_NONE;
  assert_int_equal(p2pq_creds_new(&f.creds, &cc), 0);
  memset(&cfg, 0, sizeof(cfg));
  cfg.rand = seq_rand;
  cfg.rand_user = &f.ctr;
  cfg.creds = f.creds;
  cfg.alpn = alpn;
  cfg.n_alpn = 1;
  p2pq_settings_default(&cfg.settings);
  p2pq_stun_responder_init(&f.r, "p2pquic-test");
  p2pq_stun_responder_attach(&f.r, &cfg);
  assert_ptr_equal(cfg.other_user, &f.r);
  assert_int_equal(p2pq_endpoint_new(&f.ep, &cfg), 0);
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  p2pq_endpoint_free(f->ep);
  p2pq_creds_free(f->creds);
  p2pq_stun_responder_clear(&f->r);
  return 0;
}

static p2pq_addr addr(const char *s) {
  p2pq_addr a;
  assert_int_equal(p2pq_addr_parse(&a, s, -1), 0);
  return a;
}

/* A Binding request with FINGERPRINT (plus an optional extra attribute). */
static size_t binding(uint8_t *buf, size_t cap, uint8_t cls, const uint8_t txid[12],
                      uint16_t extra_attr) {
  p2pq_stun_builder b;
  assert_int_equal(p2pq_stun_build_init(&b, buf, cap, P2PQ_STUN_METHOD_BINDING, cls, txid), 0);
  if (extra_attr)
    p2pq_stun_build_u32(&b, extra_attr, 7);
  p2pq_stun_build_fingerprint(&b);
  int n = p2pq_stun_build_finish(&b);
  assert_true(n > 0);
  return (size_t)n;
}

/* Feeds req from remote to local; returns the length of what the endpoint
 * sends next (0: nothing), decoded into *m from out. */
static int exchange(fixture *f, const uint8_t *req, size_t len, const p2pq_addr *local,
                    const p2pq_addr *remote, uint8_t *out, size_t cap, p2pq_tx *tx) {
  assert_int_equal(p2pq_endpoint_recv(f->ep, req, len, local, remote, 0, 1000 * P2PQ_MS), 0);
  memset(tx, 0, sizeof(*tx));
  return p2pq_endpoint_send(f->ep, out, cap, 1, tx, 1000 * P2PQ_MS);
}

static void check_answer(fixture *f, const char *from, const char *to) {
  static const uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  uint8_t req[64], out[1500];
  p2pq_addr remote = addr(from), local = addr(to);
  p2pq_stun_msg m;
  p2pq_tx tx;
  size_t len = binding(req, sizeof(req), P2PQ_STUN_REQUEST, txid, 0);
  int n = exchange(f, req, len, &local, &remote, out, sizeof(out), &tx);
  assert_true(n > 0);
  assert_true(p2pq_addr_equal(&tx.remote, &remote));
  assert_true(p2pq_addr_equal(&tx.local, &local)); /* answered from the socket it came to */
  assert_int_equal(p2pq_stun_decode(&m, out, (size_t)n), 0);
  assert_int_equal(m.method, P2PQ_STUN_METHOD_BINDING);
  assert_int_equal(m.cls, P2PQ_STUN_SUCCESS);
  assert_memory_equal(m.txid, txid, 12);
  assert_true(m.present & P2PQ_STUN_HAS_XOR_MAPPED);
  assert_true(p2pq_addr_equal(&m.xor_mapped, &remote));
  assert_true(m.present & P2PQ_STUN_HAS_FINGERPRINT);
  assert_true(m.present & P2PQ_STUN_HAS_SOFTWARE);
  assert_int_equal(m.software.len, strlen("p2pquic-test"));
  assert_true(m.present & P2PQ_STUN_HAS_RESPONSE_ORIGIN);
  assert_true(p2pq_addr_equal(&m.response_origin, &local));
}

static void test_v4(void **state) {
  fixture *f = *state;
  check_answer(f, "198.51.100.7:40001", "203.0.113.66:4433");
  assert_int_equal(f->r.answered, 1);
}

static void test_v6(void **state) {
  fixture *f = *state;
  check_answer(f, "[2001:db8::17]:5555", "[2001:db8::1]:4433");
  assert_int_equal(f->r.answered, 1);
}

/* A wildcard local address gives no RESPONSE-ORIGIN (it would be a lie). */
static void test_wildcard_local(void **state) {
  fixture *f = *state;
  static const uint8_t txid[12] = {9};
  uint8_t req[64], out[1500];
  p2pq_addr remote = addr("198.51.100.7:1"), local = addr("0.0.0.0:4433");
  p2pq_stun_msg m;
  p2pq_tx tx;
  size_t len = binding(req, sizeof(req), P2PQ_STUN_REQUEST, txid, 0);
  int n = exchange(f, req, len, &local, &remote, out, sizeof(out), &tx);
  assert_true(n > 0);
  assert_int_equal(p2pq_stun_decode(&m, out, (size_t)n), 0);
  assert_true(p2pq_addr_equal(&m.xor_mapped, &remote));
  assert_false(m.present & P2PQ_STUN_HAS_RESPONSE_ORIGIN);
}

/* Unknown comprehension-required attribute: 420 naming it. */
static void test_unknown_attribute(void **state) {
  fixture *f = *state;
  static const uint8_t txid[12] = {7, 7};
  uint8_t req[64], out[1500];
  p2pq_addr remote = addr("198.51.100.7:2"), local = addr("203.0.113.66:4433");
  p2pq_stun_msg m;
  p2pq_tx tx;
  size_t len = binding(req, sizeof(req), P2PQ_STUN_REQUEST, txid, 0x0042);
  int n = exchange(f, req, len, &local, &remote, out, sizeof(out), &tx);
  assert_true(n > 0);
  assert_int_equal(p2pq_stun_decode(&m, out, (size_t)n), 0);
  assert_int_equal(m.cls, P2PQ_STUN_ERROR);
  assert_int_equal(m.error_code, 420);
  assert_int_equal(m.n_unknown_list, 1);
  assert_int_equal(m.unknown_list[0], 0x0042);
}

/* Indications, responses, a bad FINGERPRINT and non-STUN bytes below 64 are
 * not answered, and the endpoint sends nothing. */
static void test_not_answered(void **state) {
  fixture *f = *state;
  static const uint8_t txid[12] = {3};
  uint8_t req[64], out[1500];
  p2pq_addr remote = addr("198.51.100.7:3"), local = addr("203.0.113.66:4433");
  p2pq_tx tx;
  size_t len = binding(req, sizeof(req), P2PQ_STUN_INDICATION, txid, 0);
  assert_int_equal(exchange(f, req, len, &local, &remote, out, sizeof(out), &tx), 0);
  len = binding(req, sizeof(req), P2PQ_STUN_SUCCESS, txid, 0);
  assert_int_equal(exchange(f, req, len, &local, &remote, out, sizeof(out), &tx), 0);
  len = binding(req, sizeof(req), P2PQ_STUN_REQUEST, txid, 0);
  req[len - 1] ^= 1; /* FINGERPRINT no longer matches */
  assert_int_equal(exchange(f, req, len, &local, &remote, out, sizeof(out), &tx), 0);
  memset(req, 0x17, 40); /* ZRTP-range byte, not STUN */
  assert_int_equal(exchange(f, req, 40, &local, &remote, out, sizeof(out), &tx), 0);
  assert_int_equal(f->r.answered, 0);
  assert_int_equal(f->r.ignored, 4);
}

/* Many requests at once: every one is either answered or counted as lost to
 * a full queue, and every answer matches its request. */
static void test_burst(void **state) {
  fixture *f = *state;
  uint8_t req[64], out[1500];
  p2pq_addr local = addr("203.0.113.66:4433");
  p2pq_tx tx;
  int got = 0, n;
  for (int i = 0; i < 300; i++) {
    uint8_t txid[12] = {0};
    p2pq_addr remote = addr("198.51.100.9:1000");
    remote.port = (uint16_t)(1000 + i);
    txid[0] = (uint8_t)i;
    txid[1] = (uint8_t)(i >> 8);
    size_t len = binding(req, sizeof(req), P2PQ_STUN_REQUEST, txid, 0);
    assert_int_equal(p2pq_endpoint_recv(f->ep, req, len, &local, &remote, 0, P2PQ_S), 0);
  }
  assert_int_equal(f->r.answered + f->r.queue_full, 300);
  while ((n = p2pq_endpoint_send(f->ep, out, sizeof(out), 1, &tx, P2PQ_S)) > 0) {
    p2pq_stun_msg m;
    assert_int_equal(p2pq_stun_decode(&m, out, (size_t)n), 0);
    int i = m.txid[0] | m.txid[1] << 8;
    assert_int_equal(tx.remote.port, 1000 + i);
    assert_int_equal(m.xor_mapped.port, 1000 + i);
    got++;
  }
  assert_int_equal(got, (int)f->r.answered);
  assert_true(got > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_v4, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wildcard_local, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_attribute, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_answered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_burst, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
