/* STUN Binding client (retransmission schedule on a virtual clock, spoofed and
 * malformed replies), the Binding server, and the mapping-behaviour verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "nat/stun.h"
#include "nat/stun_client.h"
#include "nat/stun_server.h"
#include "p2pq/error.h"

/* Deterministic "random" bytes: a counter. */
static void seq_rand(void *user, uint8_t *out, size_t len) {
  uint8_t *ctr = user;
  for (size_t i = 0; i < len; i++)
    out[i] = (*ctr)++;
}

static p2pq_addr addr(const char *s) {
  p2pq_addr a;
  assert_int_equal(p2pq_addr_parse(&a, s, -1), 0);
  return a;
}

static void test_schedule_exact(void **state) {
  p2pq_stun_client c;
  uint8_t out[64], ctr = 0;
  size_t n;
  p2pq_addr srv = addr("198.51.100.1:3478");
  /* Sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s, give up at 39.5 s. */
  static const p2pq_tstamp sends[7] = {0, 500, 1500, 3500, 7500, 15500, 31500};
  const p2pq_tstamp t0 = 1000 * P2PQ_S;
  (void)state;
  assert_int_equal(p2pq_stun_client_init(&c, NULL, &srv), 0);
  assert_int_equal(p2pq_stun_client_next_timeout(&c), P2PQ_TSTAMP_MAX);
  assert_int_equal(p2pq_stun_client_start(&c, t0, seq_rand, &ctr, out, sizeof(out), &n), 0);
  assert_int_equal(n, 28);
  assert_int_equal(p2pq_stun_check_header(out, n), 0);
  for (int i = 1; i < 7; i++) {
    p2pq_tstamp due = t0 + sends[i] * P2PQ_MS;
    assert_true(p2pq_stun_client_next_timeout(&c) == due);
    /* One nanosecond early: nothing. */
    assert_int_equal(p2pq_stun_client_on_timeout(&c, due - 1, out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(p2pq_stun_client_on_timeout(&c, due, out, sizeof(out), &n), 0);
    assert_int_equal(n, 28);
  }
  assert_true(p2pq_stun_client_next_timeout(&c) == t0 + 39500 * P2PQ_MS);
  assert_int_equal(p2pq_stun_client_on_timeout(&c, t0 + 39500 * P2PQ_MS - 1, out, sizeof(out), &n), 0);
  assert_int_equal(p2pq_stun_client_on_timeout(&c, t0 + 39500 * P2PQ_MS, out, sizeof(out), &n),
                   P2PQ_ERR_TIMEOUT);
  assert_int_equal(c.state, P2PQ_STUN_CLIENT_TIMEOUT);
  assert_int_equal(c.sent, 7);
  assert_true(p2pq_stun_client_next_timeout(&c) == P2PQ_TSTAMP_MAX);
}

static void test_schedule_configured(void **state) {
  p2pq_stun_client c;
  p2pq_stun_client_cfg cfg;
  uint8_t out[64], ctr = 0;
  size_t n, sends = 1;
  p2pq_tstamp now = 0;
  p2pq_addr srv = addr("198.51.100.1:3478");
  int rc;
  (void)state;
  p2pq_stun_client_cfg_default(&cfg);
  cfg.rto = 100 * P2PQ_MS;
  cfg.rc = 3;
  cfg.rm = 4;
  cfg.fingerprint = 0;
  assert_int_equal(p2pq_stun_client_init(&c, &cfg, &srv), 0);
  assert_int_equal(p2pq_stun_client_start(&c, 0, seq_rand, &ctr, out, sizeof(out), &n), 0);
  assert_int_equal(n, 20);
  /* 0, 0.1, 0.3 then 0.4 s final wait: timeout at 0.7 s. */
  while ((now = p2pq_stun_client_next_timeout(&c)) != P2PQ_TSTAMP_MAX) {
    rc = p2pq_stun_client_on_timeout(&c, now, out, sizeof(out), &n);
    if (rc == P2PQ_ERR_TIMEOUT)
      break;
    assert_int_equal(rc, 0);
    sends++;
  }
  assert_int_equal(sends, 3);
  assert_true(now == 700 * P2PQ_MS);
  cfg.rc = 0;
  assert_int_equal(p2pq_stun_client_init(&c, &cfg, &srv), P2PQ_ERR_CONFIG);
}

static void test_server_answers_client(void **state) {
  p2pq_stun_client c;
  uint8_t req[64], resp[128], ctr = 7;
  size_t n;
  int rn;
  p2pq_addr srv = addr("198.51.100.1:3478"), me = addr("203.0.113.5:40000"), mapped;
  p2pq_stun_msg m;
  (void)state;
  p2pq_stun_client_init(&c, NULL, &srv);
  assert_int_equal(p2pq_stun_client_start(&c, 0, seq_rand, &ctr, req, sizeof(req), &n), 0);
  rn = p2pq_stun_server_respond(req, n, &me, "p2pq test", resp, sizeof(resp));
  assert_true(rn > 0);
  assert_int_equal(p2pq_stun_decode(&m, resp, (size_t)rn), 0);
  assert_true(m.present & P2PQ_STUN_HAS_FINGERPRINT);
  assert_int_equal(m.software.len, 9);
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &srv, 10, &mapped), 0);
  assert_true(p2pq_addr_equal(&mapped, &me));
  assert_int_equal(c.state, P2PQ_STUN_CLIENT_DONE);
  assert_true(p2pq_stun_client_next_timeout(&c) == P2PQ_TSTAMP_MAX);
  /* A late duplicate finds no transaction. */
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &srv, 11, &mapped),
                   P2PQ_ERR_STATE);
  /* IPv6 mapped address. */
  p2pq_addr me6 = addr("[2001:db8::42]:5000");
  p2pq_stun_client_init(&c, NULL, &srv);
  p2pq_stun_client_start(&c, 0, seq_rand, &ctr, req, sizeof(req), &n);
  rn = p2pq_stun_server_respond(req, n, &me6, NULL, resp, sizeof(resp));
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &srv, 10, &mapped), 0);
  assert_true(p2pq_addr_equal(&mapped, &me6));
}

