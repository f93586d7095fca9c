/* STUN message decoding (RFC 8489 sections 5, 14, 15). */
#include <string.h>

#include "common/buf.h"
#include "nat/stun.h"
#include "p2pq/error.h"

uint16_t p2pq_stun_type(uint16_t method, uint8_t cls) {
  return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                    ((cls & 1) << 4) | ((cls & 2) << 7));
}

void p2pq_stun_type_split(uint16_t type, uint16_t *method, uint8_t *cls) {
  *method = (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
  *cls = (uint8_t)(((type >> 4) & 1) | ((type >> 7) & 2));
}

int p2pq_stun_check_header(const uint8_t *p, size_t len) {
  p2pq_rd r;
  uint16_t type, mlen;
  uint32_t cookie;
  p2pq_rd_init(&r, p, len);
  if (p2pq_rd_u16(&r, &type) || p2pq_rd_u16(&r, &mlen) || p2pq_rd_u32(&r, &cookie) ||
      p2pq_rd_skip(&r, P2PQ_STUN_TXID_LEN))
    return P2PQ_ERR_TRUNCATED;
  if ((type & 0xC000) || cookie != P2PQ_STUN_MAGIC || (mlen & 3))
    return P2PQ_ERR_MALFORMED;
  if (p2pq_rd_left(&r) < mlen)
    return P2PQ_ERR_TRUNCATED;
  if (p2pq_rd_left(&r) > mlen)
    return P2PQ_ERR_MALFORMED;
  return 0;
}

/* MAPPED-ADDRESS family: value is reserved(8) family(8) port(16) address. When
 * xor is set the port and address are XORed with cookie || transaction id. */
static int decode_addr(p2pq_addr *a, const uint8_t *v, size_t len, int xor,
                       const uint8_t *hdr) {
  p2pq_rd r;
  uint8_t rsv, fam, ip[16];
  uint16_t port;
  size_t iplen;
  p2pq_rd_init(&r, v, len);
  if (p2pq_rd_u8(&r, &rsv) || p2pq_rd_u8(&r, &fam) || p2pq_rd_u16(&r, &port))
    return P2PQ_ERR_MALFORMED;
  if (fam != 1 && fam != 2)
    return P2PQ_ERR_MALFORMED;
  iplen = fam == 1 ? 4 : 16;
  if (p2pq_rd_left(&r) != iplen || p2pq_rd_copy(&r, ip, iplen))
    return P2PQ_ERR_MALFORMED;
  if (xor) {
    port ^= 0x2112;
    for (size_t i = 0; i < iplen; i++)
      ip[i] ^= hdr[4 + i]; /* cookie, then transaction id for IPv6 */
  }
  if (fam == 1)
    p2pq_addr_v4(a, ip, port);
  else
    p2pq_addr_v6(a, ip, port);
  return 0;
}

static int decode_error(p2pq_stun_msg *m, const uint8_t *v, size_t len) {
  uint8_t cls = len >= 4 ? v[2] & 7 : 0, num = len >= 4 ? v[3] : 0;
  if (len < 4 || len > 4 + 763 || cls < 3 || cls > 6 || num > 99)
    return P2PQ_ERR_MALFORMED;
  m->error_code = (uint16_t)(cls * 100 + num);
  m->error_reason.p = v + 4;
  m->error_reason.len = len - 4;
  return 0;
}

static int decode_unknown_list(p2pq_stun_msg *m, const uint8_t *v, size_t len) {
  if (len & 1)
    return P2PQ_ERR_MALFORMED;
  for (size_t i = 0; i + 1 < len && m->n_unknown_list < P2PQ_STUN_MAX_UNKNOWN; i += 2)
    m->unknown_list[m->n_unknown_list++] = (uint16_t)((v[i] << 8) | v[i + 1]);
  return 0;
}

static uint64_t be64(const uint8_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < 8; i++)
    x = (x << 8) | v[i];
  return x;
}

