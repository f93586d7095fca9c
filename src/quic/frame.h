/* QUIC frames (RFC 9000 sections 12.4 and 19, RFC 9221 DATAGRAM) and the
 * extension frames of address discovery and NAT traversal (see
 * /work/shared/specs). Decoding is zero-copy: data, tokens, reasons and ACK
 * ranges point into the input. Every frame type is one row of the table in
 * frame.c (type range, name, flags, decoder, emitter); extensions are rows too,
 * their codecs live in frame_ext.c. */
#ifndef P2PQ_QUIC_FRAME_H
#define P2PQ_QUIC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "p2pq/types.h"
#include "quic/cid.h"

enum p2pq_frame_type_e {
  P2PQ_FT_PADDING = 0x00,
  P2PQ_FT_PING = 0x01,
  P2PQ_FT_ACK = 0x02,
  P2PQ_FT_ACK_ECN = 0x03,
  P2PQ_FT_RESET_STREAM = 0x04,
  P2PQ_FT_STOP_SENDING = 0x05,
  P2PQ_FT_CRYPTO = 0x06,
  P2PQ_FT_NEW_TOKEN = 0x07,
  P2PQ_FT_STREAM = 0x08, /* ..0x0f: | OFF | LEN | FIN */
  P2PQ_FT_MAX_DATA = 0x10,
  P2PQ_FT_MAX_STREAM_DATA = 0x11,
  P2PQ_FT_MAX_STREAMS_BIDI = 0x12,
  P2PQ_FT_MAX_STREAMS_UNI = 0x13,
  P2PQ_FT_DATA_BLOCKED = 0x14,
  P2PQ_FT_STREAM_DATA_BLOCKED = 0x15,
  P2PQ_FT_STREAMS_BLOCKED_BIDI = 0x16,
  P2PQ_FT_STREAMS_BLOCKED_UNI = 0x17,
  P2PQ_FT_NEW_CONNECTION_ID = 0x18,
  P2PQ_FT_RETIRE_CONNECTION_ID = 0x19,
  P2PQ_FT_PATH_CHALLENGE = 0x1a,
  P2PQ_FT_PATH_RESPONSE = 0x1b,
  P2PQ_FT_CONNECTION_CLOSE = 0x1c,
  P2PQ_FT_CONNECTION_CLOSE_APP = 0x1d,
  P2PQ_FT_HANDSHAKE_DONE = 0x1e,
  P2PQ_FT_DATAGRAM = 0x30,
  P2PQ_FT_DATAGRAM_LEN = 0x31,
  /* draft-ietf-quic-address-discovery-00 */
  P2PQ_FT_OBSERVED_ADDRESS_V4 = 0x9f81a6,
  P2PQ_FT_OBSERVED_ADDRESS_V6 = 0x9f81a7,
  /* draft-seemann-quic-nat-traversal-02 */
  P2PQ_FT_ADD_ADDRESS_V4 = 0x3d7e90,
  P2PQ_FT_ADD_ADDRESS_V6 = 0x3d7e91,
  P2PQ_FT_PUNCH_ME_NOW_V4 = 0x3d7e92,
  P2PQ_FT_PUNCH_ME_NOW_V6 = 0x3d7e93,
  P2PQ_FT_REMOVE_ADDRESS = 0x3d7e94,
};

/* STREAM type bits */
#define P2PQ_STREAM_FIN 0x01
#define P2PQ_STREAM_LEN 0x02
#define P2PQ_STREAM_OFF 0x04

/* Largest stream count in MAX_STREAMS / STREAMS_BLOCKED (RFC 9000 19.11). */
#define P2PQ_MAX_STREAMS_LIMIT (1ull << 60)

