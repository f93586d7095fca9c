/* QUIC v1 frame codecs (RFC 9000 section 19, RFC 9221) and the frame table. */
#include "quic/frame.h"

#include <string.h>

#define FENC P2PQ_ERR_FRAME_ENCODING

/* ---- emitter ---- */

void p2pq_frame_emit_varint(p2pq_frame_emit *e, uint64_t v) {
  if (v > P2PQ_VARINT_MAX) {
    e->err = P2PQ_ERR_INVALID_ARG;
    return;
  }
  e->n += p2pq_varint_len(v);
  if (e->w && !e->err)
    e->err = p2pq_wr_varint(e->w, v);
}

void p2pq_frame_emit_bytes(p2pq_frame_emit *e, const void *p, size_t n) {
  e->n += n;
  if (e->w && !e->err)
    e->err = p2pq_wr_bytes(e->w, p, n);
}

void p2pq_frame_emit_u16(p2pq_frame_emit *e, uint16_t v) {
  e->n += 2;
  if (e->w && !e->err)
    e->err = p2pq_wr_u16(e->w, v);
}

static void emit_zeros(p2pq_frame_emit *e, size_t n) {
  e->n += n;
  if (e->w && !e->err) {
    if (p2pq_wr_left(e->w) < n) {
      e->err = P2PQ_ERR_NOBUF;
      return;
    }
    memset(e->w->p, 0, n);
    e->w->p += n;
  }
}

/* ---- decoding helpers: any shortfall inside a frame is FRAME_ENCODING_ERROR ---- */

static int rv(p2pq_rd *r, uint64_t *v) { return p2pq_rd_varint(r, v) ? FENC : 0; }

/* A varint length followed by that many bytes. */
static int rd_lenbytes(p2pq_rd *r, const uint8_t **p, size_t *len) {
  uint64_t n;
  if (rv(r, &n) || n > p2pq_rd_left(r))
    return FENC;
  *len = (size_t)n;
  *p = r->p;
  r->p += n;
  return 0;
}

#define RV(r, v)                                                                             \
  do {                                                                                       \
    if (rv((r), (v)))                                                                        \
      return FENC;                                                                           \
  } while (0)

/* ---- PADDING, PING, HANDSHAKE_DONE ---- */

static int dec_padding(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  size_t n = 1;
  while (r->p < r->end && *r->p == 0) {
    r->p++;
    n++;
  }
  f->u.padding_len = n;
  return 0;
}
static void emit_padding(p2pq_frame_emit *e, const p2pq_frame *f) {
  emit_zeros(e, f->u.padding_len ? f->u.padding_len : 1);
}

static int dec_empty(p2pq_rd *r, uint64_t type, p2pq_frame *f) { return 0; }
static void emit_empty(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, f->type);
}

/* ---- ACK ---- */

/* Walks count (gap, length) pairs below a range whose smallest is *smallest;
 * fails if any range would go below packet number 0. */
static int ack_step(p2pq_rd *r, uint64_t *smallest, uint64_t *largest) {
  uint64_t gap, len;
  RV(r, &gap);
  RV(r, &len);
  if (*smallest < 2 || gap > *smallest - 2)
    return FENC;
  *largest = *smallest - gap - 2;
  if (len > *largest)
    return FENC;
  *smallest = *largest - len;
  return 0;
}

static int dec_ack(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  uint64_t smallest, largest;
  RV(r, &f->u.ack.largest);
  RV(r, &f->u.ack.ack_delay);
  RV(r, &f->u.ack.range_count);
  RV(r, &f->u.ack.first_range);
  if (f->u.ack.first_range > f->u.ack.largest)
    return FENC;
  smallest = f->u.ack.largest - f->u.ack.first_range;
  f->u.ack.ranges = r->p;
  for (uint64_t i = 0; i < f->u.ack.range_count; i++)
    if (ack_step(r, &smallest, &largest))
      return FENC;
  f->u.ack.ranges_len = (size_t)(r->p - f->u.ack.ranges);
  f->u.ack.has_ecn = type == P2PQ_FT_ACK_ECN;
  if (f->u.ack.has_ecn) {
    RV(r, &f->u.ack.ect0);
    RV(r, &f->u.ack.ect1);
    RV(r, &f->u.ack.ce);
  }
  return 0;
}

