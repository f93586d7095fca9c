/* p2pq_addr parsing, formatting and sockaddr conversion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>

#include "p2pq/error.h"
#include "p2pq/types.h"

static void test_parse_format(void **state) {
  static const char *ok[] = {"1.2.3.4:5", "[::1]:443", "[2001:db8::7]:65535",
                             "203.0.113.9:0"};
  (void)state;
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    p2pq_addr a;
    char s[P2PQ_ADDR_STRLEN];
    assert_int_equal(p2pq_addr_parse(&a, ok[i], -1), 0);
    assert_string_equal(p2pq_addr_format(&a, s, sizeof(s)), ok[i]);
  }
}

static void test_parse_errors(void **state) {
  static const char *bad[] = {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:70000", "1.2.3:4",
                              "[::1", "[::1]x", "[::1]:", "host:80", "1.2.3.4:8a"};
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    p2pq_addr a;
    assert_int_equal(p2pq_addr_parse(&a, bad[i], -1), P2PQ_ERR_MALFORMED);
    assert_int_equal(a.family, 0);
  }
}

static void test_default_port_and_equal(void **state) {
  p2pq_addr a, b, c;
  (void)state;
  assert_int_equal(p2pq_addr_parse(&a, "::1", 4433), 0);
  assert_int_equal(a.family, 6);
  assert_int_equal(a.port, 4433);
  assert_int_equal(p2pq_addr_parse(&b, "[::1]:4433", -1), 0);
  assert_true(p2pq_addr_equal(&a, &b));
  assert_int_equal(p2pq_addr_parse(&c, "[::1]:4434", -1), 0);
  assert_false(p2pq_addr_equal(&a, &c));
  assert_true(p2pq_addr_equal_ip(&a, &c));
}

static void test_sockaddr(void **state) {
  p2pq_addr a, b;
  struct sockaddr_storage ss;
  (void)state;
  assert_int_equal(p2pq_addr_parse(&a, "198.51.100.7:3478", -1), 0);
  assert_true(p2pq_addr_to_sockaddr(&a, &ss) > 0);
  assert_int_equal(p2pq_addr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
  assert_true(p2pq_addr_equal(&a, &b));
  assert_string_equal(p2pq_strerror(P2PQ_ERR_MALFORMED), "malformed input");
  assert_string_equal(p2pq_strerror(-9999), "unknown error");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_format),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_default_port_and_equal),
      cmocka_unit_test(test_sockaddr),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
