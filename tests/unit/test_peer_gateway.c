/* Default-gateway parsing from /proc/net/route and /proc/net/ipv6_route text
 * (samples as Linux prints them, padding included). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "p2pq/error.h"
#include "peer/gateway.h"

/* 192.0.2.1 via eth0: the kernel prints the address's in-memory u32. */
static const char route4[] =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT    "
    "                                                   \n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0                         \n"
    "wlan0\t00000000\t FE0110AC\t0003\t0\t0\t600\t00000000\t0\t0\t0                     \n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0                       \n"
    "tun0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0                        \n"
    "eth1\t00000000\t0A00000A\t0002\t0\t0\t1\t00000000\t0\t0\t0                         \n";

static const char route6[] =
    "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000099 00000800 00000002 00000000 00000003    wlan0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fd000000000000000000000000000005 00000001 00000001 00000000 00000203     eth0\n";

static int parse4(const char *s, size_t len, p2pq_gateway *g) {
  return p2pq_gateway_parse_route4((const uint8_t *)s, len, g);
}
static int parse6(const char *s, size_t len, p2pq_gateway *g) {
  return p2pq_gateway_parse_route6((const uint8_t *)s, len, g);
}

static void test_route4_lowest_metric(void **state) {
  p2pq_gateway g;
  char a[P2PQ_ADDR_STRLEN];
  (void)state;
  /* the wlan0 line has a blank inside a field run: still 11 fields */
  assert_int_equal(parse4(route4, strlen(route4), &g), 0);
  assert_int_equal(g.addr.family, 4);
  assert_string_equal(p2pq_addr_format(&g.addr, a, sizeof(a)), "192.0.2.1:0");
  assert_string_equal(g.ifname, "eth0");
  assert_int_equal(g.metric, 100);
}

static void test_route4_none(void **state) {
  static const char t[] =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"     /* no gateway */
      "eth1\t00000000\t0A00000A\t0002\t0\t0\t0\t00000000\t0\t0\t0\n"     /* not up */
      "eth2\t00000000\t0A00000A\t0003\t0\t0\t0\t00000080\t0\t0\t0\n";    /* 128.0.0.0/1 */
  p2pq_gateway g;
  (void)state;
  assert_int_equal(parse4(t, strlen(t), &g), P2PQ_ERR_NO_GATEWAY);
  assert_int_equal(parse4(t, strchr(t, '\n') - t + 1, &g), P2PQ_ERR_NO_GATEWAY);
}

/* Every cut: inside a line it is truncated; at a line end it is a shorter
 * valid table (with or without the default route yet). */
static void test_route4_truncations(void **state) {
  size_t len = strlen(route4), cut;
  (void)state;
  for (cut = 0; cut < len; cut++) {
    p2pq_gateway g;
    int rv = parse4(route4, cut, &g);
    if (cut > 0 && route4[cut - 1] == '\n') {
      assert_true(rv == 0 || rv == P2PQ_ERR_NO_GATEWAY);
      if (rv == 0)
        assert_true(g.metric == 600 || g.metric == 100);
    } else {
      assert_int_equal(rv, P2PQ_ERR_TRUNCATED);
    }
  }
}

static void test_route4_malformed(void **state) {
  static const char *bad[] = {
      "Destination\tGateway\n",                                             /* no Iface header */
      "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
      "eth0\t00000000\t01020XC0\t0003\t0\t0\t0\t00000000\n",                /* not hex */
      "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
      "eth0\t00000000\t010200C0\t0003\t0\t0\n",                             /* too few fields */
      "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
      "eth0\t00000000\t10200C0\t0003\t0\t0\t0\t00000000\n",                 /* 7 digits */
      "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
      "eth0\t00000000\t010200C0\t0003\t0\t0\t-1\t00000000\n",               /* metric */
      "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
      "eth0\t00000000\t010200C0\t0003\t0\t0\t99999999999\t00000000\n",      /* overflow */
  };
  p2pq_gateway g;
  char nul[] = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
               "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n";
  char longline[700];
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(parse4(bad[i], strlen(bad[i]), &g), P2PQ_ERR_MALFORMED);
  nul[strlen(nul) - 3] = '\0'; /* a NUL inside a line */
  assert_int_equal(parse4(nul, sizeof(nul) - 1, &g), P2PQ_ERR_MALFORMED);
  memset(longline, 'a', sizeof(longline));
  longline[sizeof(longline) - 1] = '\n';
  assert_int_equal(parse4(longline, sizeof(longline), &g), P2PQ_ERR_MALFORMED);
}

