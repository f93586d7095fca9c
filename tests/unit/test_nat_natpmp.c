/* NAT-PMP codec (RFC 6886 layouts byte-exact, truncations) and client
 * (250 ms doubling schedule, renewal, epoch reboot detection, spoofing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "nat/natpmp.h"
#include "nat/natpmp_client.h"
#include "p2pq/error.h"

static p2pq_addr addr(const char *s) {
  p2pq_addr a;
  assert_int_equal(p2pq_addr_parse(&a, s, -1), 0);
  return a;
}

static void test_request_layouts(void **state) {
  uint8_t out[16];
  size_t n;
  static const uint8_t want_map[12] = {0, 1, 0, 0, 0x11, 0x51, 0x11, 0x52, 0, 0, 0x1c, 0x20};
  (void)state;
  assert_int_equal(p2pq_natpmp_build_address_request(out, sizeof(out), &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(out[0], 0);
  assert_int_equal(out[1], 0);
  assert_int_equal(p2pq_natpmp_build_map_request(1, 4433, 4434, 7200, out, sizeof(out), &n), 0);
  assert_int_equal(n, 12);
  assert_memory_equal(out, want_map, 12);
  assert_int_equal(p2pq_natpmp_build_map_request(2, 1, 2, 3, out, sizeof(out), &n), 0);
  assert_int_equal(out[1], 2);
  for (size_t cap = 0; cap < 12; cap++)
    assert_int_equal(p2pq_natpmp_build_map_request(1, 1, 1, 1, out, cap, &n), P2PQ_ERR_NOBUF);
  assert_int_equal(p2pq_natpmp_build_address_request(out, 1, &n), P2PQ_ERR_NOBUF);
  assert_int_equal(p2pq_natpmp_build_map_request(0, 1, 1, 1, out, sizeof(out), &n),
                   P2PQ_ERR_INVALID_ARG);
}

static void test_response_parse(void **state) {
  static const uint8_t addr_resp[12] = {0, 128, 0, 0, 0, 0, 0x01, 0x00, 203, 0, 113, 9};
  static const uint8_t map_resp[16] = {0,    129,  0,    0,    0, 0, 0x02, 0x00,
                                       0x11, 0x51, 0xee, 0x48, 0, 0, 0x0e, 0x10};
  static const uint8_t short_err[8] = {0, 129, 0, 4, 0, 0, 0, 7};
  p2pq_natpmp_resp r;
  (void)state;
  assert_int_equal(p2pq_natpmp_parse_response(addr_resp, 12, &r), 0);
  assert_int_equal(r.op, 0);
  assert_int_equal(r.epoch, 256);
  assert_memory_equal(r.external_ip, ((uint8_t[]){203, 0, 113, 9}), 4);
  assert_int_equal(p2pq_natpmp_parse_response(map_resp, 16, &r), 0);
  assert_int_equal(r.op, 1);
  assert_int_equal(r.internal_port, 4433);
  assert_int_equal(r.external_port, 61000);
  assert_int_equal(r.lifetime, 3600);
  assert_int_equal(r.epoch, 512);
  for (size_t k = 0; k < 12; k++)
    assert_int_equal(p2pq_natpmp_parse_response(addr_resp, k, &r), P2PQ_ERR_TRUNCATED);
  for (size_t k = 0; k < 16; k++)
    assert_int_equal(p2pq_natpmp_parse_response(map_resp, k, &r), P2PQ_ERR_TRUNCATED);
  assert_int_equal(p2pq_natpmp_parse_response(short_err, 8, &r), 0);
  assert_int_equal(r.result, P2PQ_NATPMP_OUT_OF_RESOURCES);
  assert_false(r.has_body);
  assert_string_equal(p2pq_natpmp_result_name(r.result), "OUT_OF_RESOURCES");
  assert_string_equal(p2pq_natpmp_result_name(6), "UNKNOWN");
  /* A request, an unknown opcode, another version. */
  static const uint8_t req[2] = {0, 0}, unk[12] = {0, 131, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
                       v2[24] = {2, 0x81, 0, 1};
  assert_int_equal(p2pq_natpmp_parse_response(req, 2, &r), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_natpmp_parse_response(unk, 12, &r), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_natpmp_parse_response(v2, 24, &r), P2PQ_ERR_UNSUPPORTED);
  /* Round trip through the gateway-side builder. */
  uint8_t out[16];
  size_t n;
  assert_int_equal(p2pq_natpmp_parse_response(map_resp, 16, &r), 0);
  assert_int_equal(p2pq_natpmp_build_response(&r, out, sizeof(out), &n), 0);
  assert_int_equal(n, 16);
  assert_memory_equal(out, map_resp, 16);
}

static p2pq_natpmp_client_cfg map_cfg(void) {
  p2pq_natpmp_client_cfg cfg;
  p2pq_natpmp_client_cfg_default(&cfg);
  cfg.server = addr("192.168.1.1:5351");
  cfg.internal_port = 4433;
  cfg.suggested_port = 4433;
  return cfg;
}