static void emit_ack(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, f->u.ack.has_ecn ? P2PQ_FT_ACK_ECN : P2PQ_FT_ACK);
  p2pq_frame_emit_varint(e, f->u.ack.largest);
  p2pq_frame_emit_varint(e, f->u.ack.ack_delay);
  p2pq_frame_emit_varint(e, f->u.ack.range_count);
  p2pq_frame_emit_varint(e, f->u.ack.first_range);
  p2pq_frame_emit_bytes(e, f->u.ack.ranges, f->u.ack.ranges_len);
  if (f->u.ack.has_ecn) {
    p2pq_frame_emit_varint(e, f->u.ack.ect0);
    p2pq_frame_emit_varint(e, f->u.ack.ect1);
    p2pq_frame_emit_varint(e, f->u.ack.ce);
  }
}

void p2pq_ack_iter_init(p2pq_ack_iter *it, const p2pq_frame *ack) {
  static const uint8_t none[1];
  memset(it, 0, sizeof(*it));
  if (ack->u.ack.ranges)
    p2pq_rd_init(&it->r, ack->u.ack.ranges, ack->u.ack.ranges_len);
  else
    p2pq_rd_init(&it->r, none, 0);
  it->remaining = ack->u.ack.range_count;
  it->first_largest = ack->u.ack.largest;
  it->first_smallest = ack->u.ack.largest - ack->u.ack.first_range;
  if (ack->u.ack.first_range > ack->u.ack.largest)
    it->first_smallest = UINT64_MAX; /* flags the error for _next */
}

int p2pq_ack_iter_next(p2pq_ack_iter *it, uint64_t *smallest, uint64_t *largest) {
  if (!it->started) {
    it->started = 1;
    if (it->first_smallest > it->first_largest)
      return FENC;
    it->smallest = it->first_smallest;
    *smallest = it->first_smallest;
    *largest = it->first_largest;
    return 1;
  }
  if (it->remaining == 0)
    return 0;
  if (ack_step(&it->r, &it->smallest, largest))
    return FENC;
  it->remaining--;
  *smallest = it->smallest;
  return 1;
}

/* Checks ranges are highest first, non-empty, with at least one missing packet
 * between neighbours. */
static int ack_ranges_ok(const p2pq_ack_range *rg, size_t n) {
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (rg[i].smallest > rg[i].largest || rg[i].largest > P2PQ_VARINT_MAX)
      return 0;
    if (i && (rg[i - 1].smallest < 2 || rg[i].largest > rg[i - 1].smallest - 2))
      return 0;
  }
  return 1;
}

static size_t ack_pair_len(const p2pq_ack_range *rg, size_t i) {
  return p2pq_varint_len(rg[i - 1].smallest - rg[i].largest - 2) +
         p2pq_varint_len(rg[i].largest - rg[i].smallest);
}