static void test_route6(void **state) {
  p2pq_gateway g;
  char a[P2PQ_ADDR_STRLEN];
  (void)state;
  /* fd00::5 has the lowest metric but RTF_REJECT; lo's has no gateway */
  assert_int_equal(parse6(route6, strlen(route6), &g), 0);
  assert_int_equal(g.addr.family, 6);
  assert_string_equal(p2pq_addr_format(&g.addr, a, sizeof(a)), "[fd00::1]:0");
  assert_string_equal(g.ifname, "eth0");
  assert_int_equal(g.metric, 0x400);
  assert_int_equal(parse6("", 0, &g), P2PQ_ERR_NO_GATEWAY);
  assert_int_equal(parse6(route6, strchr(route6, '\n') - route6 + 1, &g), P2PQ_ERR_NO_GATEWAY);
}

static void test_route6_truncations(void **state) {
  size_t len = strlen(route6), cut;
  (void)state;
  for (cut = 1; cut < len; cut++) {
    p2pq_gateway g;
    int rv = parse6(route6, cut, &g);
    if (route6[cut - 1] == '\n')
      assert_true(rv == 0 || rv == P2PQ_ERR_NO_GATEWAY);
    else
      assert_int_equal(rv, P2PQ_ERR_TRUNCATED);
  }
}

static void test_route6_malformed(void **state) {
  static const char *bad[] = {
      /* nine fields */
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fd000000000000000000000000000001 00000400 00000002 00000000 00000003\n",
      /* prefix length 0x81 > 128 */
      "00000000000000000000000000000000 81 00000000000000000000000000000000 00 "
      "fd000000000000000000000000000001 00000400 00000002 00000000 00000003 eth0\n",
      /* a 31-digit address */
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fd00000000000000000000000000001 00000400 00000002 00000000 00000003 eth0\n",
      /* not hex */
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fd00000000000000000000000000000g 00000400 00000002 00000000 00000003 eth0\n",
      /* eleven fields */
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fd000000000000000000000000000001 00000400 00000002 00000000 00000003 eth0 x\n",
  };
  p2pq_gateway g;
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(parse6(bad[i], strlen(bad[i]), &g), P2PQ_ERR_MALFORMED);
}

/* The live tables: whatever this machine has, the answer is well formed. */
static void test_live(void **state) {
  p2pq_gateway g;
  int rv;
  (void)state;
  assert_int_equal(p2pq_gateway_default(5, &g), P2PQ_ERR_INVALID_ARG);
  rv = p2pq_gateway_default(4, &g);
  assert_true(rv == 0 || rv == P2PQ_ERR_NO_GATEWAY || rv == P2PQ_ERR_IO);
  if (rv == 0) {
    assert_int_equal(g.addr.family, 4);
    assert_true(g.ifname[0] != '\0');
  }
  rv = p2pq_gateway_default(6, &g);
  assert_true(rv == 0 || rv == P2PQ_ERR_NO_GATEWAY || rv == P2PQ_ERR_IO);
  if (rv == 0)
    assert_int_equal(g.addr.family, 6);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_route4_lowest_metric), cmocka_unit_test(test_route4_none),
      cmocka_unit_test(test_route4_truncations),   cmocka_unit_test(test_route4_malformed),
      cmocka_unit_test(test_route6),               cmocka_unit_test(test_route6_truncations),
      cmocka_unit_test(test_route6_malformed),     cmocka_unit_test(test_live),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