typedef struct p2pq_frame {
  uint64_t type; /* on encode: selects the row; the exact wire type (STREAM bits,
                    address family) is derived from the fields */
  union {
    struct {
      uint64_t largest, ack_delay, first_range, range_count;
      const uint8_t *ranges; /* raw (gap, length) varint pairs, validated at decode */
      size_t ranges_len;
      int has_ecn;
      uint64_t ect0, ect1, ce;
    } ack;
    struct {
      uint64_t stream_id, offset;
      const uint8_t *data;
      size_t len;
      int fin;
    } stream; /* encode: Length field present iff type has P2PQ_STREAM_LEN */
    struct {
      uint64_t offset;
      const uint8_t *data;
      size_t len;
    } crypto;
    struct {
      uint64_t stream_id, error_code, final_size;
    } reset_stream;
    struct {
      uint64_t stream_id, error_code;
    } stop_sending;
    struct {
      const uint8_t *token;
      size_t len;
    } new_token;
    struct {
      uint64_t max;
    } max_data;
    struct {
      uint64_t stream_id, max;
    } max_stream_data;
    struct {
      uint64_t max;
    } max_streams; /* bidi / uni from type */
    struct {
      uint64_t limit;
    } data_blocked;
    struct {
      uint64_t stream_id, limit;
    } stream_data_blocked;
    struct {
      uint64_t limit;
    } streams_blocked; /* bidi / uni from type */
    struct {
      uint64_t seq, retire_prior_to;
      p2pq_cid cid;
      uint8_t reset_token[16];
    } new_cid;
    struct {
      uint64_t seq;
    } retire_cid;
    struct {
      uint8_t data[8];
    } path; /* PATH_CHALLENGE / PATH_RESPONSE */
    struct {
      uint64_t error_code, frame_type; /* frame_type only in 0x1c */
      const uint8_t *reason;
      size_t reason_len;
      int app; /* 1 for 0x1d */
    } close;
    struct {
      const uint8_t *data;
      size_t len;
    } datagram; /* encode: Length field present iff type is 0x31 */
    struct {
      uint64_t seq;
      p2pq_addr addr; /* family 4 or 6 picks the type */
    } observed_address;
    struct {
      uint64_t seq;
      p2pq_addr addr;
    } add_address;
    struct {
      uint64_t round, paired_seq; /* paired_seq: the server's ADD_ADDRESS seq */
      p2pq_addr addr;             /* the client's candidate */
    } punch_me_now;
    struct {
      uint64_t seq;
    } remove_address;
    size_t padding_len; /* consecutive PADDING bytes collapsed into one frame */
  } u;
} p2pq_frame;

/* Decodes one frame at r and advances r past it. Errors:
 * P2PQ_ERR_FRAME_ENCODING for unknown types, truncation and out-of-range values
 * (offset+len > 2^62-1, ACK ranges below zero, NEW_CONNECTION_ID CID length 0 or
 * > 20 or retire_prior_to > seq, empty NEW_TOKEN, MAX_STREAMS/STREAMS_BLOCKED >
 * 2^60, bad address family); P2PQ_ERR_PROTOCOL for a type not in its shortest
 * encoding. r is unchanged on error. */
int p2pq_frame_decode(p2pq_rd *r, p2pq_frame *f);

/* Encodes f; P2PQ_ERR_NOBUF (w unchanged, nothing written) if it does not fit,
 * P2PQ_ERR_INVALID_ARG for values that cannot be encoded. */
int p2pq_frame_encode(p2pq_wr *w, const p2pq_frame *f);
/* Exact encoded size of f, or 0 if f cannot be encoded. */
size_t p2pq_frame_encoded_len(const p2pq_frame *f);

/* Bytes of a STREAM frame besides its data (type, id, offset if non-zero,
 * length if has_len). */
size_t p2pq_frame_stream_overhead(uint64_t stream_id, uint64_t offset, size_t len, int has_len);
/* Most data bytes a STREAM frame can carry in space bytes (0 if not even the
 * header fits). */
size_t p2pq_frame_stream_max_data(uint64_t stream_id, uint64_t offset, size_t space,
                                  int has_len);
size_t p2pq_frame_crypto_overhead(uint64_t offset, size_t len);
size_t p2pq_frame_crypto_max_data(uint64_t offset, size_t space);
size_t p2pq_frame_datagram_overhead(size_t len, int has_len);