int p2pq_frame_encode_ack(p2pq_wr *w, const p2pq_ack_range *rg, size_t n,
                          uint64_t ack_delay_encoded, const uint64_t *ecn) {
  size_t fixed, pairs = 0, k = 0, left = p2pq_wr_left(w);
  uint64_t type = ecn ? P2PQ_FT_ACK_ECN : P2PQ_FT_ACK;
  if (!ack_ranges_ok(rg, n) || ack_delay_encoded > P2PQ_VARINT_MAX)
    return P2PQ_ERR_INVALID_ARG;
  if (ecn && (ecn[0] > P2PQ_VARINT_MAX || ecn[1] > P2PQ_VARINT_MAX || ecn[2] > P2PQ_VARINT_MAX))
    return P2PQ_ERR_INVALID_ARG;
  fixed = 1 + p2pq_varint_len(rg[0].largest) + p2pq_varint_len(ack_delay_encoded) +
          p2pq_varint_len(rg[0].largest - rg[0].smallest);
  if (ecn)
    fixed += p2pq_varint_len(ecn[0]) + p2pq_varint_len(ecn[1]) + p2pq_varint_len(ecn[2]);
  if (fixed + 1 > left)
    return P2PQ_ERR_NOBUF;
  /* add further ranges while the frame (with its Range Count) still fits */
  while (k + 1 < n) {
    size_t more = pairs + ack_pair_len(rg, k + 1);
    if (fixed + p2pq_varint_len(k + 1) + more > left)
      break;
    pairs = more;
    k++;
  }
  p2pq_wr_varint(w, type);
  p2pq_wr_varint(w, rg[0].largest);
  p2pq_wr_varint(w, ack_delay_encoded);
  p2pq_wr_varint(w, k);
  p2pq_wr_varint(w, rg[0].largest - rg[0].smallest);
  for (size_t i = 1; i <= k; i++) {
    p2pq_wr_varint(w, rg[i - 1].smallest - rg[i].largest - 2);
    p2pq_wr_varint(w, rg[i].largest - rg[i].smallest);
  }
  if (ecn)
    for (int i = 0; i < 3; i++)
      p2pq_wr_varint(w, ecn[i]);
  return (int)(k + 1 > 0x7fffffff ? 0x7fffffff : k + 1);
}

/* ---- STREAM, CRYPTO, NEW_TOKEN, DATAGRAM: data points into the input ---- */

static int dec_stream(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  uint64_t len;
  f->u.stream.offset = 0;
  RV(r, &f->u.stream.stream_id);
  if (type & P2PQ_STREAM_OFF)
    RV(r, &f->u.stream.offset);
  if (type & P2PQ_STREAM_LEN) {
    RV(r, &len);
    if (len > p2pq_rd_left(r))
      return FENC;
  } else {
    len = p2pq_rd_left(r);
  }
  if (len > P2PQ_VARINT_MAX - f->u.stream.offset)
    return FENC;
  f->u.stream.data = r->p;
  f->u.stream.len = (size_t)len;
  f->u.stream.fin = (type & P2PQ_STREAM_FIN) != 0;
  r->p += len;
  return 0;
}

static void emit_stream(p2pq_frame_emit *e, const p2pq_frame *f) {
  uint64_t t = P2PQ_FT_STREAM | (f->type & P2PQ_STREAM_LEN);
  if (f->u.stream.offset)
    t |= P2PQ_STREAM_OFF;
  if (f->u.stream.fin)
    t |= P2PQ_STREAM_FIN;
  if (f->u.stream.offset > P2PQ_VARINT_MAX ||
      f->u.stream.len > P2PQ_VARINT_MAX - f->u.stream.offset)
    e->err = P2PQ_ERR_INVALID_ARG;
  p2pq_frame_emit_varint(e, t);
  p2pq_frame_emit_varint(e, f->u.stream.stream_id);
  if (t & P2PQ_STREAM_OFF)
    p2pq_frame_emit_varint(e, f->u.stream.offset);
  if (t & P2PQ_STREAM_LEN)
    p2pq_frame_emit_varint(e, f->u.stream.len);
  p2pq_frame_emit_bytes(e, f->u.stream.data, f->u.stream.len);
}

size_t p2pq_frame_stream_overhead(uint64_t stream_id, uint64_t offset, size_t len, int has_len) {
  return 1 + p2pq_varint_len(stream_id) + (offset ? p2pq_varint_len(offset) : 0) +
         (has_len ? p2pq_varint_len(len) : 0);
}

/* Largest data length d with hdr + varint_len(d) + d <= space. */
static size_t max_with_len(size_t hdr, size_t space) {
  size_t d;
  if (space <= hdr)
    return 0;
  d = space - hdr - 1;
  while (d && hdr + p2pq_varint_len(d) + d > space)
    d--; /* at most a few steps: varint_len only changes at 64/16384/2^30 */
  if (hdr + p2pq_varint_len(d) + d > space)
    return 0;
  return d;
}