static size_t map_answer(uint8_t *out, uint16_t result, uint32_t epoch, uint16_t iport,
                         uint16_t eport, uint32_t life) {
  p2pq_natpmp_resp r;
  size_t n;
  memset(&r, 0, sizeof(r));
  r.op = 1;
  r.result = result;
  r.epoch = epoch;
  r.has_body = 1;
  r.internal_port = iport;
  r.external_port = eport;
  r.lifetime = life;
  assert_int_equal(p2pq_natpmp_build_response(&r, out, 16, &n), 0);
  return n;
}

static void test_schedule(void **state) {
  p2pq_natpmp_client c;
  p2pq_natpmp_client_cfg cfg = map_cfg();
  uint8_t out[16];
  size_t n;
  /* Sends at 0, .25, .75, 1.75, 3.75, 7.75, 15.75, 31.75, 63.75 s; give up at 127.75 s. */
  static const unsigned at_ms[9] = {0, 250, 750, 1750, 3750, 7750, 15750, 31750, 63750};
  (void)state;
  assert_int_equal(p2pq_natpmp_client_init(&c, &cfg), 0);
  assert_int_equal(p2pq_natpmp_client_start(&c, 0, out, sizeof(out), &n), 0);
  assert_int_equal(n, 12);
  for (int i = 1; i < 9; i++) {
    p2pq_tstamp due = at_ms[i] * P2PQ_MS;
    assert_true(p2pq_natpmp_client_next_timeout(&c) == due);
    assert_int_equal(p2pq_natpmp_client_on_timeout(&c, due - 1, out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(p2pq_natpmp_client_on_timeout(&c, due, out, sizeof(out), &n), 0);
    assert_int_equal(n, 12);
  }
  assert_true(p2pq_natpmp_client_next_timeout(&c) == 127750 * P2PQ_MS);
  assert_int_equal(p2pq_natpmp_client_on_timeout(&c, 127750 * P2PQ_MS, out, sizeof(out), &n),
                   P2PQ_ERR_TIMEOUT);
  assert_int_equal(c.sends, 9);
  /* Bounded probing: max_total 1 s -> sends at 0, .25, .75, timeout at 1 s. */
  cfg.max_total = P2PQ_S;
  p2pq_natpmp_client_init(&c, &cfg);
  p2pq_natpmp_client_start(&c, 0, out, sizeof(out), &n);
  p2pq_tstamp t;
  int rc = 0;
  while ((t = p2pq_natpmp_client_next_timeout(&c)) != P2PQ_TSTAMP_MAX) {
    rc = p2pq_natpmp_client_on_timeout(&c, t, out, sizeof(out), &n);
    if (rc)
      break;
  }
  assert_int_equal(rc, P2PQ_ERR_TIMEOUT);
  assert_true(t == P2PQ_S);
  assert_int_equal(c.sends, 3);
}

static void test_map_renew_reboot_delete(void **state) {
  p2pq_natpmp_client c;
  p2pq_natpmp_client_cfg cfg = map_cfg();
  uint8_t out[16], resp[16];
  size_t n, rn;
  p2pq_addr gw = addr("192.168.1.1:5351"), evil = addr("192.168.1.66:5351"),
            evil_port = addr("192.168.1.1:9999");
  p2pq_tstamp t0 = 50 * P2PQ_S;
  (void)state;
  p2pq_natpmp_client_init(&c, &cfg);
  p2pq_natpmp_client_start(&c, t0, out, sizeof(out), &n);
  rn = map_answer(resp, 0, 1000, 4433, 61000, 3600);
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &evil, t0), P2PQ_ERR_SPOOFED);
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &evil_port, t0), P2PQ_ERR_SPOOFED);
  size_t wn = map_answer(resp, 0, 1000, 4434, 61000, 3600); /* wrong internal port */
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, wn, &gw, t0), P2PQ_ERR_SPOOFED);
  assert_int_equal(c.dropped_spoofed, 3);
  rn = map_answer(resp, 0, 1000, 4433, 61000, 3600);
  for (size_t k = 0; k < rn; k++)
    assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, k, &gw, t0), P2PQ_ERR_MALFORMED);
  assert_int_equal(c.dropped_malformed, rn);
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &gw, t0 + P2PQ_S), 0);
  assert_int_equal(c.state, P2PQ_NATPMP_MAPPED);
  assert_int_equal(c.external_port, 61000);
  /* Renewal at half the granted lifetime. */
  p2pq_tstamp renew = t0 + P2PQ_S + 1800 * P2PQ_S;
  assert_true(p2pq_natpmp_client_next_timeout(&c) == renew);
  assert_int_equal(p2pq_natpmp_client_on_timeout(&c, renew, out, sizeof(out), &n), 0);
  assert_int_equal(n, 12);
  assert_int_equal(c.state, P2PQ_NATPMP_RENEWING);
  /* Answer with a consistent epoch. */
  rn = map_answer(resp, 0, 1000 + 1800, 4433, 61000, 3600);
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &gw, renew), 0);
  assert_int_equal(c.epoch_resets, 0);
  /* Address announcement after a reboot: epoch 5 -> re-map now. */
  p2pq_natpmp_resp an;
  memset(&an, 0, sizeof(an));
  an.op = 0;
  an.epoch = 5;
  an.has_body = 1;
  memcpy(an.external_ip, ((uint8_t[]){203, 0, 113, 9}), 4);
  p2pq_natpmp_build_response(&an, resp, sizeof(resp), &rn);
  p2pq_tstamp t3 = renew + 600 * P2PQ_S;
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &gw, t3), 0);
  assert_int_equal(c.epoch_resets, 1);
  assert_true(p2pq_natpmp_client_next_timeout(&c) == t3);
  assert_int_equal(p2pq_natpmp_client_on_timeout(&c, t3, out, sizeof(out), &n), 0);
  assert_int_equal(c.state, P2PQ_NATPMP_REQUESTING);
  rn = map_answer(resp, 0, 6, 4433, 61002, 7200);
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &gw, t3 + P2PQ_S), 0);
  assert_int_equal(c.external_port, 61002);
  /* Delete: lifetime 0 and suggested port 0. */
  assert_int_equal(p2pq_natpmp_client_delete(&c, t3 + 2 * P2PQ_S, out, sizeof(out), &n), 0);
  static const uint8_t want_del[12] = {0, 1, 0, 0, 0x11, 0x51, 0, 0, 0, 0, 0, 0};
  assert_memory_equal(out, want_del, 12);
  rn = map_answer(resp, 0, 8, 4433, 0, 0);
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &gw, t3 + 3 * P2PQ_S), 0);
  assert_int_equal(c.state, P2PQ_NATPMP_DELETED);
}

