/* QUIC packet headers (RFC 8999, RFC 9000 section 17) and packet numbers. */
#include "quic/packet.h"

#include <string.h>

#define HDR_FORM 0x80
#define FIXED_BIT 0x40

/* Reads a length-prefixed CID; over 20 bytes is not QUIC v1 (and we cannot
 * represent it). */
static int rd_cid(p2pq_rd *r, p2pq_cid *c) {
  uint8_t n;
  const uint8_t *d;
  int rc;
  if ((rc = p2pq_rd_u8(r, &n)) != 0)
    return rc;
  if (n > P2PQ_MAX_CIDLEN)
    return P2PQ_ERR_MALFORMED;
  if ((rc = p2pq_rd_bytes(r, n, &d)) != 0)
    return rc;
  return p2pq_cid_init(c, d, n);
}

static int parse_vn(p2pq_rd *r, p2pq_pkt_hdr *h) {
  size_t left = p2pq_rd_left(r);
  h->type = P2PQ_PKT_VN;
  if (left == 0 || left % 4 != 0)
    return P2PQ_ERR_MALFORMED;
  h->vn_versions = r->p;
  h->vn_count = left / 4;
  return 0;
}

static int parse_retry(p2pq_rd *r, p2pq_pkt_hdr *h) {
  size_t left = p2pq_rd_left(r);
  h->type = P2PQ_PKT_RETRY;
  /* a Retry with an empty token is discarded by clients (RFC 9000 17.2.5.2) */
  if (left <= P2PQ_RETRY_TAG_LEN)
    return left < P2PQ_RETRY_TAG_LEN ? P2PQ_ERR_TRUNCATED : P2PQ_ERR_MALFORMED;
  h->token = r->p;
  h->token_len = left - P2PQ_RETRY_TAG_LEN;
  h->retry_tag = r->p + h->token_len;
  return 0;
}

/* Initial / 0-RTT / Handshake: [token], Length, then the packet number. */
static int parse_long_body(p2pq_rd *r, const uint8_t *start, p2pq_pkt_hdr *h) {
  uint64_t v;
  int rc;
  if (h->type == P2PQ_PKT_INITIAL) {
    if ((rc = p2pq_rd_varint(r, &v)) != 0)
      return rc;
    if (v > p2pq_rd_left(r))
      return P2PQ_ERR_TRUNCATED;
    h->token_len = (size_t)v;
    if ((rc = p2pq_rd_bytes(r, h->token_len, &h->token)) != 0)
      return rc;
  }
  if ((rc = p2pq_rd_varint(r, &v)) != 0)
    return rc;
  if (v > p2pq_rd_left(r))
    return P2PQ_ERR_MALFORMED;
  if (v == 0)
    return P2PQ_ERR_MALFORMED; /* not even a packet number */
  h->pn_offset = (size_t)(r->p - start);
  h->pkt_len = h->pn_offset + (size_t)v;
  return 0;
}

static int parse_long(p2pq_rd *r, const uint8_t *start, size_t len, p2pq_pkt_hdr *h) {
  uint8_t first = start[0];
  int rc;
  if ((rc = p2pq_rd_u32(r, &h->version)) != 0)
    return rc;
  if ((rc = rd_cid(r, &h->dcid)) != 0 || (rc = rd_cid(r, &h->scid)) != 0)
    return rc;
  h->pkt_len = len;
  if (h->version == 0)
    return parse_vn(r, h);
  if (h->version != P2PQ_QUIC_V1)
    return P2PQ_ERR_UNSUPPORTED;
  if (!(first & FIXED_BIT))
    return P2PQ_ERR_MALFORMED;
  h->type = (p2pq_pkt_type)((first >> 4) & 3); /* Initial, 0-RTT, Handshake, Retry */
  if (h->type == P2PQ_PKT_RETRY)
    return parse_retry(r, h);
  return parse_long_body(r, start, h);
}

static int parse_short(p2pq_rd *r, const uint8_t *start, size_t len, size_t dcid_len,
                       p2pq_pkt_hdr *h) {
  const uint8_t *d;
  int rc;
  if (dcid_len > P2PQ_MAX_CIDLEN)
    return P2PQ_ERR_INVALID_ARG;
  if (!(start[0] & FIXED_BIT))
    return P2PQ_ERR_MALFORMED;
  if ((rc = p2pq_rd_bytes(r, dcid_len, &d)) != 0)
    return rc;
  p2pq_cid_init(&h->dcid, d, dcid_len);
  if (p2pq_rd_left(r) == 0)
    return P2PQ_ERR_TRUNCATED;
  h->type = P2PQ_PKT_1RTT;
  h->pn_offset = 1 + dcid_len;
  h->pkt_len = len;
  return 0;
}

