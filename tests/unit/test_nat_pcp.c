/* PCP codec (RFC 6887 layouts byte-exact, truncations) and the MAP client
 * (retransmission on a virtual clock, renewal, epoch, spoofing, delete). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "nat/pcp.h"
#include "nat/pcp_client.h"
#include "p2pq/error.h"

static p2pq_addr addr(const char *s) {
  p2pq_addr a;
  assert_int_equal(p2pq_addr_parse(&a, s, -1), 0);
  return a;
}

/* Fills with a fixed byte: 0x80 0x00 gives RAND = 0 (factor exactly 1). */
static void const_rand(void *user, uint8_t *out, size_t len) {
  memset(out, *(uint8_t *)user, len);
}

static const uint8_t nonce12[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void test_map_request_layout(void **state) {
  p2pq_pcp_map_req r;
  uint8_t out[80];
  size_t n;
  static const uint8_t want[60] = {
      2, 1, 0, 0, 0, 0, 0x1c, 0x20, /* version 2, MAP, lifetime 7200 */
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 20, /* ::ffff:192.168.1.20 */
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, /* nonce */
      17, 0, 0, 0, 0x11, 0x51, 0x11, 0x52,   /* UDP, internal 4433, suggested 4434 */
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}; /* ::ffff:0.0.0.0 */
  (void)state;
  memset(&r, 0, sizeof(r));
  r.lifetime = 7200;
  r.client = addr("192.168.1.20:0");
  memcpy(r.nonce, nonce12, 12);
  r.protocol = 17;
  r.internal_port = 4433;
  r.suggested.port = 4434; /* ignored: family 0 means no suggestion at all */
  assert_int_equal(p2pq_pcp_build_map(&r, out, sizeof(out), &n), 0);
  assert_int_equal(n, 60);
  /* Without a suggested family the suggested port is 0. */
  uint8_t want0[60];
  memcpy(want0, want, 60);
  want0[42] = want0[43] = 0;
  assert_memory_equal(out, want0, 60);
  r.suggested = addr("0.0.0.0:4434");
  assert_int_equal(p2pq_pcp_build_map(&r, out, sizeof(out), &n), 0);
  assert_memory_equal(out, want, 60);
  /* PREFER_FAILURE adds a 4-byte option. */
  r.prefer_failure = 1;
  assert_int_equal(p2pq_pcp_build_map(&r, out, sizeof(out), &n), 0);
  assert_int_equal(n, 64);
  assert_int_equal(out[60], P2PQ_PCP_OPT_PREFER_FAILURE);
  for (size_t cap = 0; cap < 64; cap++)
    assert_int_equal(p2pq_pcp_build_map(&r, out, cap, &n), P2PQ_ERR_NOBUF);
  /* Parsed back by the server side. */
  uint8_t op;
  p2pq_pcp_map_req back;
  assert_int_equal(p2pq_pcp_build_map(&r, out, sizeof(out), &n), 0);
  assert_int_equal(p2pq_pcp_parse_request(out, n, &op, &back), 0);
  assert_int_equal(op, P2PQ_PCP_OP_MAP);
  assert_int_equal(back.lifetime, 7200);
  assert_true(p2pq_addr_equal_ip(&back.client, &r.client));
  assert_memory_equal(back.nonce, nonce12, 12);
  assert_int_equal(back.internal_port, 4433);
  assert_int_equal(back.suggested.port, 4434);
  assert_int_equal(back.prefer_failure, 1);
  /* IPv6 client. */
  memset(&r, 0, sizeof(r));
  r.client = addr("[2001:db8::5]:0");
  r.protocol = 17;
  r.internal_port = 1;
  assert_int_equal(p2pq_pcp_build_map(&r, out, sizeof(out), &n), 0);
  assert_int_equal(out[8], 0x20);
  assert_int_equal(out[9], 0x01);
  for (int i = 44; i < 60; i++)
    assert_int_equal(out[i], 0); /* :: = any IPv6 */
  /* Port 0 only with protocol 0. */
  r.internal_port = 0;
  assert_int_equal(p2pq_pcp_build_map(&r, out, sizeof(out), &n), P2PQ_ERR_INVALID_ARG);
}

static void test_announce_layout(void **state) {
  uint8_t out[32], op;
  size_t n;
  p2pq_addr cl = addr("10.0.0.2:0");
  p2pq_pcp_map_req back;
  (void)state;
  assert_int_equal(p2pq_pcp_build_announce(&cl, out, sizeof(out), &n), 0);
  assert_int_equal(n, 24);
  assert_int_equal(out[0], 2);
  assert_int_equal(out[1], 0);
  assert_int_equal(out[23], 2);
  assert_int_equal(p2pq_pcp_parse_request(out, n, &op, &back), 0);
  assert_int_equal(op, P2PQ_PCP_OP_ANNOUNCE);
  assert_int_equal(p2pq_pcp_build_announce(&cl, out, 23, &n), P2PQ_ERR_NOBUF);
}

static size_t make_resp(uint8_t *out, uint8_t result, uint32_t lifetime, uint32_t epoch,
                        const uint8_t *nonce, uint16_t iport, const char *ext) {
  p2pq_pcp_resp r;
  size_t n;
  memset(&r, 0, sizeof(r));
  r.opcode = P2PQ_PCP_OP_MAP;
  r.result = result;
  r.lifetime = lifetime;
  r.epoch = epoch;
  r.has_map = 1;
  memcpy(r.nonce, nonce, 12);
  r.protocol = 17;
  r.internal_port = iport;
  r.external = addr(ext);
  assert_int_equal(p2pq_pcp_build_response(&r, out, 128, &n), 0);
  return n;
}

static void test_response_parse(void **state) {
  uint8_t buf[128];
  p2pq_pcp_resp r;
  size_t n = make_resp(buf, 0, 3600, 1234, nonce12, 4433, "203.0.113.9:61000");
  (void)state;
  assert_int_equal(n, 60);
  assert_int_equal(buf[1], 0x81); /* R bit */
  assert_int_equal(p2pq_pcp_parse_response(buf, n, &r), 0);
  assert_int_equal(r.opcode, P2PQ_PCP_OP_MAP);
  assert_int_equal(r.lifetime, 3600);
  assert_int_equal(r.epoch, 1234);
  assert_true(r.has_map);
  p2pq_addr want = addr("203.0.113.9:61000");
  assert_true(p2pq_addr_equal(&r.external, &want));
  /* Every truncation is rejected. */
  for (size_t k = 0; k < n; k++)
    assert_true(p2pq_pcp_parse_response(buf, k, &r) < 0);
  /* R bit clear: a request. */
  buf[1] = 0x01;
  assert_int_equal(p2pq_pcp_parse_response(buf, n, &r), P2PQ_ERR_MALFORMED);
  buf[1] = 0x81;
  /* Options: a valid one, then a truncated one. */
  memcpy(buf + 60, (const uint8_t[]){0x80, 0, 0, 4, 1, 2, 3, 4}, 8);
  assert_int_equal(p2pq_pcp_parse_response(buf, 68, &r), 0);
  buf[63] = 8;
  assert_int_equal(p2pq_pcp_parse_response(buf, 68, &r), P2PQ_ERR_TRUNCATED);
  /* Over 1100 bytes. */
  uint8_t big[1104];
  memset(big, 0, sizeof(big));
  memcpy(big, buf, 60);
  assert_int_equal(p2pq_pcp_parse_response(big, sizeof(big), &r), P2PQ_ERR_MALFORMED);
  /* Error response with header only. */
  n = make_resp(buf, P2PQ_PCP_NO_RESOURCES, 30, 5, nonce12, 1, "0.0.0.0:0");
  assert_int_equal(p2pq_pcp_parse_response(buf, 24, &r), 0);
  assert_int_equal(r.result, P2PQ_PCP_NO_RESOURCES);
  assert_false(r.has_map);
  /* NAT-PMP gateway saying UNSUPP_VERSION in NAT-PMP format. */
  static const uint8_t natpmp[8] = {0, 129, 0, 1, 0, 0, 0, 9};
  assert_int_equal(p2pq_pcp_parse_response(natpmp, 8, &r), P2PQ_ERR_UNSUPPORTED);
  assert_int_equal(r.version, 0);
  assert_int_equal(r.result, P2PQ_PCP_UNSUPP_VERSION);
  for (size_t k = 0; k < 4; k++)
    assert_int_equal(p2pq_pcp_parse_response(natpmp, k, &r), P2PQ_ERR_TRUNCATED);
}

static void test_result_names(void **state) {
  (void)state;
  assert_string_equal(p2pq_pcp_result_name(0), "SUCCESS");
  assert_string_equal(p2pq_pcp_result_name(1), "UNSUPP_VERSION");
  assert_string_equal(p2pq_pcp_result_name(8), "NO_RESOURCES");
  assert_string_equal(p2pq_pcp_result_name(13), "EXCESSIVE_REMOTE_PEERS");
  assert_string_equal(p2pq_pcp_result_name(14), "UNKNOWN");
  assert_string_equal(p2pq_pcp_result_name(-1), "UNKNOWN");
}

static uint8_t rand_byte;

static void client_cfg(p2pq_pcp_client_cfg *cfg) {
  p2pq_pcp_client_cfg_default(cfg);
  cfg->server = addr("192.168.1.1:5351");
  cfg->client = addr("192.168.1.20:0");
  cfg->internal_port = 4433;
  cfg->rand = const_rand;
  cfg->rand_user = &rand_byte;
}

static void test_retransmission_schedule(void **state) {
  p2pq_pcp_client c;
  p2pq_pcp_client_cfg cfg;
  uint8_t out[80];
  size_t n;
  p2pq_tstamp now = 0, expect = 0;
  (void)state;
  client_cfg(&cfg);
  /* RAND = 0: 3, 6, 12, ..., 768, then capped at 1024 s. */
  rand_byte = 0x80;
  assert_int_equal(p2pq_pcp_client_init(&c, &cfg), 0);
  assert_int_equal(p2pq_pcp_client_start(&c, 0, out, sizeof(out), &n), 0);
  assert_int_equal(n, 60);
  static const unsigned rts[] = {3, 6, 12, 24, 48, 96, 192, 384, 768, 1024, 1024, 1024};
  for (size_t i = 0; i < sizeof(rts) / sizeof(rts[0]); i++) {
    expect += rts[i] * P2PQ_S;
    now = p2pq_pcp_client_next_timeout(&c);
    assert_true(now == expect);
    assert_int_equal(p2pq_pcp_client_on_timeout(&c, now - 1, out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(p2pq_pcp_client_on_timeout(&c, now, out, sizeof(out), &n), 0);
    assert_int_equal(n, 60);
  }
  /* RAND = -0.1 and +0.1 scale the first RT to 2.7 s and 3.3 s. */
  rand_byte = 0x00;
  p2pq_pcp_client_init(&c, &cfg);
  p2pq_pcp_client_start(&c, 0, out, sizeof(out), &n);
  assert_true(p2pq_pcp_client_next_timeout(&c) == 2700 * P2PQ_MS);
  rand_byte = 0xFF;
  p2pq_pcp_client_init(&c, &cfg);
  p2pq_pcp_client_start(&c, 0, out, sizeof(out), &n);
  assert_true(p2pq_pcp_client_next_timeout(&c) == 3300 * P2PQ_MS);
  p2pq_pcp_client_on_timeout(&c, 3300 * P2PQ_MS, out, sizeof(out), &n);
  /* Second RT = 1.1 * 2 * 3.3 s. */
  assert_true(p2pq_pcp_client_next_timeout(&c) == (3300 + 7260) * P2PQ_MS);
}

static void test_gateway_probe_timeout(void **state) {
  p2pq_pcp_client c;
  p2pq_pcp_client_cfg cfg;
  uint8_t out[80];
  size_t n;
  (void)state;
  client_cfg(&cfg);
  cfg.max_total = 3 * P2PQ_S;
  rand_byte = 0x00; /* first RT 2.7 s: one retransmission before the bound */
  p2pq_pcp_client_init(&c, &cfg);
  p2pq_pcp_client_start(&c, 100, out, sizeof(out), &n);
  assert_true(p2pq_pcp_client_next_timeout(&c) == 100 + 2700 * P2PQ_MS);
  assert_int_equal(p2pq_pcp_client_on_timeout(&c, 100 + 2700 * P2PQ_MS, out, sizeof(out), &n), 0);
  assert_int_equal(n, 60);
  assert_true(p2pq_pcp_client_next_timeout(&c) == 100 + 3 * P2PQ_S);
  assert_int_equal(p2pq_pcp_client_on_timeout(&c, 100 + 3 * P2PQ_S, out, sizeof(out), &n),
                   P2PQ_ERR_TIMEOUT);
  assert_int_equal(c.state, P2PQ_PCP_FAILED);
  assert_int_equal(c.sends, 2);
  assert_true(p2pq_pcp_client_next_timeout(&c) == P2PQ_TSTAMP_MAX);
}

static void test_map_renew_epoch_delete(void **state) {
  p2pq_pcp_client c;
  p2pq_pcp_client_cfg cfg;
  uint8_t out[80], resp[128];
  size_t n, rn;
  p2pq_addr gw = addr("192.168.1.1:5351"), ext = addr("203.0.113.9:61000");
  p2pq_tstamp t = 10 * P2PQ_S;
  (void)state;
  client_cfg(&cfg);
  rand_byte = 0x80;
  p2pq_pcp_client_init(&c, &cfg);
  p2pq_pcp_client_start(&c, t, out, sizeof(out), &n);
  assert_memory_equal(out + 24, c.nonce, 12);
  /* Spoofs: wrong nonce, wrong internal port, wrong source IP, wrong source port. */
  uint8_t bad_nonce[12];
  memcpy(bad_nonce, c.nonce, 12);
  bad_nonce[0] ^= 1;
  rn = make_resp(resp, 0, 3600, 100, bad_nonce, 4433, "203.0.113.9:61000");
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &gw, t), P2PQ_ERR_SPOOFED);
  rn = make_resp(resp, 0, 3600, 100, c.nonce, 4434, "203.0.113.9:61000");
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &gw, t), P2PQ_ERR_SPOOFED);
  rn = make_resp(resp, 0, 3600, 100, c.nonce, 4433, "203.0.113.9:61000");
  p2pq_addr other = addr("192.168.1.254:5351"), other_port = addr("192.168.1.1:5350");
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &other, t), P2PQ_ERR_SPOOFED);
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &other_port, t), P2PQ_ERR_SPOOFED);
  uint8_t v6ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 1};
  p2pq_addr v6src;
  p2pq_addr_v6(&v6src, v6ip, 5351); /* same bytes, other family */
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &v6src, t), P2PQ_ERR_SPOOFED);
  assert_int_equal(c.dropped_spoofed, 5);
  for (size_t k = 0; k < rn; k++)
    assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, k, &gw, t), P2PQ_ERR_MALFORMED);
  assert_int_equal(c.state, P2PQ_PCP_REQUESTING);
  /* The real answer. */
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &gw, t + P2PQ_S), 0);
  assert_int_equal(c.state, P2PQ_PCP_MAPPED);
  assert_true(p2pq_addr_equal(&c.external, &ext));
  assert_int_equal(c.granted, 3600);
  /* Renewal between 1/2 and 5/8 of 3600 s (RAND byte 0x80 -> just over 1/2 + 1/16). */
  p2pq_tstamp renew = p2pq_pcp_client_next_timeout(&c);
  assert_true(renew >= t + P2PQ_S + 1800 * P2PQ_S && renew <= t + P2PQ_S + 2250 * P2PQ_S);
  assert_int_equal(p2pq_pcp_client_on_timeout(&c, renew, out, sizeof(out), &n), 0);
  assert_int_equal(n, 60);
  assert_int_equal(c.state, P2PQ_PCP_RENEWING);
  assert_memory_equal(out + 24, c.nonce, 12); /* same nonce */
  /* Renewal answer with a consistent epoch (server time advanced the same). */
  p2pq_tstamp t2 = renew + P2PQ_S;
  uint32_t ep2 = 100 + (uint32_t)((t2 - (t + P2PQ_S)) / P2PQ_S);
  rn = make_resp(resp, 0, 3600, ep2, c.nonce, 4433, "203.0.113.9:61000");
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &gw, t2), 0);
  assert_int_equal(c.state, P2PQ_PCP_MAPPED);
  assert_int_equal(c.epoch_resets, 0);
  /* ANNOUNCE from a rebooted server (epoch 3) -> re-map at once. */
  p2pq_pcp_resp an;
  memset(&an, 0, sizeof(an));
  an.opcode = P2PQ_PCP_OP_ANNOUNCE;
  an.epoch = 3;
  assert_int_equal(p2pq_pcp_build_response(&an, resp, sizeof(resp), &rn), 0);
  assert_int_equal(rn, 24);
  p2pq_addr gw_announce = addr("192.168.1.1:5350");
  p2pq_tstamp t3 = t2 + 100 * P2PQ_S;
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &gw_announce, t3), 0);
  assert_int_equal(c.epoch_resets, 1);
  assert_true(p2pq_pcp_client_next_timeout(&c) == t3);
  assert_int_equal(p2pq_pcp_client_on_timeout(&c, t3, out, sizeof(out), &n), 0);
  assert_int_equal(n, 60);
  assert_int_equal(c.state, P2PQ_PCP_REQUESTING);
  assert_true(p2pq_pcp_client_next_timeout(&c) == t3 + 3 * P2PQ_S);
  rn = make_resp(resp, 0, 7200, 4, c.nonce, 4433, "203.0.113.10:61001");
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &gw, t3 + P2PQ_S), 0);
  assert_int_equal(c.state, P2PQ_PCP_MAPPED);
  assert_int_equal(c.external.port, 61001);
  /* Delete: lifetime 0, same nonce. */
  assert_int_equal(p2pq_pcp_client_delete(&c, t3 + 2 * P2PQ_S, out, sizeof(out), &n), 0);
  assert_int_equal(out[4] | out[5] | out[6] | out[7], 0);
  assert_memory_equal(out + 24, c.nonce, 12);
  rn = make_resp(resp, 0, 0, 6, c.nonce, 4433, "203.0.113.10:61001");
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &gw, t3 + 3 * P2PQ_S), 0);
  assert_int_equal(c.state, P2PQ_PCP_DELETED);
  assert_true(p2pq_pcp_client_next_timeout(&c) == P2PQ_TSTAMP_MAX);
}