static void test_address_query_and_errors(void **state) {
  p2pq_natpmp_client c;
  p2pq_natpmp_client_cfg cfg = map_cfg();
  uint8_t out[16], resp[16];
  size_t n, rn;
  p2pq_addr gw = addr("192.168.1.1:5351");
  p2pq_natpmp_resp a;
  (void)state;
  cfg.op = P2PQ_NATPMP_OP_ADDRESS;
  p2pq_natpmp_client_init(&c, &cfg);
  p2pq_natpmp_client_start(&c, 0, out, sizeof(out), &n);
  assert_int_equal(n, 2);
  /* A mapping answer is not what we asked. */
  rn = map_answer(resp, 0, 1, 4433, 1, 1);
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &gw, 1), P2PQ_ERR_SPOOFED);
  memset(&a, 0, sizeof(a));
  a.epoch = 77;
  a.has_body = 1;
  memcpy(a.external_ip, ((uint8_t[]){198, 51, 100, 4}), 4);
  p2pq_natpmp_build_response(&a, resp, sizeof(resp), &rn);
  assert_int_equal(rn, 12);
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &gw, 2), 0);
  assert_int_equal(c.state, P2PQ_NATPMP_DONE);
  assert_memory_equal(c.external_ip, ((uint8_t[]){198, 51, 100, 4}), 4);
  /* The gateway later announces a new public address. */
  a.epoch = 90;
  a.external_ip[3] = 5;
  p2pq_natpmp_build_response(&a, resp, sizeof(resp), &rn);
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, resp, rn, &gw, 15 * P2PQ_S), 0);
  assert_memory_equal(c.external_ip, ((uint8_t[]){198, 51, 100, 5}), 4);
  assert_int_equal(c.epoch_resets, 0);
  assert_int_equal(p2pq_natpmp_client_delete(&c, 3, out, sizeof(out), &n), P2PQ_ERR_STATE);
  /* Refused mapping (short error form). */
  cfg.op = 1;
  p2pq_natpmp_client_init(&c, &cfg);
  p2pq_natpmp_client_start(&c, 0, out, sizeof(out), &n);
  static const uint8_t refused[8] = {0, 129, 0, 2, 0, 0, 0, 9};
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, refused, 8, &gw, 1), P2PQ_ERR_PORTMAP);
  assert_int_equal(c.result, P2PQ_NATPMP_NOT_AUTHORIZED);
  /* A PCP answer: not our version. */
  p2pq_natpmp_client_start(&c, 0, out, sizeof(out), &n);
  static const uint8_t pcp[24] = {2, 0x81, 0, 0};
  assert_int_equal(p2pq_natpmp_client_on_recv(&c, pcp, 24, &gw, 1), P2PQ_ERR_UNSUPPORTED);
  /* IPv6 gateways do not exist for NAT-PMP. */
  cfg.server = addr("[fe80::1]:5351");
  assert_int_equal(p2pq_natpmp_client_init(&c, &cfg), P2PQ_ERR_CONFIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_layouts),
      cmocka_unit_test(test_response_parse),
      cmocka_unit_test(test_schedule),
      cmocka_unit_test(test_map_renew_reboot_delete),
      cmocka_unit_test(test_address_query_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