/* ACK ranges as [smallest, largest] intervals from the highest down. */
typedef struct p2pq_ack_iter {
  p2pq_rd r;
  uint64_t remaining; /* (gap, length) pairs still to read */
  uint64_t smallest;  /* of the range last returned */
  uint64_t first_largest, first_smallest;
  int started;
} p2pq_ack_iter;
void p2pq_ack_iter_init(p2pq_ack_iter *it, const p2pq_frame *ack);
/* 1 and the next range while ranges remain, 0 at the end, negative if the
 * ranges are malformed (only possible for frames not made by the decoder). */
int p2pq_ack_iter_next(p2pq_ack_iter *it, uint64_t *smallest, uint64_t *largest);

typedef struct {
  uint64_t smallest, largest;
} p2pq_ack_range;
/* Writes an ACK (or ACK_ECN if ecn = [ect0, ect1, ce]) from ranges sorted
 * highest first, each separated by at least one missing packet. Writes as many
 * ranges as fit in w; returns that count (>= 1), P2PQ_ERR_NOBUF if not even the
 * first fits, P2PQ_ERR_INVALID_ARG for unsorted/overlapping/empty ranges. */
int p2pq_frame_encode_ack(p2pq_wr *w, const p2pq_ack_range *ranges, size_t n,
                          uint64_t ack_delay_encoded, const uint64_t *ecn);

/* Frame properties (RFC 9000 Table 3 plus the extension specs). */
enum {
  P2PQ_FF_ACK_ELICITING = 1,
  P2PQ_FF_PROBING = 2, /* RFC 9000 9.1 */
  P2PQ_FF_IN_INITIAL = 4,
  P2PQ_FF_IN_HANDSHAKE = 8,
  P2PQ_FF_IN_0RTT = 16,
  P2PQ_FF_IN_1RTT = 32,
  P2PQ_FF_CONGESTION_CONTROLLED = 64, /* counts toward bytes in flight */
};
/* 0 for unknown types. */
unsigned p2pq_frame_flags(uint64_t type);
/* qlog name ("stream", "ack", "observed_address", ...); "unknown" if unknown. */
const char *p2pq_frame_name(uint64_t type);

/* ---- for codec rows (frame.c, frame_ext.c); not for general use ---- */

/* Emitter: one function per frame both measures (w == NULL) and writes, so the
 * encoded length and the encoding cannot disagree. */
typedef struct p2pq_frame_emit {
  p2pq_wr *w;
  size_t n;
  int err;
} p2pq_frame_emit;
void p2pq_frame_emit_varint(p2pq_frame_emit *e, uint64_t v);
void p2pq_frame_emit_bytes(p2pq_frame_emit *e, const void *p, size_t n);
void p2pq_frame_emit_u16(p2pq_frame_emit *e, uint16_t v);

typedef int (*p2pq_frame_dec_fn)(p2pq_rd *r, uint64_t type, p2pq_frame *f);
typedef void (*p2pq_frame_emit_fn)(p2pq_frame_emit *e, const p2pq_frame *f);

/* Address-carrying extension frames (frame_ext.c). */
int p2pq_frame_dec_observed_address(p2pq_rd *r, uint64_t type, p2pq_frame *f);
void p2pq_frame_emit_observed_address(p2pq_frame_emit *e, const p2pq_frame *f);
int p2pq_frame_dec_add_address(p2pq_rd *r, uint64_t type, p2pq_frame *f);
void p2pq_frame_emit_add_address(p2pq_frame_emit *e, const p2pq_frame *f);
int p2pq_frame_dec_punch_me_now(p2pq_rd *r, uint64_t type, p2pq_frame *f);
void p2pq_frame_emit_punch_me_now(p2pq_frame_emit *e, const p2pq_frame *f);
int p2pq_frame_dec_remove_address(p2pq_rd *r, uint64_t type, p2pq_frame *f);
void p2pq_frame_emit_remove_address(p2pq_frame_emit *e, const p2pq_frame *f);

#endif