static void test_errors_and_fallback(void **state) {
  p2pq_pcp_client c;
  p2pq_pcp_client_cfg cfg;
  uint8_t out[80], resp[128];
  size_t n, rn;
  p2pq_addr gw = addr("192.168.1.1:5351");
  (void)state;
  client_cfg(&cfg);
  rand_byte = 0x80;
  p2pq_pcp_client_init(&c, &cfg);
  p2pq_pcp_client_start(&c, 0, out, sizeof(out), &n);
  rn = make_resp(resp, P2PQ_PCP_NOT_AUTHORIZED, 60, 1, c.nonce, 4433, "0.0.0.0:0");
  assert_int_equal(p2pq_pcp_client_on_recv(&c, resp, rn, &gw, 1), P2PQ_ERR_PORTMAP);
  assert_int_equal(c.result, P2PQ_PCP_NOT_AUTHORIZED);
  assert_int_equal(c.error_lifetime, 60);
  assert_string_equal(p2pq_pcp_result_name(c.result), "NOT_AUTHORIZED");
  /* NAT-PMP-only gateway. */
  p2pq_pcp_client_start(&c, 0, out, sizeof(out), &n);
  static const uint8_t natpmp[8] = {0, 129, 0, 1, 0, 0, 0, 9};
  assert_int_equal(p2pq_pcp_client_on_recv(&c, natpmp, 8, &gw, 1), P2PQ_ERR_UNSUPPORTED);
  assert_int_equal(c.state, P2PQ_PCP_FAILED);
  /* Restarting a running client is refused; init rejects bad configs. */
  p2pq_pcp_client_start(&c, 0, out, sizeof(out), &n);
  assert_int_equal(p2pq_pcp_client_start(&c, 0, out, sizeof(out), &n), P2PQ_ERR_STATE);
  cfg.rand = NULL;
  assert_int_equal(p2pq_pcp_client_init(&c, &cfg), P2PQ_ERR_CONFIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_map_request_layout),
      cmocka_unit_test(test_announce_layout),
      cmocka_unit_test(test_response_parse),
      cmocka_unit_test(test_result_names),
      cmocka_unit_test(test_retransmission_schedule),
      cmocka_unit_test(test_gateway_probe_timeout),
      cmocka_unit_test(test_map_renew_epoch_delete),
      cmocka_unit_test(test_errors_and_fallback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