static void test_spoofed_and_malformed(void **state) {
  p2pq_stun_client c;
  uint8_t req[64], resp[128], bad[128], ctr = 0;
  size_t n;
  int rn;
  p2pq_addr srv = addr("198.51.100.1:3478"), me = addr("203.0.113.5:40000"), mapped;
  p2pq_addr other_port = addr("198.51.100.1:3479"), other_ip = addr("198.51.100.2:3478");
  (void)state;
  p2pq_stun_client_init(&c, NULL, &srv);
  p2pq_stun_client_start(&c, 0, seq_rand, &ctr, req, sizeof(req), &n);
  rn = p2pq_stun_server_respond(req, n, &me, NULL, resp, sizeof(resp));
  /* Wrong source port and wrong source IP. */
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &other_port, 1, &mapped),
                   P2PQ_ERR_SPOOFED);
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &other_ip, 1, &mapped),
                   P2PQ_ERR_SPOOFED);
  /* Wrong transaction id (server answers another request). */
  memcpy(bad, req, n);
  bad[10] ^= 0xFF;
  {
    /* Recompute the request's FINGERPRINT so the server accepts it. */
    uint32_t fp = p2pq_stun_crc32(bad, n - 8) ^ P2PQ_STUN_FP_XOR;
    bad[n - 4] = (uint8_t)(fp >> 24);
    bad[n - 3] = (uint8_t)(fp >> 16);
    bad[n - 2] = (uint8_t)(fp >> 8);
    bad[n - 1] = (uint8_t)fp;
  }
  int bn = p2pq_stun_server_respond(bad, n, &me, NULL, bad + 64, 64);
  assert_true(bn > 0);
  assert_int_equal(p2pq_stun_client_on_recv(&c, bad + 64, (size_t)bn, &srv, 1, &mapped),
                   P2PQ_ERR_SPOOFED);
  /* Right IP bytes and port, but another family (v4-mapped IPv6 source). */
  uint8_t v6ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 1};
  p2pq_addr v6src;
  p2pq_addr_v6(&v6src, v6ip, 3478);
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &v6src, 1, &mapped),
                   P2PQ_ERR_SPOOFED);
  assert_int_equal(c.dropped_spoofed, 4);
  /* Every truncation of the real response is dropped as malformed. */
  for (int k = 0; k < rn; k++)
    assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)k, &srv, 1, &mapped),
                     P2PQ_ERR_MALFORMED);
  assert_int_equal(c.dropped_malformed, (uint64_t)rn);
  /* XOR-MAPPED-ADDRESS with an unknown family (3): malformed, dropped. */
  {
    uint8_t fam[64];
    memcpy(fam, resp, (size_t)rn);
    assert_int_equal(fam[20 + 5], 1); /* family byte of the first attribute */
    fam[20 + 5] = 3;
    uint32_t fp = p2pq_stun_crc32(fam, (size_t)rn - 8) ^ P2PQ_STUN_FP_XOR;
    fam[rn - 4] = (uint8_t)(fp >> 24);
    fam[rn - 3] = (uint8_t)(fp >> 16);
    fam[rn - 2] = (uint8_t)(fp >> 8);
    fam[rn - 1] = (uint8_t)fp;
    uint64_t before = c.dropped_malformed;
    assert_int_equal(p2pq_stun_client_on_recv(&c, fam, (size_t)rn, &srv, 1, &mapped),
                     P2PQ_ERR_MALFORMED);
    assert_int_equal(c.dropped_malformed, before + 1);
    assert_int_equal(c.state, P2PQ_STUN_CLIENT_RUNNING);
  }
  /* A request echoed back is not a response. */
  assert_int_equal(p2pq_stun_client_on_recv(&c, req, n, &srv, 1, &mapped), P2PQ_ERR_MALFORMED);
  /* A success response without any mapped address fails the transaction. */
  {
    p2pq_stun_builder b;
    uint8_t e[64];
    p2pq_stun_build_init(&b, e, sizeof(e), 1, P2PQ_STUN_SUCCESS, c.txid);
    int en = p2pq_stun_build_finish(&b);
    assert_int_equal(p2pq_stun_client_on_recv(&c, e, (size_t)en, &srv, 1, &mapped),
                     P2PQ_ERR_MALFORMED);
    assert_int_equal(c.state, P2PQ_STUN_CLIENT_FAILED);
  }
  /* After all that, the still-running transaction... has failed; restart works. */
  assert_int_equal(p2pq_stun_client_start(&c, 5, seq_rand, &ctr, req, sizeof(req), &n), 0);
  rn = p2pq_stun_server_respond(req, n, &me, NULL, resp, sizeof(resp));
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &srv, 6, &mapped), 0);
}