size_t p2pq_frame_stream_max_data(uint64_t stream_id, uint64_t offset, size_t space,
                                  int has_len) {
  size_t hdr = p2pq_frame_stream_overhead(stream_id, offset, 0, 0);
  if (!has_len)
    return space > hdr ? space - hdr : 0;
  return max_with_len(hdr, space);
}

static int dec_crypto(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.crypto.offset);
  if (rd_lenbytes(r, &f->u.crypto.data, &f->u.crypto.len))
    return FENC;
  if (f->u.crypto.len > P2PQ_VARINT_MAX - f->u.crypto.offset)
    return FENC;
  return 0;
}

static void emit_crypto(p2pq_frame_emit *e, const p2pq_frame *f) {
  if (f->u.crypto.offset > P2PQ_VARINT_MAX ||
      f->u.crypto.len > P2PQ_VARINT_MAX - f->u.crypto.offset)
    e->err = P2PQ_ERR_INVALID_ARG;
  p2pq_frame_emit_varint(e, P2PQ_FT_CRYPTO);
  p2pq_frame_emit_varint(e, f->u.crypto.offset);
  p2pq_frame_emit_varint(e, f->u.crypto.len);
  p2pq_frame_emit_bytes(e, f->u.crypto.data, f->u.crypto.len);
}

size_t p2pq_frame_crypto_overhead(uint64_t offset, size_t len) {
  return 1 + p2pq_varint_len(offset) + p2pq_varint_len(len);
}

size_t p2pq_frame_crypto_max_data(uint64_t offset, size_t space) {
  return max_with_len(1 + p2pq_varint_len(offset), space);
}

static int dec_new_token(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  if (rd_lenbytes(r, &f->u.new_token.token, &f->u.new_token.len) || f->u.new_token.len == 0)
    return FENC;
  return 0;
}

static void emit_new_token(p2pq_frame_emit *e, const p2pq_frame *f) {
  if (f->u.new_token.len == 0)
    e->err = P2PQ_ERR_INVALID_ARG;
  p2pq_frame_emit_varint(e, P2PQ_FT_NEW_TOKEN);
  p2pq_frame_emit_varint(e, f->u.new_token.len);
  p2pq_frame_emit_bytes(e, f->u.new_token.token, f->u.new_token.len);
}

static int dec_datagram(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  if (type == P2PQ_FT_DATAGRAM_LEN)
    return rd_lenbytes(r, &f->u.datagram.data, &f->u.datagram.len);
  f->u.datagram.data = r->p;
  f->u.datagram.len = p2pq_rd_left(r);
  r->p = r->end;
  return 0;
}

static void emit_datagram(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, f->type);
  if (f->type == P2PQ_FT_DATAGRAM_LEN)
    p2pq_frame_emit_varint(e, f->u.datagram.len);
  p2pq_frame_emit_bytes(e, f->u.datagram.data, f->u.datagram.len);
}

size_t p2pq_frame_datagram_overhead(size_t len, int has_len) {
  return 1 + (has_len ? p2pq_varint_len(len) : 0);
}

/* ---- stream and flow control frames ---- */

static int dec_reset_stream(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.reset_stream.stream_id);
  RV(r, &f->u.reset_stream.error_code);
  RV(r, &f->u.reset_stream.final_size);
  return 0;
}
static void emit_reset_stream(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, P2PQ_FT_RESET_STREAM);
  p2pq_frame_emit_varint(e, f->u.reset_stream.stream_id);
  p2pq_frame_emit_varint(e, f->u.reset_stream.error_code);
  p2pq_frame_emit_varint(e, f->u.reset_stream.final_size);
}

static int dec_stop_sending(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.stop_sending.stream_id);
  RV(r, &f->u.stop_sending.error_code);
  return 0;
}
static void emit_stop_sending(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, P2PQ_FT_STOP_SENDING);
  p2pq_frame_emit_varint(e, f->u.stop_sending.stream_id);
  p2pq_frame_emit_varint(e, f->u.stop_sending.error_code);
}

