/* hq-interop request lines and https URLs. */
#include "io/hq.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"

static int path_char_ok(uint8_t c) { return c > 0x20 && c < 0x7f && c != '\\'; }

/* ".." as a whole segment climbs out of the root: refuse it anywhere. */
static int path_escapes(const char *path) {
  const char *s = path;
  while (*s != '\0') {
    const char *e = strchr(s, '/');
    size_t l = e ? (size_t)(e - s) : strlen(s);
    if (l == 2 && s[0] == '.' && s[1] == '.')
      return 1;
    s += l;
    if (*s == '/')
      s++;
  }
  return 0;
}

int p2pq_hq_parse_request(const uint8_t *p, size_t len, int fin, char *path, size_t cap) {
  p2pq_rd r;
  const uint8_t *m;
  size_t n = 0;
  uint8_t c;
  p2pq_rd_init(&r, p, len);
  if (p2pq_rd_bytes(&r, 4, &m) != 0)
    return fin || (len > 0 && memcmp(p, "GET ", len < 4 ? len : 4) != 0) ? P2PQ_ERR_MALFORMED
                                                                          : P2PQ_ERR_TRUNCATED;
  if (memcmp(m, "GET ", 4) != 0)
    return P2PQ_ERR_MALFORMED;
  for (;;) {
    if (p2pq_rd_u8(&r, &c) != 0) {
      if (!fin)
        return P2PQ_ERR_TRUNCATED;
      break; /* the stream's end closes the line */
    }
    if (c == '\n')
      break;
    if (c == '\r') {
      if (p2pq_rd_u8(&r, &c) != 0)
        return fin ? P2PQ_ERR_MALFORMED : P2PQ_ERR_TRUNCATED;
      if (c != '\n')
        return P2PQ_ERR_MALFORMED;
      break;
    }
    if (!path_char_ok(c) || (n == 0 && c != '/'))
      return P2PQ_ERR_MALFORMED;
    if (n + 1 >= cap)
      return P2PQ_ERR_NOBUF;
    path[n++] = (char)c;
  }
  if (n == 0)
    return P2PQ_ERR_MALFORMED;
  path[n] = '\0';
  return path_escapes(path) ? P2PQ_ERR_MALFORMED : 0;
}

int p2pq_hq_format_request(const char *path, uint8_t *out, size_t cap) {
  int n = snprintf((char *)out, cap, "GET %s\r\n", path);
  if (n < 0 || (size_t)n >= cap)
    return P2PQ_ERR_NOBUF;
  return n;
}

/* host until ':' / '/' / end, or [v6] */
static int url_host(p2pq_rd *r, p2pq_url *u, int *bracketed) {
  size_t n = 0;
  uint8_t c;
  *bracketed = p2pq_rd_left(r) > 0 && r->p[0] == '[';
  if (*bracketed)
    p2pq_rd_skip(r, 1);
  while (p2pq_rd_left(r) > 0) {
    c = r->p[0];
    if (*bracketed ? c == ']' : (c == ':' || c == '/'))
      break;
    if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']' || c == '@')
      return P2PQ_ERR_MALFORMED;
    if (n + 1 >= sizeof(u->host))
      return P2PQ_ERR_NOBUF;
    u->host[n++] = (char)c;
    p2pq_rd_skip(r, 1);
  }
  if (*bracketed && (p2pq_rd_u8(r, &c) != 0 || c != ']'))
    return P2PQ_ERR_MALFORMED;
  u->host[n] = '\0';
  return n == 0 ? P2PQ_ERR_MALFORMED : 0;
}

static int url_port(p2pq_rd *r, uint16_t *port) {
  uint32_t v = 0;
  int digits = 0;
  *port = 443;
  if (p2pq_rd_left(r) == 0 || r->p[0] != ':')
    return 0;
  p2pq_rd_skip(r, 1);
  while (p2pq_rd_left(r) > 0 && r->p[0] >= '0' && r->p[0] <= '9') {
    v = v * 10 + (uint32_t)(r->p[0] - '0');
    if (v > 65535 || ++digits > 5)
      return P2PQ_ERR_MALFORMED;
    p2pq_rd_skip(r, 1);
  }
  if (digits == 0 || v == 0)
    return P2PQ_ERR_MALFORMED;
  *port = (uint16_t)v;
  return 0;
}

static int url_path(p2pq_rd *r, p2pq_url *u) {
  size_t n = p2pq_rd_left(r);
  const uint8_t *b;
  if (n == 0) {
    strcpy(u->path, "/");
    return 0;
  }
  if (r->p[0] != '/')
    return P2PQ_ERR_MALFORMED;
  if (n >= sizeof(u->path))
    return P2PQ_ERR_NOBUF;
  p2pq_rd_bytes(r, n, &b);
  for (size_t i = 0; i < n; i++)
    if (!path_char_ok(b[i]))
      return P2PQ_ERR_MALFORMED;
  memcpy(u->path, b, n);
  u->path[n] = '\0';
  return 0;
}

int p2pq_url_parse(const uint8_t *p, size_t len, p2pq_url *u) {
  static const char scheme[] = "https://";
  char lit[P2PQ_URL_HOST_MAX + 2];
  const uint8_t *s;
  p2pq_rd r;
  int rv, bracketed;
  uint16_t port;
  memset(u, 0, sizeof(*u));
  p2pq_rd_init(&r, p, len);
  if (p2pq_rd_bytes(&r, sizeof(scheme) - 1, &s) != 0)
    return P2PQ_ERR_MALFORMED;
  if (memcmp(s, scheme, sizeof(scheme) - 1) != 0)
    return memchr(p, ':', len) != NULL ? P2PQ_ERR_UNSUPPORTED : P2PQ_ERR_MALFORMED;
  if ((rv = url_host(&r, u, &bracketed)) != 0 || (rv = url_port(&r, &port)) != 0 ||
      (rv = url_path(&r, u)) != 0)
    return rv;
  if (strcmp(u->host, "localhost") == 0) {
    static const uint8_t lo[4] = {127, 0, 0, 1};
    p2pq_addr_v4(&u->addr, lo, port);
    return 0;
  }
  snprintf(lit, sizeof(lit), "%s", u->host);
  if (p2pq_addr_parse(&u->addr, lit, port) != 0)
    return bracketed ? P2PQ_ERR_MALFORMED : P2PQ_ERR_UNSUPPORTED;
  if ((u->addr.family == 6) != bracketed)
    return P2PQ_ERR_MALFORMED; /* v6 needs brackets, v4 must not have them */
  u->addr.port = port;
  return 0;
}
