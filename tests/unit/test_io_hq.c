/* hq-interop request lines and https URLs (src/io/hq.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "io/hq.h"
#include "p2pq/error.h"

static int req(const char *s, int fin, char *path, size_t cap) {
  return p2pq_hq_parse_request((const uint8_t *)s, strlen(s), fin, path, cap);
}

static void test_request_ok(void **state) {
  char path[P2PQ_HQ_PATH_MAX];
  (void)state;
  assert_int_equal(req("GET /index.html\r\n", 0, path, sizeof(path)), 0);
  assert_string_equal(path, "/index.html");
  assert_int_equal(req("GET /a/b/c.bin\n", 0, path, sizeof(path)), 0);
  assert_string_equal(path, "/a/b/c.bin");
  /* the stream's end also ends the line (some hq clients send no CRLF) */
  assert_int_equal(req("GET /x", 1, path, sizeof(path)), 0);
  assert_string_equal(path, "/x");
  /* dots inside a name, hidden files and "." are not an escape */
  assert_int_equal(req("GET /a..b/.hidden/./f\r\n", 0, path, sizeof(path)), 0);
  assert_string_equal(path, "/a..b/.hidden/./f");
  /* bytes after the line are ignored */
  assert_int_equal(req("GET /y\r\ntrailing", 0, path, sizeof(path)), 0);
  assert_string_equal(path, "/y");
}

static void test_request_truncated(void **state) {
  static const char full[] = "GET /dir/file.txt\r\n";
  char path[P2PQ_HQ_PATH_MAX];
  (void)state;
  for (size_t i = 0; i < sizeof(full) - 1; i++) {
    int rv = p2pq_hq_parse_request((const uint8_t *)full, i, 0, path, sizeof(path));
    if (rv != P2PQ_ERR_TRUNCATED)
      fail_msg("prefix of %zu bytes: got %d, want TRUNCATED", i, rv);
    /* with the stream ended, a cut before the path is malformed */
    rv = p2pq_hq_parse_request((const uint8_t *)full, i, 1, path, sizeof(path));
    if (i <= 4 || i == sizeof(full) - 2) {
      if (rv != P2PQ_ERR_MALFORMED)
        fail_msg("prefix of %zu bytes with FIN: got %d, want MALFORMED", i, rv);
    } else if (rv != 0) {
      fail_msg("prefix of %zu bytes with FIN: got %d, want 0", i, rv);
    }
  }
}

static void test_request_malformed(void **state) {
  static const char *bad[] = {
      "POST /x\r\n",        "get /x\r\n",        "GET x\r\n",          "GET \r\n",
      "GET /../etc/passwd\r\n", "GET /a/../../b\r\n", "GET /a/..\r\n",   "GET /..\r\n",
      "GET /a\\b\r\n",      "GET /a b\r\n",      "GET /a\tb\r\n",      "GET /a\rb\n",
      "GET /\x7f\r\n",      "GET /\xc3\xa9\r\n", "XYZ",               "GETX/a\r\n",
  };
  char path[P2PQ_HQ_PATH_MAX];
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rv = req(bad[i], 0, path, sizeof(path));
    if (rv != P2PQ_ERR_MALFORMED)
      fail_msg("'%s': got %d, want MALFORMED", bad[i], rv);
  }
}

static void test_request_nobuf(void **state) {
  char path[8];
  (void)state;
  assert_int_equal(req("GET /1234567\r\n", 0, path, sizeof(path)), P2PQ_ERR_NOBUF);
  assert_int_equal(req("GET /123456\r\n", 0, path, sizeof(path)), 0);
  assert_string_equal(path, "/123456");
}

static void test_format_roundtrip(void **state) {
  uint8_t buf[64];
  char path[64];
  int n;
  (void)state;
  n = p2pq_hq_format_request("/f1000.bin", buf, sizeof(buf));
  assert_int_equal(n, 16);
  assert_memory_equal(buf, "GET /f1000.bin\r\n", 16);
  assert_int_equal(p2pq_hq_parse_request(buf, (size_t)n, 0, path, sizeof(path)), 0);
  assert_string_equal(path, "/f1000.bin");
  assert_int_equal(p2pq_hq_format_request("/f1000.bin", buf, 16), P2PQ_ERR_NOBUF);
}

static int url(const char *s, p2pq_url *u) {
  return p2pq_url_parse((const uint8_t *)s, strlen(s), u);
}

