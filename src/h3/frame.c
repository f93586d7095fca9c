/* HTTP/3 frame codec (RFC 9114 section 7). Stateless; the connection in conn.c
 * decides which frames are allowed where. */
#include "p2pq/h3.h"

#include "common/buf.h"

int p2pq_h3_is_grease(uint64_t v) { return v >= 0x21 && (v - 0x21) % 0x1f == 0; }

void p2pq_h3_settings_default(p2pq_h3_settings *s) {
  s->qpack_max_table_capacity = 0;
  s->max_field_section_size = UINT64_MAX;
  s->qpack_blocked_streams = 0;
  s->enable_connect_protocol = 0;
  s->h3_datagram = 0;
}

int p2pq_h3_frame_header_decode(const uint8_t *p, size_t len, uint64_t *type,
                                uint64_t *payload_len, size_t *hdr_len) {
  p2pq_rd r;
  int rc;
  p2pq_rd_init(&r, p, len);
  if ((rc = p2pq_rd_varint(&r, type)) < 0 || (rc = p2pq_rd_varint(&r, payload_len)) < 0)
    return rc;
  *hdr_len = len - p2pq_rd_left(&r);
  return 0;
}

/* Bound on settings per frame so duplicate detection stays cheap. */
#define SETTINGS_MAX 128

static int settings_err(uint64_t *h3_err, uint64_t code) {
  *h3_err = code;
  return P2PQ_ERR_H3;
}

static int settings_apply(p2pq_h3_settings *s, uint64_t id, uint64_t v, size_t *unknown) {
  switch (id) {
  case P2PQ_H3_SETTING_QPACK_MAX_TABLE_CAPACITY: s->qpack_max_table_capacity = v; break;
  case P2PQ_H3_SETTING_MAX_FIELD_SECTION_SIZE: s->max_field_section_size = v; break;
  case P2PQ_H3_SETTING_QPACK_BLOCKED_STREAMS: s->qpack_blocked_streams = v; break;
  case P2PQ_H3_SETTING_ENABLE_CONNECT_PROTOCOL:
    if (v > 1) /* RFC 8441 section 3 */
      return -1;
    s->enable_connect_protocol = (uint8_t)v;
    break;
  case P2PQ_H3_SETTING_H3_DATAGRAM:
    if (v > 1) /* RFC 9297 section 2.1.1 */
      return -1;
    s->h3_datagram = (uint8_t)v;
    break;
  case 0x00: case 0x02: case 0x03: case 0x04: case 0x05:
    return -1; /* HTTP/2 settings with no HTTP/3 meaning (RFC 9114 7.2.4.1) */
  default: ++*unknown; break; /* unknown and grease settings are ignored */
  }
  return 0;
}

int p2pq_h3_settings_decode(const uint8_t *p, size_t len, p2pq_h3_settings *s,
                            size_t *unknown, uint64_t *h3_err) {
  uint64_t seen[SETTINGS_MAX];
  size_t n = 0, i;
  p2pq_rd r;
  p2pq_h3_settings_default(s);
  *unknown = 0;
  p2pq_rd_init(&r, p, len);
  while (p2pq_rd_left(&r) > 0) {
    uint64_t id, v;
    if (p2pq_rd_varint(&r, &id) < 0 || p2pq_rd_varint(&r, &v) < 0)
      return settings_err(h3_err, P2PQ_H3_FRAME_ERROR);
    for (i = 0; i < n; i++)
      if (seen[i] == id)
        return settings_err(h3_err, P2PQ_H3_SETTINGS_ERROR);
    if (n == SETTINGS_MAX)
      return settings_err(h3_err, P2PQ_H3_EXCESSIVE_LOAD);
    seen[n++] = id;
    if (settings_apply(s, id, v, unknown) < 0)
      return settings_err(h3_err, P2PQ_H3_SETTINGS_ERROR);
  }
  return 0;
}