static int dec_max_data(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.max_data.max);
  return 0;
}
static void emit_max_data(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, P2PQ_FT_MAX_DATA);
  p2pq_frame_emit_varint(e, f->u.max_data.max);
}

static int dec_max_stream_data(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.max_stream_data.stream_id);
  RV(r, &f->u.max_stream_data.max);
  return 0;
}
static void emit_max_stream_data(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, P2PQ_FT_MAX_STREAM_DATA);
  p2pq_frame_emit_varint(e, f->u.max_stream_data.stream_id);
  p2pq_frame_emit_varint(e, f->u.max_stream_data.max);
}

static int dec_max_streams(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.max_streams.max);
  return f->u.max_streams.max > P2PQ_MAX_STREAMS_LIMIT ? FENC : 0;
}
static void emit_max_streams(p2pq_frame_emit *e, const p2pq_frame *f) {
  if (f->u.max_streams.max > P2PQ_MAX_STREAMS_LIMIT)
    e->err = P2PQ_ERR_INVALID_ARG;
  p2pq_frame_emit_varint(e, f->type);
  p2pq_frame_emit_varint(e, f->u.max_streams.max);
}

static int dec_data_blocked(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.data_blocked.limit);
  return 0;
}
static void emit_data_blocked(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, P2PQ_FT_DATA_BLOCKED);
  p2pq_frame_emit_varint(e, f->u.data_blocked.limit);
}

static int dec_stream_data_blocked(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.stream_data_blocked.stream_id);
  RV(r, &f->u.stream_data_blocked.limit);
  return 0;
}
static void emit_stream_data_blocked(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, P2PQ_FT_STREAM_DATA_BLOCKED);
  p2pq_frame_emit_varint(e, f->u.stream_data_blocked.stream_id);
  p2pq_frame_emit_varint(e, f->u.stream_data_blocked.limit);
}

static int dec_streams_blocked(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.streams_blocked.limit);
  return f->u.streams_blocked.limit > P2PQ_MAX_STREAMS_LIMIT ? FENC : 0;
}
static void emit_streams_blocked(p2pq_frame_emit *e, const p2pq_frame *f) {
  if (f->u.streams_blocked.limit > P2PQ_MAX_STREAMS_LIMIT)
    e->err = P2PQ_ERR_INVALID_ARG;
  p2pq_frame_emit_varint(e, f->type);
  p2pq_frame_emit_varint(e, f->u.streams_blocked.limit);
}

/* ---- connection IDs and paths ---- */

static int dec_new_cid(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  uint8_t n;
  const uint8_t *d;
  RV(r, &f->u.new_cid.seq);
  RV(r, &f->u.new_cid.retire_prior_to);
  if (f->u.new_cid.retire_prior_to > f->u.new_cid.seq)
    return FENC;
  if (p2pq_rd_u8(r, &n) || n == 0 || n > P2PQ_MAX_CIDLEN || p2pq_rd_bytes(r, n, &d))
    return FENC;
  p2pq_cid_init(&f->u.new_cid.cid, d, n);
  return p2pq_rd_copy(r, f->u.new_cid.reset_token, 16) ? FENC : 0;
}
static void emit_new_cid(p2pq_frame_emit *e, const p2pq_frame *f) {
  uint8_t n = f->u.new_cid.cid.len;
  if (n == 0 || n > P2PQ_MAX_CIDLEN || f->u.new_cid.retire_prior_to > f->u.new_cid.seq) {
    e->err = P2PQ_ERR_INVALID_ARG;
    return;
  }
  p2pq_frame_emit_varint(e, P2PQ_FT_NEW_CONNECTION_ID);
  p2pq_frame_emit_varint(e, f->u.new_cid.seq);
  p2pq_frame_emit_varint(e, f->u.new_cid.retire_prior_to);
  p2pq_frame_emit_bytes(e, &n, 1);
  p2pq_frame_emit_bytes(e, f->u.new_cid.cid.data, n);
  p2pq_frame_emit_bytes(e, f->u.new_cid.reset_token, 16);
}

