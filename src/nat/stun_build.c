/* STUN message building into a caller buffer (RFC 8489 sections 5, 14). */
#include <string.h>

#include "common/buf.h"
#include "nat/stun.h"
#include "nat/stun_auth.h"
#include "p2pq/error.h"

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

static int fail(p2pq_stun_builder *b, int err) {
  if (!b->err)
    b->err = err;
  return b->err;
}

int p2pq_stun_build_init(p2pq_stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
                         uint8_t cls, const uint8_t txid[P2PQ_STUN_TXID_LEN]) {
  memset(b, 0, sizeof(*b));
  b->buf = buf;
  b->cap = cap;
  if (method > 0xFFF || cls > 3 || !txid)
    return fail(b, P2PQ_ERR_INVALID_ARG);
  if (cap < P2PQ_STUN_HDR_LEN)
    return fail(b, P2PQ_ERR_NOBUF);
  put16(buf, p2pq_stun_type(method, cls));
  put16(buf + 2, 0);
  put32(buf + 4, P2PQ_STUN_MAGIC);
  memcpy(buf + 8, txid, P2PQ_STUN_TXID_LEN);
  b->len = P2PQ_STUN_HDR_LEN;
  return 0;
}

/* Reserves an attribute of value length len, padded; returns its value or NULL. */
static uint8_t *reserve(p2pq_stun_builder *b, uint16_t type, size_t len) {
  size_t padded = (len + 3) & ~(size_t)3;
  uint8_t *v;
  if (b->err)
    return NULL;
  if (len > 0xFFFF || b->len - P2PQ_STUN_HDR_LEN + 4 + padded > 0xFFFF) {
    fail(b, P2PQ_ERR_INVALID_ARG);
    return NULL;
  }
  if (b->cap - b->len < 4 + padded) {
    fail(b, P2PQ_ERR_NOBUF);
    return NULL;
  }
  put16(b->buf + b->len, type);
  put16(b->buf + b->len + 2, (uint16_t)len);
  v = b->buf + b->len + 4;
  memset(v + len, b->pad_byte, padded - len);
  b->len += 4 + padded;
  put16(b->buf + 2, (uint16_t)(b->len - P2PQ_STUN_HDR_LEN));
  return v;
}

int p2pq_stun_build_attr(p2pq_stun_builder *b, uint16_t type, const void *val, size_t len) {
  uint8_t *v;
  if (len && !val)
    return fail(b, P2PQ_ERR_INVALID_ARG);
  v = reserve(b, type, len);
  if (!v)
    return b->err;
  if (len)
    memcpy(v, val, len);
  return 0;
}

int p2pq_stun_build_u32(p2pq_stun_builder *b, uint16_t type, uint32_t x) {
  uint8_t v[4];
  put32(v, x);
  return p2pq_stun_build_attr(b, type, v, 4);
}

int p2pq_stun_build_u64(p2pq_stun_builder *b, uint16_t type, uint64_t x) {
  uint8_t v[8];
  put32(v, (uint32_t)(x >> 32));
  put32(v + 4, (uint32_t)x);
  return p2pq_stun_build_attr(b, type, v, 8);
}

static int build_addr(p2pq_stun_builder *b, uint16_t type, const p2pq_addr *a, int xor) {
  uint8_t v[20];
  size_t iplen;
  if (!a || (a->family != 4 && a->family != 6))
    return fail(b, P2PQ_ERR_INVALID_ARG);
  iplen = a->family == 4 ? 4 : 16;
  v[0] = 0;
  v[1] = a->family == 4 ? 1 : 2;
  put16(v + 2, xor ? (uint16_t)(a->port ^ 0x2112) : a->port);
  for (size_t i = 0; i < iplen; i++)
    v[4 + i] = xor ? (uint8_t)(a->ip[i] ^ b->buf[4 + i]) : a->ip[i];
  return p2pq_stun_build_attr(b, type, v, 4 + iplen);
}

int p2pq_stun_build_addr(p2pq_stun_builder *b, uint16_t type, const p2pq_addr *a) {
  return build_addr(b, type, a, 0);
}

int p2pq_stun_build_xor_addr(p2pq_stun_builder *b, uint16_t type, const p2pq_addr *a) {
  return build_addr(b, type, a, 1);
}

int p2pq_stun_build_error(p2pq_stun_builder *b, uint16_t code, const char *reason) {
  size_t rlen = reason ? strlen(reason) : 0;
  uint8_t *v;
  if (code < 300 || code > 699 || rlen > 763)
    return fail(b, P2PQ_ERR_INVALID_ARG);
  v = reserve(b, P2PQ_STUN_ATTR_ERROR_CODE, 4 + rlen);
  if (!v)
    return b->err;
  v[0] = v[1] = 0;
  v[2] = (uint8_t)(code / 100);
  v[3] = (uint8_t)(code % 100);
  if (rlen)
    memcpy(v + 4, reason, rlen);
  return 0;
}

int p2pq_stun_build_unknown(p2pq_stun_builder *b, const uint16_t *types, size_t n) {
  uint8_t *v;
  if (n && !types)
    return fail(b, P2PQ_ERR_INVALID_ARG);
  v = reserve(b, P2PQ_STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
  if (!v)
    return b->err;
  for (size_t i = 0; i < n; i++)
    put16(v + 2 * i, types[i]);
  return 0;
}

/* The HMAC covers everything before the attribute, with the header length
 * already counting the attribute itself, which reserve() has set. */
static int build_mi(p2pq_stun_builder *b, int sha256, const uint8_t *key, size_t keylen) {
  size_t maclen = sha256 ? 32 : 20, off = b->len;
  uint8_t mac[32], *v;
  int rc;
  if (!key && keylen)
    return fail(b, P2PQ_ERR_INVALID_ARG);
  v = reserve(b, sha256 ? P2PQ_STUN_ATTR_MESSAGE_INTEGRITY_SHA256
                        : P2PQ_STUN_ATTR_MESSAGE_INTEGRITY,
              maclen);
  if (!v)
    return b->err;
  rc = p2pq_stun_hmac(sha256, key, keylen, b->buf, (uint16_t)(b->len - P2PQ_STUN_HDR_LEN),
                      b->buf + P2PQ_STUN_HDR_LEN, off - P2PQ_STUN_HDR_LEN, mac);
  if (rc)
    return fail(b, rc);
  memcpy(v, mac, maclen);
  return 0;
}

int p2pq_stun_build_integrity(p2pq_stun_builder *b, const uint8_t *key, size_t keylen) {
  return build_mi(b, 0, key, keylen);
}

int p2pq_stun_build_integrity_sha256(p2pq_stun_builder *b, const uint8_t *key,
                                     size_t keylen) {
  return build_mi(b, 1, key, keylen);
}

int p2pq_stun_build_fingerprint(p2pq_stun_builder *b) {
  size_t off = b->len;
  uint8_t *v = reserve(b, P2PQ_STUN_ATTR_FINGERPRINT, 4);
  if (!v)
    return b->err;
  put32(v, p2pq_stun_crc32(b->buf, off) ^ P2PQ_STUN_FP_XOR);
  return 0;
}

int p2pq_stun_build_finish(p2pq_stun_builder *b) {
  if (b->err)
    return b->err;
  return (int)b->len;
}