int p2pq_h3_frame_decode(const uint8_t *p, size_t len, p2pq_h3_frame *f, size_t *consumed,
                         uint64_t *h3_err) {
  uint64_t plen;
  size_t hl;
  int rc = p2pq_h3_frame_header_decode(p, len, &f->type, &plen, &hl);
  if (rc < 0)
    return rc;
  if (plen > len - hl)
    return P2PQ_ERR_TRUNCATED;
  f->payload = p + hl;
  f->payload_len = (size_t)plen;
  f->id = 0;
  f->unknown_settings = 0;
  p2pq_h3_settings_default(&f->settings);
  *consumed = hl + (size_t)plen;
  switch (f->type) {
  case P2PQ_H3_FRAME_SETTINGS:
    return p2pq_h3_settings_decode(f->payload, f->payload_len, &f->settings,
                                   &f->unknown_settings, h3_err);
  case P2PQ_H3_FRAME_CANCEL_PUSH:
  case P2PQ_H3_FRAME_GOAWAY:
  case P2PQ_H3_FRAME_MAX_PUSH_ID: {
    p2pq_rd r;
    p2pq_rd_init(&r, f->payload, f->payload_len);
    /* the payload is exactly one varint (RFC 9114 7.1: extra bytes are a FRAME_ERROR) */
    if (p2pq_rd_varint(&r, &f->id) < 0 || p2pq_rd_left(&r) != 0) {
      *h3_err = P2PQ_H3_FRAME_ERROR;
      return P2PQ_ERR_H3;
    }
    return 0;
  }
  default: return 0;
  }
}

int p2pq_h3_frame_encode_header(uint8_t *out, size_t cap, uint64_t type, uint64_t payload_len) {
  p2pq_wr w;
  int rc;
  p2pq_wr_init(&w, out, cap);
  if ((rc = p2pq_wr_varint(&w, type)) < 0 || (rc = p2pq_wr_varint(&w, payload_len)) < 0)
    return rc;
  return (int)(cap - p2pq_wr_left(&w));
}

static int put_setting(p2pq_wr *w, uint64_t id, uint64_t v) {
  int rc = p2pq_wr_varint(w, id);
  return rc < 0 ? rc : p2pq_wr_varint(w, v);
}

int p2pq_h3_settings_encode(uint8_t *out, size_t cap, const p2pq_h3_settings *s,
                            uint64_t grease_id, uint64_t grease_value) {
  uint8_t body[128];
  p2pq_wr w;
  size_t blen;
  int rc = 0, hl;
  p2pq_wr_init(&w, body, sizeof body);
  if (s->qpack_max_table_capacity)
    rc |= put_setting(&w, P2PQ_H3_SETTING_QPACK_MAX_TABLE_CAPACITY, s->qpack_max_table_capacity);
  if (s->max_field_section_size <= P2PQ_VARINT_MAX)
    rc |= put_setting(&w, P2PQ_H3_SETTING_MAX_FIELD_SECTION_SIZE, s->max_field_section_size);
  if (s->qpack_blocked_streams)
    rc |= put_setting(&w, P2PQ_H3_SETTING_QPACK_BLOCKED_STREAMS, s->qpack_blocked_streams);
  if (s->enable_connect_protocol)
    rc |= put_setting(&w, P2PQ_H3_SETTING_ENABLE_CONNECT_PROTOCOL, 1);
  if (s->h3_datagram)
    rc |= put_setting(&w, P2PQ_H3_SETTING_H3_DATAGRAM, 1);
  if (grease_id)
    rc |= put_setting(&w, grease_id, grease_value);
  if (rc)
    return P2PQ_ERR_INVALID_ARG;
  blen = sizeof body - p2pq_wr_left(&w);
  hl = p2pq_h3_frame_encode_header(out, cap, P2PQ_H3_FRAME_SETTINGS, blen);
  if (hl < 0)
    return hl;
  if (cap - (size_t)hl < blen)
    return P2PQ_ERR_NOBUF;
  memcpy(out + hl, body, blen);
  return hl + (int)blen;
}

int p2pq_h3_frame_encode_varint(uint8_t *out, size_t cap, uint64_t type, uint64_t v) {
  p2pq_wr w;
  int rc;
  if (v > P2PQ_VARINT_MAX)
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&w, out, cap);
  if ((rc = p2pq_wr_varint(&w, type)) < 0 || (rc = p2pq_wr_varint(&w, p2pq_varint_len(v))) < 0 ||
      (rc = p2pq_wr_varint(&w, v)) < 0)
    return rc;
  return (int)(cap - p2pq_wr_left(&w));
}