static void test_error_and_unknown_in_response(void **state) {
  p2pq_stun_client c;
  uint8_t req[64], e[128], ctr = 0;
  size_t n;
  p2pq_stun_builder b;
  p2pq_addr srv = addr("198.51.100.1:3478"), me = addr("203.0.113.5:40000"), mapped;
  int en;
  (void)state;
  p2pq_stun_client_init(&c, NULL, &srv);
  p2pq_stun_client_start(&c, 0, seq_rand, &ctr, req, sizeof(req), &n);
  p2pq_stun_build_init(&b, e, sizeof(e), 1, P2PQ_STUN_ERROR, c.txid);
  p2pq_stun_build_error(&b, 500, "Server Error");
  en = p2pq_stun_build_finish(&b);
  assert_int_equal(p2pq_stun_client_on_recv(&c, e, (size_t)en, &srv, 1, &mapped), P2PQ_ERR_STUN);
  assert_int_equal(c.error_code, 500);
  assert_int_equal(c.state, P2PQ_STUN_CLIENT_FAILED);
  /* Unknown comprehension-required attribute in a success response. */
  p2pq_stun_client_start(&c, 0, seq_rand, &ctr, req, sizeof(req), &n);
  p2pq_stun_build_init(&b, e, sizeof(e), 1, P2PQ_STUN_SUCCESS, c.txid);
  p2pq_stun_build_xor_addr(&b, P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS, &me);
  p2pq_stun_build_attr(&b, 0x0042, "zz", 2);
  en = p2pq_stun_build_finish(&b);
  assert_int_equal(p2pq_stun_client_on_recv(&c, e, (size_t)en, &srv, 1, &mapped), P2PQ_ERR_STUN);
  /* MAPPED-ADDRESS only (RFC 3489 server) plus OTHER-ADDRESS. */
  p2pq_addr alt = addr("198.51.100.2:3479");
  p2pq_stun_client_start(&c, 0, seq_rand, &ctr, req, sizeof(req), &n);
  p2pq_stun_build_init(&b, e, sizeof(e), 1, P2PQ_STUN_SUCCESS, c.txid);
  p2pq_stun_build_addr(&b, P2PQ_STUN_ATTR_MAPPED_ADDRESS, &me);
  p2pq_stun_build_addr(&b, P2PQ_STUN_ATTR_OTHER_ADDRESS, &alt);
  en = p2pq_stun_build_finish(&b);
  assert_int_equal(p2pq_stun_client_on_recv(&c, e, (size_t)en, &srv, 1, &mapped), 0);
  assert_true(p2pq_addr_equal(&mapped, &me));
  assert_true(p2pq_addr_equal(&c.other_address, &alt));
}

