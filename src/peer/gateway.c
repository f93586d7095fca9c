/* Default gateway from /proc/net/route and /proc/net/ipv6_route. */
#include "peer/gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define LINE_MAX_LEN 512
#define MAX_FIELDS 12
#define RTF_UP 0x0001u
#define RTF_GATEWAY 0x0002u
#define RTF_REJECT 0x0200u

typedef struct line {
  char buf[LINE_MAX_LEN];
  char *field[MAX_FIELDS];
  size_t n;
} line;

/* Copies the next '\n'-terminated line out of r and splits it on blanks.
 * 1 with a line, 0 at the end of the text, or an error. */
static int next_line(p2pq_rd *r, line *l) {
  size_t len = 0;
  uint8_t c;
  char *s;
  if (p2pq_rd_left(r) == 0)
    return 0;
  for (;;) {
    if (p2pq_rd_u8(r, &c) != 0)
      return P2PQ_ERR_TRUNCATED;
    if (c == '\n')
      break;
    if (c == '\0' || len + 1 >= sizeof(l->buf))
      return P2PQ_ERR_MALFORMED;
    l->buf[len++] = (char)c;
  }
  l->buf[len] = '\0';
  l->n = 0;
  for (s = l->buf; *s != '\0';) {
    while (*s == ' ' || *s == '\t')
      *s++ = '\0';
    if (*s == '\0')
      break;
    if (l->n == MAX_FIELDS)
      return P2PQ_ERR_MALFORMED;
    l->field[l->n++] = s;
    while (*s != '\0' && *s != ' ' && *s != '\t')
      s++;
  }
  return 1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Exactly `digits` hex digits (1..8) into a u32. */
static int hex_u32(const char *s, size_t digits, uint32_t *v) {
  uint32_t x = 0;
  size_t i;
  if (strlen(s) != digits)
    return P2PQ_ERR_MALFORMED;
  for (i = 0; i < digits; i++) {
    int h = hexval(s[i]);
    if (h < 0)
      return P2PQ_ERR_MALFORMED;
    x = (x << 4) | (uint32_t)h;
  }
  *v = x;
  return 0;
}

/* 32 hex digits into 16 bytes, in the order written. */
static int hex_bytes16(const char *s, uint8_t out[16]) {
  size_t i;
  if (strlen(s) != 32)
    return P2PQ_ERR_MALFORMED;
  for (i = 0; i < 16; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return P2PQ_ERR_MALFORMED;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

/* A decimal field (Metric in the IPv4 table). */
static int dec_u32(const char *s, uint32_t *v) {
  uint64_t x = 0;
  if (*s == '\0')
    return P2PQ_ERR_MALFORMED;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9')
      return P2PQ_ERR_MALFORMED;
    x = x * 10 + (uint64_t)(*s - '0');
    if (x > UINT32_MAX)
      return P2PQ_ERR_MALFORMED;
  }
  *v = (uint32_t)x;
  return 0;
}

static void set_ifname(p2pq_gateway *g, const char *name) {
  snprintf(g->ifname, sizeof(g->ifname), "%s", name);
}

/* Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT.
 * The kernel prints each address as the u32 it holds in memory, so the bytes
 * in host order are the address in network order. */
int p2pq_gateway_parse_route4(const uint8_t *p, size_t len, p2pq_gateway *out) {
  p2pq_rd r;
  line l;
  int rv, found = 0;
  p2pq_rd_init(&r, p, len);
  if ((rv = next_line(&r, &l)) <= 0)
    return rv == 0 ? P2PQ_ERR_TRUNCATED : rv;
  if (l.n < 8 || strcmp(l.field[0], "Iface") != 0)
    return P2PQ_ERR_MALFORMED;
  while ((rv = next_line(&r, &l)) > 0) {
    uint32_t dst, gw, flags, metric, mask;
    uint8_t ip[4];
    if (l.n < 8)
      return P2PQ_ERR_MALFORMED;
    if (hex_u32(l.field[1], 8, &dst) != 0 || hex_u32(l.field[2], 8, &gw) != 0 ||
        hex_u32(l.field[3], 4, &flags) != 0 || dec_u32(l.field[6], &metric) != 0 ||
        hex_u32(l.field[7], 8, &mask) != 0)
      return P2PQ_ERR_MALFORMED;
    if (dst != 0 || mask != 0 || gw == 0 || (flags & (RTF_UP | RTF_GATEWAY)) !=
        (RTF_UP | RTF_GATEWAY) || (found && metric >= out->metric))
      continue;
    memcpy(ip, &gw, 4);
    p2pq_addr_v4(&out->addr, ip, 0);
    set_ifname(out, l.field[0]);
    out->metric = metric;
    found = 1;
  }
  if (rv < 0)
    return rv;
  return found ? 0 : P2PQ_ERR_NO_GATEWAY;
}

/* dst dst_len src src_len gateway metric refcnt use flags iface; all hex. */
int p2pq_gateway_parse_route6(const uint8_t *p, size_t len, p2pq_gateway *out) {
  static const uint8_t zero[16];
  p2pq_rd r;
  line l;
  int rv, found = 0;
  p2pq_rd_init(&r, p, len);
  while ((rv = next_line(&r, &l)) > 0) {
    uint8_t dst[16], src[16], gw[16];
    uint32_t dlen, slen, metric, refcnt, use, flags;
    if (l.n != 10)
      return P2PQ_ERR_MALFORMED;
    if (hex_bytes16(l.field[0], dst) != 0 || hex_u32(l.field[1], 2, &dlen) != 0 ||
        hex_bytes16(l.field[2], src) != 0 || hex_u32(l.field[3], 2, &slen) != 0 ||
        hex_bytes16(l.field[4], gw) != 0 || hex_u32(l.field[5], 8, &metric) != 0 ||
        hex_u32(l.field[6], 8, &refcnt) != 0 || hex_u32(l.field[7], 8, &use) != 0 ||
        hex_u32(l.field[8], 8, &flags) != 0 || dlen > 128 || slen > 128)
      return P2PQ_ERR_MALFORMED;
    if (dlen != 0 || memcmp(gw, zero, 16) == 0 || (flags & RTF_REJECT) != 0 ||
        (flags & (RTF_UP | RTF_GATEWAY)) != (RTF_UP | RTF_GATEWAY) ||
        (found && metric >= out->metric))
      continue;
    p2pq_addr_v6(&out->addr, gw, 0);
    set_ifname(out, l.field[9]);
    out->metric = metric;
    found = 1;
  }
  if (rv < 0)
    return rv;
  return found ? 0 : P2PQ_ERR_NO_GATEWAY;
}

int p2pq_gateway_default(int family, p2pq_gateway *out) {
  enum { CAP = 1 << 16 };
  const char *path = family == 6 ? "/proc/net/ipv6_route" : "/proc/net/route";
  uint8_t *text;
  FILE *f;
  size_t n;
  int rv;
  if (family != 4 && family != 6)
    return P2PQ_ERR_INVALID_ARG;
  if ((text = malloc(CAP)) == NULL)
    return P2PQ_ERR_NOMEM;
  if ((f = fopen(path, "r")) == NULL) {
    free(text);
    return P2PQ_ERR_IO;
  }
  n = fread(text, 1, CAP, f);
  fclose(f);
  if (n == CAP)
    rv = P2PQ_ERR_LIMIT; /* a routing table this large is not worth guessing in */
  else
    rv = family == 6 ? p2pq_gateway_parse_route6(text, n, out)
                     : p2pq_gateway_parse_route4(text, n, out);
  free(text);
  return rv;
}