int p2pq_pkt_parse(const uint8_t *p, size_t len, size_t short_dcid_len, p2pq_pkt_hdr *h) {
  p2pq_rd r;
  uint8_t first;
  int rc;
  memset(h, 0, sizeof(*h));
  p2pq_rd_init(&r, p, len);
  if ((rc = p2pq_rd_u8(&r, &first)) != 0)
    return rc;
  if (first & HDR_FORM)
    return parse_long(&r, p, len, h);
  return parse_short(&r, p, len, short_dcid_len, h);
}

int p2pq_pkt_peek_dcid(const uint8_t *p, size_t len, size_t short_dcid_len, p2pq_cid *dcid) {
  p2pq_rd r;
  uint8_t first;
  const uint8_t *d;
  int rc;
  p2pq_rd_init(&r, p, len);
  if ((rc = p2pq_rd_u8(&r, &first)) != 0)
    return rc;
  if (first & HDR_FORM) {
    if ((rc = p2pq_rd_skip(&r, 4)) != 0)
      return rc;
    return rd_cid(&r, dcid);
  }
  if (short_dcid_len > P2PQ_MAX_CIDLEN)
    return P2PQ_ERR_INVALID_ARG;
  if ((rc = p2pq_rd_bytes(&r, short_dcid_len, &d)) != 0)
    return rc;
  return p2pq_cid_init(dcid, d, short_dcid_len);
}

/* ---- writers: check the whole size first so nothing partial is written ---- */

static int check_cid(const p2pq_cid *c) { return c->len <= P2PQ_MAX_CIDLEN; }

static void wr_cid(p2pq_wr *w, const p2pq_cid *c) {
  p2pq_wr_u8(w, c->len);
  p2pq_wr_bytes(w, c->data, c->len);
}

static void wr_pn(p2pq_wr *w, uint32_t pn, size_t pn_len) {
  for (size_t i = pn_len; i > 0; i--)
    p2pq_wr_u8(w, (uint8_t)(pn >> (8 * (i - 1))));
}

size_t p2pq_pkt_long_hdr_len(p2pq_pkt_type type, const p2pq_cid *dcid, const p2pq_cid *scid,
                             size_t token_len, size_t pn_len) {
  size_t n = 1 + 4 + 1 + dcid->len + 1 + scid->len + 2 + pn_len;
  if (type == P2PQ_PKT_INITIAL)
    n += p2pq_varint_len(token_len) + token_len;
  return n;
}

int p2pq_pkt_write_long(p2pq_wr *w, p2pq_pkt_type type, uint32_t version, const p2pq_cid *dcid,
                        const p2pq_cid *scid, const uint8_t *token, size_t token_len,
                        uint32_t pn_trunc, size_t pn_len, size_t *length_offset,
                        size_t *pn_offset) {
  const uint8_t *start = w->p;
  size_t need;
  if (type != P2PQ_PKT_INITIAL && type != P2PQ_PKT_0RTT && type != P2PQ_PKT_HANDSHAKE)
    return P2PQ_ERR_INVALID_ARG;
  if (pn_len < 1 || pn_len > P2PQ_MAX_PN_LEN || !check_cid(dcid) || !check_cid(scid))
    return P2PQ_ERR_INVALID_ARG;
  if (type != P2PQ_PKT_INITIAL && token_len)
    return P2PQ_ERR_INVALID_ARG;
  if (token_len > P2PQ_VARINT_MAX)
    return P2PQ_ERR_INVALID_ARG;
  need = p2pq_pkt_long_hdr_len(type, dcid, scid, token_len, pn_len);
  if (p2pq_wr_left(w) < need)
    return P2PQ_ERR_NOBUF;
  p2pq_wr_u8(w, (uint8_t)(HDR_FORM | FIXED_BIT | ((unsigned)type << 4) | (pn_len - 1)));
  p2pq_wr_u32(w, version);
  wr_cid(w, dcid);
  wr_cid(w, scid);
  if (type == P2PQ_PKT_INITIAL) {
    p2pq_wr_varint(w, token_len);
    p2pq_wr_bytes(w, token, token_len);
  }
  if (length_offset)
    *length_offset = (size_t)(w->p - start);
  p2pq_wr_varint_n(w, 0, 2);
  if (pn_offset)
    *pn_offset = (size_t)(w->p - start);
  wr_pn(w, pn_trunc, pn_len);
  return 0;
}