static void test_server_errors(void **state) {
  uint8_t req[128], resp[256];
  p2pq_stun_builder b;
  p2pq_stun_msg m;
  p2pq_addr me = addr("203.0.113.5:40000");
  static const uint8_t id[12] = {1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144};
  int n, rn;
  (void)state;
  /* Unknown comprehension-required attributes -> 420 listing them. */
  p2pq_stun_build_init(&b, req, sizeof(req), 1, P2PQ_STUN_REQUEST, id);
  p2pq_stun_build_attr(&b, 0x0033, "a", 1);
  p2pq_stun_build_attr(&b, 0xC033, "b", 1); /* optional: not listed */
  p2pq_stun_build_attr(&b, 0x7FFF, "c", 1);
  n = p2pq_stun_build_finish(&b);
  rn = p2pq_stun_server_respond(req, (size_t)n, &me, "srv", resp, sizeof(resp));
  assert_true(rn > 0);
  assert_int_equal(p2pq_stun_decode(&m, resp, (size_t)rn), 0);
  assert_int_equal(m.cls, P2PQ_STUN_ERROR);
  assert_memory_equal(m.txid, id, 12);
  assert_int_equal(m.error_code, 420);
  assert_int_equal(m.n_unknown_list, 2);
  assert_int_equal(m.unknown_list[0], 0x0033);
  assert_int_equal(m.unknown_list[1], 0x7FFF);
  /* Malformed attribute -> 400. */
  p2pq_stun_build_init(&b, req, sizeof(req), 1, P2PQ_STUN_REQUEST, id);
  p2pq_stun_build_attr(&b, P2PQ_STUN_ATTR_PRIORITY, "abc", 3);
  n = p2pq_stun_build_finish(&b);
  rn = p2pq_stun_server_respond(req, (size_t)n, &me, NULL, resp, sizeof(resp));
  assert_int_equal(p2pq_stun_decode(&m, resp, (size_t)rn), 0);
  assert_int_equal(m.error_code, 400);
  /* Unknown method -> 400 with that method. */
  p2pq_stun_build_init(&b, req, sizeof(req), 0x0AB, P2PQ_STUN_REQUEST, id);
  n = p2pq_stun_build_finish(&b);
  rn = p2pq_stun_server_respond(req, (size_t)n, &me, NULL, resp, sizeof(resp));
  assert_int_equal(p2pq_stun_decode(&m, resp, (size_t)rn), 0);
  assert_int_equal(m.method, 0x0AB);
  assert_int_equal(m.error_code, 400);
  /* Indications and responses are ignored; so is non-STUN and bad FINGERPRINT. */
  p2pq_stun_build_init(&b, req, sizeof(req), 1, P2PQ_STUN_INDICATION, id);
  n = p2pq_stun_build_finish(&b);
  assert_int_equal(p2pq_stun_server_respond(req, (size_t)n, &me, NULL, resp, sizeof(resp)), 0);
  p2pq_stun_build_init(&b, req, sizeof(req), 1, P2PQ_STUN_SUCCESS, id);
  n = p2pq_stun_build_finish(&b);
  assert_int_equal(p2pq_stun_server_respond(req, (size_t)n, &me, NULL, resp, sizeof(resp)), 0);
  p2pq_stun_build_init(&b, req, sizeof(req), 1, P2PQ_STUN_REQUEST, id);
  p2pq_stun_build_fingerprint(&b);
  n = p2pq_stun_build_finish(&b);
  req[n - 1] ^= 1;
  assert_int_equal(p2pq_stun_server_respond(req, (size_t)n, &me, NULL, resp, sizeof(resp)), 0);
  for (int k = 0; k < n; k++)
    assert_int_equal(p2pq_stun_server_respond(req, (size_t)k, &me, NULL, resp, sizeof(resp)), 0);
  req[n - 1] ^= 1;
  assert_int_equal(p2pq_stun_server_respond(req, (size_t)n, &me, NULL, resp, 20), P2PQ_ERR_NOBUF);
}

static void test_mapping_behaviour(void **state) {
  p2pq_addr local = addr("192.168.1.2:5000"), s1 = addr("198.51.100.1:3478"),
            s2 = addr("198.51.100.2:3479"), s1b = addr("198.51.100.1:3479"),
            m1 = addr("203.0.113.9:5000"), m2 = addr("203.0.113.9:5001");
  (void)state;
  assert_int_equal(p2pq_stun_mapping_behaviour(&local, &s1, &m1, &s2, &m1),
                   P2PQ_NAT_MAPPING_ENDPOINT_INDEPENDENT);
  assert_int_equal(p2pq_stun_mapping_behaviour(&local, &s1, &m1, &s2, &m2),
                   P2PQ_NAT_MAPPING_DEPENDENT);
  assert_int_equal(p2pq_stun_mapping_behaviour(&local, &s1, &local, &s2, &local),
                   P2PQ_NAT_MAPPING_NONE);
  assert_int_equal(p2pq_stun_mapping_behaviour(NULL, &s1, &m1, &s1b, &m1),
                   P2PQ_NAT_MAPPING_UNKNOWN); /* same server IP proves nothing */
  assert_int_equal(p2pq_stun_mapping_behaviour(NULL, &s1, &m1, &s2, NULL),
                   P2PQ_NAT_MAPPING_UNKNOWN);
}