static uint32_t be32(const uint8_t *v) {
  return ((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) | ((uint32_t)v[2] << 8) | v[3];
}

static int set_bytes(p2pq_stun_bytes *b, const uint8_t *v, size_t len, size_t max) {
  if (len > max)
    return P2PQ_ERR_MALFORMED;
  b->p = v;
  b->len = len;
  return 0;
}

static int fixed(size_t len, size_t want) { return len == want ? 0 : P2PQ_ERR_MALFORMED; }

static void note_unknown(p2pq_stun_msg *m, uint16_t type) {
  if (type < 0x8000 && m->n_unknown_required < P2PQ_STUN_MAX_UNKNOWN)
    m->unknown_required[m->n_unknown_required++] = type;
}

/* One attribute before any integrity attribute; 1 if the type is unknown. */
static int decode_attr(p2pq_stun_msg *m, uint16_t type, const uint8_t *v, size_t len) {
  switch (type) {
  case P2PQ_STUN_ATTR_MAPPED_ADDRESS: return decode_addr(&m->mapped, v, len, 0, m->raw);
  case P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS: return decode_addr(&m->xor_mapped, v, len, 1, m->raw);
  case P2PQ_STUN_ATTR_OTHER_ADDRESS: return decode_addr(&m->other_address, v, len, 0, m->raw);
  case P2PQ_STUN_ATTR_RESPONSE_ORIGIN:
    return decode_addr(&m->response_origin, v, len, 0, m->raw);
  case P2PQ_STUN_ATTR_USERNAME: return set_bytes(&m->username, v, len, 512);
  case P2PQ_STUN_ATTR_USERHASH:
    return len == 32 ? set_bytes(&m->userhash, v, len, 32) : P2PQ_ERR_MALFORMED;
  case P2PQ_STUN_ATTR_SOFTWARE: return set_bytes(&m->software, v, len, 763);
  case P2PQ_STUN_ATTR_REALM: return set_bytes(&m->realm, v, len, 763);
  case P2PQ_STUN_ATTR_NONCE: return set_bytes(&m->nonce, v, len, 763);
  case P2PQ_STUN_ATTR_ERROR_CODE: return decode_error(m, v, len);
  case P2PQ_STUN_ATTR_UNKNOWN_ATTRIBUTES: return decode_unknown_list(m, v, len);
  case P2PQ_STUN_ATTR_CHANGE_REQUEST:
    if (fixed(len, 4))
      return P2PQ_ERR_MALFORMED;
    m->change_request = be32(v);
    return 0;
  case P2PQ_STUN_ATTR_PRIORITY:
    if (fixed(len, 4))
      return P2PQ_ERR_MALFORMED;
    m->priority = be32(v);
    return 0;
  case P2PQ_STUN_ATTR_USE_CANDIDATE: return fixed(len, 0);
  case P2PQ_STUN_ATTR_ICE_CONTROLLING:
    if (fixed(len, 8))
      return P2PQ_ERR_MALFORMED;
    m->ice_controlling = be64(v);
    return 0;
  case P2PQ_STUN_ATTR_ICE_CONTROLLED:
    if (fixed(len, 8))
      return P2PQ_ERR_MALFORMED;
    m->ice_controlled = be64(v);
    return 0;
  default: return 1; /* not a known attribute */
  }
}

static uint32_t has_bit(uint16_t type) {
  switch (type) {
  case P2PQ_STUN_ATTR_MAPPED_ADDRESS: return P2PQ_STUN_HAS_MAPPED;
  case P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS: return P2PQ_STUN_HAS_XOR_MAPPED;
  case P2PQ_STUN_ATTR_OTHER_ADDRESS: return P2PQ_STUN_HAS_OTHER_ADDRESS;
  case P2PQ_STUN_ATTR_RESPONSE_ORIGIN: return P2PQ_STUN_HAS_RESPONSE_ORIGIN;
  case P2PQ_STUN_ATTR_USERNAME: return P2PQ_STUN_HAS_USERNAME;
  case P2PQ_STUN_ATTR_USERHASH: return P2PQ_STUN_HAS_USERHASH;
  case P2PQ_STUN_ATTR_SOFTWARE: return P2PQ_STUN_HAS_SOFTWARE;
  case P2PQ_STUN_ATTR_REALM: return P2PQ_STUN_HAS_REALM;
  case P2PQ_STUN_ATTR_NONCE: return P2PQ_STUN_HAS_NONCE;
  case P2PQ_STUN_ATTR_ERROR_CODE: return P2PQ_STUN_HAS_ERROR_CODE;
  case P2PQ_STUN_ATTR_UNKNOWN_ATTRIBUTES: return P2PQ_STUN_HAS_UNKNOWN_ATTRS;
  case P2PQ_STUN_ATTR_CHANGE_REQUEST: return P2PQ_STUN_HAS_CHANGE_REQUEST;
  case P2PQ_STUN_ATTR_PRIORITY: return P2PQ_STUN_HAS_PRIORITY;
  case P2PQ_STUN_ATTR_USE_CANDIDATE: return P2PQ_STUN_HAS_USE_CANDIDATE;
  case P2PQ_STUN_ATTR_ICE_CONTROLLING: return P2PQ_STUN_HAS_ICE_CONTROLLING;
  case P2PQ_STUN_ATTR_ICE_CONTROLLED: return P2PQ_STUN_HAS_ICE_CONTROLLED;
  default: return 0;
  }
}

/* Integrity attributes: record where they are; the HMAC is checked on demand
 * because only the caller knows the key. */
static int note_integrity(p2pq_stun_msg *m, uint16_t type, size_t off, size_t len) {
  if (type == P2PQ_STUN_ATTR_MESSAGE_INTEGRITY) {
    if (len != 20)
      return P2PQ_ERR_MALFORMED;
    m->present |= P2PQ_STUN_HAS_INTEGRITY;
    m->mi_off = off;
    return 0;
  }
  if (len < 16 || len > 32 || (len & 3))
    return P2PQ_ERR_MALFORMED;
  m->present |= P2PQ_STUN_HAS_INTEGRITY_SHA256;
  m->mi256_off = off;
  m->mi256_len = len;
  return 0;
}

static int check_fingerprint(p2pq_stun_msg *m, size_t off, const uint8_t *v, size_t len,
                             int last) {
  if (len != 4 || !last)
    return P2PQ_ERR_MALFORMED;
  if ((p2pq_stun_crc32(m->raw, off) ^ P2PQ_STUN_FP_XOR) != be32(v))
    return P2PQ_ERR_STUN;
  m->present |= P2PQ_STUN_HAS_FINGERPRINT;
  return 0;
}

static int is_integrity(uint16_t type) {
  return type == P2PQ_STUN_ATTR_MESSAGE_INTEGRITY ||
         type == P2PQ_STUN_ATTR_MESSAGE_INTEGRITY_SHA256;
}

static int decode_one(p2pq_stun_msg *m, uint16_t type, size_t off, const uint8_t *v,
                      size_t len, int last) {
  uint32_t bit;
  int rc;
  if (type == P2PQ_STUN_ATTR_FINGERPRINT)
    return check_fingerprint(m, off, v, len, last);
  if (m->present & (P2PQ_STUN_HAS_INTEGRITY | P2PQ_STUN_HAS_INTEGRITY_SHA256)) {
    /* After MESSAGE-INTEGRITY only a MESSAGE-INTEGRITY-SHA256 (RFC 8489 14.6) or
     * FINGERPRINT counts; the rest is ignored. */
    if (type == P2PQ_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
        !(m->present & P2PQ_STUN_HAS_INTEGRITY_SHA256))
      return note_integrity(m, type, off, len);
    return 0;
  }
  if (is_integrity(type))
    return note_integrity(m, type, off, len);
  bit = has_bit(type);
  if (bit && (m->present & bit))
    return 0; /* only the first instance counts */
  rc = decode_attr(m, type, v, len);
  if (rc == 1) {
    note_unknown(m, type);
    return 0;
  }
  if (rc == 0)
    m->present |= bit;
  return rc;
}

int p2pq_stun_decode(p2pq_stun_msg *m, const uint8_t *p, size_t len) {
  p2pq_rd r;
  uint16_t type, alen;
  int rc = p2pq_stun_check_header(p, len);
  memset(m, 0, sizeof(*m));
  if (rc)
    return rc;
  m->raw = p;
  m->raw_len = len;
  p2pq_stun_type_split((uint16_t)((p[0] << 8) | p[1]), &m->method, &m->cls);
  memcpy(m->txid, p + 8, P2PQ_STUN_TXID_LEN);
  p2pq_rd_init(&r, p + P2PQ_STUN_HDR_LEN, len - P2PQ_STUN_HDR_LEN);
  while (p2pq_rd_left(&r) > 0) {
    const uint8_t *v;
    size_t off = (size_t)(r.p - p);
    if (p2pq_rd_u16(&r, &type) || p2pq_rd_u16(&r, &alen) || p2pq_rd_bytes(&r, alen, &v) ||
        p2pq_rd_skip(&r, (4 - (alen & 3)) & 3))
      return P2PQ_ERR_TRUNCATED;
    rc = decode_one(m, type, off, v, alen, p2pq_rd_left(&r) == 0);
    if (rc)
      return rc;
  }
  return 0;
}