static int dec_retire_cid(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  RV(r, &f->u.retire_cid.seq);
  return 0;
}
static void emit_retire_cid(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, P2PQ_FT_RETIRE_CONNECTION_ID);
  p2pq_frame_emit_varint(e, f->u.retire_cid.seq);
}

static int dec_path(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  return p2pq_rd_copy(r, f->u.path.data, 8) ? FENC : 0;
}
static void emit_path(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, f->type);
  p2pq_frame_emit_bytes(e, f->u.path.data, 8);
}

static int dec_close(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  f->u.close.app = type == P2PQ_FT_CONNECTION_CLOSE_APP;
  f->u.close.frame_type = 0;
  RV(r, &f->u.close.error_code);
  if (!f->u.close.app)
    RV(r, &f->u.close.frame_type);
  return rd_lenbytes(r, &f->u.close.reason, &f->u.close.reason_len);
}
static void emit_close(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, f->type);
  p2pq_frame_emit_varint(e, f->u.close.error_code);
  if (f->type == P2PQ_FT_CONNECTION_CLOSE)
    p2pq_frame_emit_varint(e, f->u.close.frame_type);
  p2pq_frame_emit_varint(e, f->u.close.reason_len);
  p2pq_frame_emit_bytes(e, f->u.close.reason, f->u.close.reason_len);
}

/* ---- the table ---- */

#define AE P2PQ_FF_ACK_ELICITING
#define PR P2PQ_FF_PROBING
#define CC P2PQ_FF_CONGESTION_CONTROLLED
#define I_ P2PQ_FF_IN_INITIAL
#define H_ P2PQ_FF_IN_HANDSHAKE
#define Z_ P2PQ_FF_IN_0RTT
#define O_ P2PQ_FF_IN_1RTT
#define IH01 (I_ | H_ | Z_ | O_)
#define IH_1 (I_ | H_ | O_)
#define APP01 (Z_ | O_)

typedef struct frame_row {
  uint64_t lo, hi; /* type range */
  const char *name;
  unsigned flags;
  p2pq_frame_dec_fn dec;
  p2pq_frame_emit_fn emit;
} frame_row;

/* RFC 9000 Table 3, RFC 9221, address discovery and NAT traversal digests.
 * Congestion controlled = counts in flight: ack-eliciting or PADDING (RFC 9002
 * section 2). New extensions are new rows. */