static void test_rfc5780(void **state) {
  p2pq_stun_client c;
  p2pq_stun_client_cfg cfg;
  p2pq_stun_server_opts o;
  uint8_t req[64], resp[256], ctr = 3;
  size_t n;
  uint32_t change = 99;
  int rn;
  p2pq_addr srv = addr("198.51.100.1:3478"), alt = addr("198.51.100.2:3479"),
            me = addr("203.0.113.5:40000"), mapped;
  p2pq_stun_msg m;
  (void)state;
  memset(&o, 0, sizeof(o));
  o.software = "p2pq";
  o.local = srv;
  o.other = alt;
  /* Plain request: RESPONSE-ORIGIN and OTHER-ADDRESS, no change. */
  p2pq_stun_client_init(&c, NULL, &srv);
  p2pq_stun_client_start(&c, 0, seq_rand, &ctr, req, sizeof(req), &n);
  rn = p2pq_stun_server_respond_ex(req, n, &me, &o, resp, sizeof(resp), &change);
  assert_true(rn > 0);
  assert_int_equal(change, 0);
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &srv, 1, &mapped), 0);
  assert_true(p2pq_addr_equal(&c.other_address, &alt));
  assert_true(p2pq_addr_equal(&c.response_origin, &srv));
  /* Change IP and port: the request carries CHANGE-REQUEST 0x6. */
  p2pq_stun_client_cfg_default(&cfg);
  cfg.change_request = P2PQ_STUN_CHANGE_IP | P2PQ_STUN_CHANGE_PORT;
  cfg.expect_from = alt;
  p2pq_stun_client_init(&c, &cfg, &srv);
  p2pq_stun_client_start(&c, 0, seq_rand, &ctr, req, sizeof(req), &n);
  assert_int_equal(n, 36);
  assert_int_equal(p2pq_stun_decode(&m, req, n), 0);
  assert_int_equal(m.change_request, 6);
  o.local = alt; /* the caller answers from the alternate socket */
  rn = p2pq_stun_server_respond_ex(req, n, &me, &o, resp, sizeof(resp), &change);
  assert_int_equal(change, 6);
  /* From the primary address it is not the answer we asked for. */
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &srv, 1, &mapped),
                   P2PQ_ERR_SPOOFED);
  assert_int_equal(p2pq_stun_client_on_recv(&c, resp, (size_t)rn, &alt, 1, &mapped), 0);
  assert_true(p2pq_addr_equal(&mapped, &me));
  /* A server without an alternate address answers CHANGE-REQUEST with 420. */
  memset(&o, 0, sizeof(o));
  rn = p2pq_stun_server_respond_ex(req, n, &me, &o, resp, sizeof(resp), &change);
  assert_int_equal(p2pq_stun_decode(&m, resp, (size_t)rn), 0);
  assert_int_equal(m.error_code, 420);
  assert_int_equal(m.n_unknown_list, 1);
  assert_int_equal(m.unknown_list[0], P2PQ_STUN_ATTR_CHANGE_REQUEST);
  assert_int_equal(p2pq_stun_server_respond(req, n, &me, NULL, resp, sizeof(resp)), rn);
  /* Filtering verdicts. */
  assert_int_equal(p2pq_stun_filtering_behaviour(1, 1), P2PQ_NAT_FILTERING_ENDPOINT_INDEPENDENT);
  assert_int_equal(p2pq_stun_filtering_behaviour(0, 1), P2PQ_NAT_FILTERING_ADDRESS_DEPENDENT);
  assert_int_equal(p2pq_stun_filtering_behaviour(0, 0),
                   P2PQ_NAT_FILTERING_ADDRESS_PORT_DEPENDENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schedule_exact),
      cmocka_unit_test(test_schedule_configured),
      cmocka_unit_test(test_server_answers_client),
      cmocka_unit_test(test_spoofed_and_malformed),
      cmocka_unit_test(test_error_and_unknown_in_response),
      cmocka_unit_test(test_server_errors),
      cmocka_unit_test(test_mapping_behaviour),
      cmocka_unit_test(test_rfc5780),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
