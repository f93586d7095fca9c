/* HTTP/3 message validation (see message.h). */
#include "h3/message.h"

#include <string.h>

static int eq(const char *s, size_t n, const char *lit) {
  return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/* Lowercase token characters only (RFC 9114 4.2: uppercase is malformed). */
static int name_ok(const p2pq_h3_field *x) {
  size_t i = x->name[0] == ':' ? 1 : 0;
  if (x->name_len == i)
    return 0;
  for (; i < x->name_len; i++) {
    unsigned char ch = (unsigned char)x->name[i];
    if (ch <= 0x20 || ch >= 0x7f || (ch >= 'A' && ch <= 'Z') || ch == ':')
      return 0;
  }
  return 1;
}

static int value_ok(const p2pq_h3_field *x) {
  size_t i;
  for (i = 0; i < x->value_len; i++)
    if (x->value[i] == 0 || x->value[i] == '\r' || x->value[i] == '\n')
      return 0;
  return 1;
}

static int parse_cl(const p2pq_h3_field *x, int64_t *cl) {
  int64_t v = 0;
  size_t i;
  if (x->value_len == 0 || x->value_len > 18)
    return -1;
  for (i = 0; i < x->value_len; i++) {
    if (x->value[i] < '0' || x->value[i] > '9')
      return -1;
    v = v * 10 + (x->value[i] - '0');
  }
  if (*cl >= 0 && *cl != v)
    return -1;
  *cl = v;
  return 0;
}

/* Regular fields: no connection-specific ones (4.2), te only "trailers". */
static int regular_ok(const p2pq_h3_field *x, int64_t *cl) {
  if (!name_ok(x) || !value_ok(x))
    return 0;
  if (eq(x->name, x->name_len, "connection") || eq(x->name, x->name_len, "keep-alive") ||
      eq(x->name, x->name_len, "proxy-connection") ||
      eq(x->name, x->name_len, "transfer-encoding") || eq(x->name, x->name_len, "upgrade"))
    return 0;
  if (eq(x->name, x->name_len, "te") && !eq(x->value, x->value_len, "trailers"))
    return 0;
  if (eq(x->name, x->name_len, "content-length") && parse_cl(x, cl) < 0)
    return 0;
  return 1;
}

enum { P_METHOD, P_SCHEME, P_AUTHORITY, P_PATH, P_PROTOCOL, P_STATUS, P_N };

static int pseudo_index(const p2pq_h3_field *x) {
  static const char *const names[P_N] = {":method", ":scheme", ":authority",
                                         ":path",   ":protocol", ":status"};
  int i;
  for (i = 0; i < P_N; i++)
    if (eq(x->name, x->name_len, names[i]))
      return i;
  return -1;
}

/* Splits pseudo-header fields (which must come first, once each) from the rest. */
static int scan(const p2pq_h3_field *f, size_t n, const p2pq_h3_field *ps[P_N],
                int64_t *cl, int *has_host) {
  size_t i;
  int regular = 0;
  memset(ps, 0, sizeof(*ps) * P_N);
  *cl = -1;
  *has_host = 0;
  for (i = 0; i < n; i++) {
    if (f[i].name_len > 0 && f[i].name[0] == ':') {
      int k = pseudo_index(&f[i]);
      if (regular || k < 0 || ps[k] || !value_ok(&f[i]))
        return -1;
      ps[k] = &f[i];
      continue;
    }
    regular = 1;
    if (!regular_ok(&f[i], cl))
      return -1;
    if (eq(f[i].name, f[i].name_len, "host"))
      *has_host = 1;
  }
  return 0;
}

int p2pq_h3_check_request(const p2pq_h3_field *f, size_t n, int connect_protocol,
                          p2pq_h3_msginfo *mi) {
  const p2pq_h3_field *ps[P_N];
  int has_host;
  memset(mi, 0, sizeof *mi);
  if (scan(f, n, ps, &mi->content_length, &has_host) < 0 || ps[P_STATUS] || !ps[P_METHOD])
    return -1;
  mi->is_connect = eq(ps[P_METHOD]->value, ps[P_METHOD]->value_len, "CONNECT");
  mi->is_head = eq(ps[P_METHOD]->value, ps[P_METHOD]->value_len, "HEAD");
  if (ps[P_PROTOCOL]) { /* RFC 9220: extended CONNECT, only if we enabled it */
    mi->has_protocol = 1;
    if (!mi->is_connect || !connect_protocol || !ps[P_SCHEME] || !ps[P_PATH] ||
        !ps[P_AUTHORITY] || ps[P_PATH]->value_len == 0)
      return -1;
    return 0;
  }
  if (mi->is_connect) /* 4.4: only :method and :authority */
    return ps[P_SCHEME] || ps[P_PATH] || !ps[P_AUTHORITY] ? -1 : 0;
  if (!ps[P_SCHEME] || !ps[P_PATH] || ps[P_PATH]->value_len == 0)
    return -1;
  /* 4.3.1: http(s) needs an authority, from :authority or Host */
  if ((eq(ps[P_SCHEME]->value, ps[P_SCHEME]->value_len, "https") ||
       eq(ps[P_SCHEME]->value, ps[P_SCHEME]->value_len, "http")) &&
      !has_host && (!ps[P_AUTHORITY] || ps[P_AUTHORITY]->value_len == 0))
    return -1;
  return 0;
}

int p2pq_h3_check_response(const p2pq_h3_field *f, size_t n, p2pq_h3_msginfo *mi) {
  const p2pq_h3_field *ps[P_N];
  const p2pq_h3_field *st;
  int has_host, i;
  memset(mi, 0, sizeof *mi);
  if (scan(f, n, ps, &mi->content_length, &has_host) < 0 || !ps[P_STATUS])
    return -1;
  for (i = 0; i < P_N; i++)
    if (i != P_STATUS && ps[i])
      return -1;
  st = ps[P_STATUS];
  if (st->value_len != 3)
    return -1;
  for (i = 0; i < 3; i++) {
    if (st->value[i] < '0' || st->value[i] > '9')
      return -1;
    mi->status = mi->status * 10 + (st->value[i] - '0');
  }
  return mi->status < 100 ? -1 : 0;
}

int p2pq_h3_check_trailers(const p2pq_h3_field *f, size_t n) {
  size_t i;
  int64_t cl = -1;
  for (i = 0; i < n; i++)
    if (f[i].name_len == 0 || f[i].name[0] == ':' || !regular_ok(&f[i], &cl))
      return -1;
  return 0;
}