static const frame_row frame_table[] = {
    {0x00, 0x00, "padding", IH01 | PR | CC, dec_padding, emit_padding},
    {0x01, 0x01, "ping", IH01 | AE | CC, dec_empty, emit_empty},
    {0x02, 0x03, "ack", IH_1, dec_ack, emit_ack},
    {0x04, 0x04, "reset_stream", APP01 | AE | CC, dec_reset_stream, emit_reset_stream},
    {0x05, 0x05, "stop_sending", APP01 | AE | CC, dec_stop_sending, emit_stop_sending},
    {0x06, 0x06, "crypto", IH_1 | AE | CC, dec_crypto, emit_crypto},
    {0x07, 0x07, "new_token", O_ | AE | CC, dec_new_token, emit_new_token},
    {0x08, 0x0f, "stream", APP01 | AE | CC, dec_stream, emit_stream},
    {0x10, 0x10, "max_data", APP01 | AE | CC, dec_max_data, emit_max_data},
    {0x11, 0x11, "max_stream_data", APP01 | AE | CC, dec_max_stream_data, emit_max_stream_data},
    {0x12, 0x13, "max_streams", APP01 | AE | CC, dec_max_streams, emit_max_streams},
    {0x14, 0x14, "data_blocked", APP01 | AE | CC, dec_data_blocked, emit_data_blocked},
    {0x15, 0x15, "stream_data_blocked", APP01 | AE | CC, dec_stream_data_blocked,
     emit_stream_data_blocked},
    {0x16, 0x17, "streams_blocked", APP01 | AE | CC, dec_streams_blocked, emit_streams_blocked},
    {0x18, 0x18, "new_connection_id", APP01 | AE | PR | CC, dec_new_cid, emit_new_cid},
    {0x19, 0x19, "retire_connection_id", APP01 | AE | CC, dec_retire_cid, emit_retire_cid},
    {0x1a, 0x1a, "path_challenge", APP01 | AE | PR | CC, dec_path, emit_path},
    {0x1b, 0x1b, "path_response", O_ | AE | PR | CC, dec_path, emit_path},
    {0x1c, 0x1c, "connection_close", IH01, dec_close, emit_close},
    {0x1d, 0x1d, "connection_close", APP01, dec_close, emit_close},
    {0x1e, 0x1e, "handshake_done", O_ | AE | CC, dec_empty, emit_empty},
    {0x30, 0x31, "datagram", APP01 | AE | CC, dec_datagram, emit_datagram},
    {P2PQ_FT_ADD_ADDRESS_V4, P2PQ_FT_ADD_ADDRESS_V6, "add_address", APP01 | AE | CC,
     p2pq_frame_dec_add_address, p2pq_frame_emit_add_address},
    {P2PQ_FT_PUNCH_ME_NOW_V4, P2PQ_FT_PUNCH_ME_NOW_V6, "punch_me_now", APP01 | AE | CC,
     p2pq_frame_dec_punch_me_now, p2pq_frame_emit_punch_me_now},
    {P2PQ_FT_REMOVE_ADDRESS, P2PQ_FT_REMOVE_ADDRESS, "remove_address", APP01 | AE | CC,
     p2pq_frame_dec_remove_address, p2pq_frame_emit_remove_address},
    {P2PQ_FT_OBSERVED_ADDRESS_V4, P2PQ_FT_OBSERVED_ADDRESS_V6, "observed_address",
     APP01 | AE | PR | CC, p2pq_frame_dec_observed_address, p2pq_frame_emit_observed_address},
};

static const frame_row *frame_lookup(uint64_t type) {
  for (size_t i = 0; i < sizeof(frame_table) / sizeof(frame_table[0]); i++)
    if (type >= frame_table[i].lo && type <= frame_table[i].hi)
      return &frame_table[i];
  return NULL;
}

unsigned p2pq_frame_flags(uint64_t type) {
  const frame_row *row = frame_lookup(type);
  return row ? row->flags : 0;
}

const char *p2pq_frame_name(uint64_t type) {
  const frame_row *row = frame_lookup(type);
  return row ? row->name : "unknown";
}

int p2pq_frame_decode(p2pq_rd *r, p2pq_frame *f) {
  p2pq_rd t = *r;
  const uint8_t *start = t.p;
  const frame_row *row;
  int rc;
  memset(f, 0, sizeof(*f));
  if (p2pq_rd_varint(&t, &f->type))
    return FENC;
  /* RFC 9000 12.4: frame types use the shortest encoding */
  if ((size_t)(t.p - start) != p2pq_varint_len(f->type))
    return P2PQ_ERR_PROTOCOL;
  if (!(row = frame_lookup(f->type)))
    return FENC;
  if ((rc = row->dec(&t, f->type, f)) != 0)
    return rc;
  *r = t;
  return 0;
}

static int frame_measure(const p2pq_frame *f, const frame_row **row, size_t *n) {
  p2pq_frame_emit e = {NULL, 0, 0};
  if (!(*row = frame_lookup(f->type)))
    return P2PQ_ERR_INVALID_ARG;
  (*row)->emit(&e, f);
  *n = e.n;
  return e.err;
}

size_t p2pq_frame_encoded_len(const p2pq_frame *f) {
  const frame_row *row;
  size_t n;
  return frame_measure(f, &row, &n) ? 0 : n;
}

int p2pq_frame_encode(p2pq_wr *w, const p2pq_frame *f) {
  const frame_row *row;
  size_t n;
  p2pq_frame_emit e = {w, 0, 0};
  int rc = frame_measure(f, &row, &n);
  if (rc)
    return rc;
  if (n > p2pq_wr_left(w))
    return P2PQ_ERR_NOBUF;
  row->emit(&e, f);
  return e.err;
}