void p2pq_pkt_patch_length(uint8_t *pkt, size_t length_offset, size_t length_value) {
  pkt[length_offset] = (uint8_t)(0x40 | ((length_value >> 8) & 0x3f));
  pkt[length_offset + 1] = (uint8_t)length_value;
}

int p2pq_pkt_write_short(p2pq_wr *w, const p2pq_cid *dcid, int spin, int key_phase,
                         uint32_t pn_trunc, size_t pn_len, size_t *pn_offset) {
  if (pn_len < 1 || pn_len > P2PQ_MAX_PN_LEN || !check_cid(dcid))
    return P2PQ_ERR_INVALID_ARG;
  if (p2pq_wr_left(w) < 1 + (size_t)dcid->len + pn_len)
    return P2PQ_ERR_NOBUF;
  p2pq_wr_u8(w, (uint8_t)(FIXED_BIT | (spin ? 0x20 : 0) | (key_phase ? 0x04 : 0) |
                          (pn_len - 1)));
  p2pq_wr_bytes(w, dcid->data, dcid->len);
  if (pn_offset)
    *pn_offset = 1 + dcid->len;
  wr_pn(w, pn_trunc, pn_len);
  return 0;
}

int p2pq_pkt_write_vn(p2pq_wr *w, const p2pq_cid *dcid, const p2pq_cid *scid,
                      const uint32_t *versions, size_t n, uint8_t random_byte) {
  if (n == 0 || !check_cid(dcid) || !check_cid(scid))
    return P2PQ_ERR_INVALID_ARG;
  if (p2pq_wr_left(w) < 7 + (size_t)dcid->len + scid->len ||
      (p2pq_wr_left(w) - 7 - dcid->len - scid->len) / 4 < n)
    return P2PQ_ERR_NOBUF;
  p2pq_wr_u8(w, (uint8_t)(HDR_FORM | (random_byte & 0x7f)));
  p2pq_wr_u32(w, 0);
  wr_cid(w, dcid);
  wr_cid(w, scid);
  for (size_t i = 0; i < n; i++)
    p2pq_wr_u32(w, versions[i]);
  return 0;
}

int p2pq_pkt_write_retry(p2pq_wr *w, uint32_t version, const p2pq_cid *dcid, const p2pq_cid *scid,
                         const uint8_t *token, size_t token_len) {
  if (token_len == 0 || !check_cid(dcid) || !check_cid(scid))
    return P2PQ_ERR_INVALID_ARG;
  if (p2pq_wr_left(w) < 7 + (size_t)dcid->len + scid->len ||
      p2pq_wr_left(w) - 7 - dcid->len - scid->len < token_len)
    return P2PQ_ERR_NOBUF;
  p2pq_wr_u8(w, (uint8_t)(HDR_FORM | FIXED_BIT | ((unsigned)P2PQ_PKT_RETRY << 4)));
  p2pq_wr_u32(w, version);
  wr_cid(w, dcid);
  wr_cid(w, scid);
  p2pq_wr_bytes(w, token, token_len);
  return 0;
}

/* ---- packet numbers ---- */

uint64_t p2pq_pkt_decode_pn(uint64_t largest_pn, uint64_t truncated, size_t pn_nbits) {
  uint64_t expected = largest_pn + 1; /* UINT64_MAX (none) wraps to 0 */
  uint64_t win, hwin, mask, cand;
  if (pn_nbits == 0 || pn_nbits > 62)
    return truncated;
  win = 1ull << pn_nbits;
  hwin = win / 2;
  mask = win - 1;
  cand = (expected & ~mask) | (truncated & mask);
  if (cand + hwin <= expected && cand < (1ull << 62) - win)
    return cand + win;
  if (cand > expected + hwin && cand >= win)
    return cand - win;
  return cand;
}

size_t p2pq_pkt_pn_len(uint64_t pn, uint64_t largest_acked) {
  uint64_t unacked = largest_acked == UINT64_MAX ? pn + 1 : pn - largest_acked;
  unsigned bits = 1;
  if (unacked > (1ull << 31))
    return 4; /* also catches largest_acked > pn (a caller bug) */
  /* smallest window holding twice the unacknowledged range: 2^bits >= 2*unacked */
  while (bits < 32 && (1ull << bits) < 2 * unacked)
    bits++;
  return (bits + 7) / 8;
}