static void test_url_ok(void **state) {
  p2pq_url u;
  char a[P2PQ_ADDR_STRLEN];
  (void)state;
  assert_int_equal(url("https://127.0.0.1:4433/f.bin", &u), 0);
  assert_string_equal(p2pq_addr_format(&u.addr, a, sizeof(a)), "127.0.0.1:4433");
  assert_string_equal(u.path, "/f.bin");
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(url("https://[::1]:8443/a/b", &u), 0);
  assert_int_equal(u.addr.family, 6);
  assert_int_equal(u.addr.port, 8443);
  assert_string_equal(u.host, "::1");
  assert_string_equal(u.path, "/a/b");
  assert_int_equal(url("https://localhost", &u), 0);
  assert_string_equal(p2pq_addr_format(&u.addr, a, sizeof(a)), "127.0.0.1:443");
  assert_string_equal(u.path, "/");
  assert_string_equal(u.host, "localhost");
  assert_int_equal(url("https://10.0.0.1/x", &u), 0);
  assert_int_equal(u.addr.port, 443);
}

static void test_url_errors(void **state) {
  static const struct {
    const char *s;
    int rv;
  } cases[] = {
      {"http://127.0.0.1/x", P2PQ_ERR_UNSUPPORTED},
      {"ftp://1.2.3.4/", P2PQ_ERR_UNSUPPORTED},
      {"https://example.com/x", P2PQ_ERR_UNSUPPORTED},
      {"127.0.0.1/x", P2PQ_ERR_MALFORMED},
      {"https://", P2PQ_ERR_MALFORMED},
      {"https:///x", P2PQ_ERR_MALFORMED},
      {"https://[::1/x", P2PQ_ERR_MALFORMED},
      {"https://[1.2.3.4]/x", P2PQ_ERR_MALFORMED},
      {"https://[nothex]/x", P2PQ_ERR_MALFORMED},
      {"https://::1/x", P2PQ_ERR_MALFORMED},
      {"https://1.2.3.4:/x", P2PQ_ERR_MALFORMED},
      {"https://1.2.3.4:0/x", P2PQ_ERR_MALFORMED},
      {"https://1.2.3.4:65536/x", P2PQ_ERR_MALFORMED},
      {"https://1.2.3.4:12a/x", P2PQ_ERR_MALFORMED},
      {"https://1.2.3.4:443x", P2PQ_ERR_MALFORMED},
      {"https://user@1.2.3.4/", P2PQ_ERR_MALFORMED},
      {"https://1.2.3.4/a b", P2PQ_ERR_MALFORMED},
  };
  p2pq_url u;
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rv = url(cases[i].s, &u);
    if (rv != cases[i].rv)
      fail_msg("'%s': got %d, want %d", cases[i].s, rv, cases[i].rv);
  }
}

static void test_url_truncated(void **state) {
  static const char full[] = "https://[2001:db8::1]:4433/f.bin";
  p2pq_url u;
  (void)state;
  /* cuts inside the scheme or the bracketed host, and right after the ':'
   * of the port, are errors; the other cuts are shorter valid URLs */
  for (size_t i = 0; i < sizeof(full) - 1; i++) {
    int rv = p2pq_url_parse((const uint8_t *)full, i, &u);
    int want_ok = i == 21 || i >= 23;
    if (want_ok != (rv == 0))
      fail_msg("prefix of %zu bytes: got %d", i, rv);
    if (i == 21)
      assert_int_equal(u.addr.port, 443);
    if (i == 24)
      assert_int_equal(u.addr.port, 44);
  }
  assert_int_equal(p2pq_url_parse((const uint8_t *)full, sizeof(full) - 1, &u), 0);
  assert_int_equal(u.addr.port, 4433);
}

static void test_url_path_too_long(void **state) {
  static char big[P2PQ_HQ_PATH_MAX + 64];
  p2pq_url u;
  (void)state;
  strcpy(big, "https://1.2.3.4/");
  memset(big + strlen(big), 'a', P2PQ_HQ_PATH_MAX);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(url(big, &u), P2PQ_ERR_NOBUF);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_ok),       cmocka_unit_test(test_request_truncated),
      cmocka_unit_test(test_request_malformed), cmocka_unit_test(test_request_nobuf),
      cmocka_unit_test(test_format_roundtrip), cmocka_unit_test(test_url_ok),
      cmocka_unit_test(test_url_errors),       cmocka_unit_test(test_url_truncated),
      cmocka_unit_test(test_url_path_too_long),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
