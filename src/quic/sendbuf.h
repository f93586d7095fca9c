/* Send side of one QUIC stream (or one CRYPTO level): the bytes the application
 * wrote, kept until the peer acknowledged them (RFC 9000 sections 2.2, 3.1, 13.3).
 *
 * Storage is a ring of fixed-size chunks (P2PQ_SENDBUF_CHUNK bytes, aligned on
 * stream offsets), so appending never moves data of a large stream and the
 * acknowledged prefix is released chunk by chunk. Only a stream's first chunk
 * starts small (1 KiB) and doubles, so many small streams stay cheap. Pointers
 * from p2pq_sendbuf_peek are valid until the next append.
 *
 * Offsets are stream offsets. The FIN is tracked like one extra byte at offset
 * final_size, so a range (off, len, fin) covers [off, off + len + fin) in the
 * internal sets; this makes "FIN lost / acked / resent" fall out of the same code.
 *
 * Use by the packet builder:
 *   p2pq_sendbuf_peek(sb, room, flow_limit, &r)   -> lost data first, then new
 *   copy r.data[0..r.len) into a STREAM/CRYPTO frame at r.off (FIN if r.fin)
 *   p2pq_sendbuf_mark_sent(sb, r.off, r.len, r.fin)
 * and later, per frame of an acknowledged / lost packet:
 *   p2pq_sendbuf_on_ack(sb, off, len, fin) / p2pq_sendbuf_on_lost(sb, off, len, fin)
 * A short r.len is normal at a chunk boundary: call peek again for the rest. */
#ifndef P2PQ_QUIC_SENDBUF_H
#define P2PQ_QUIC_SENDBUF_H

#include <stddef.h>
#include <stdint.h>

#define P2PQ_SENDBUF_CHUNK_SHIFT 15
#define P2PQ_SENDBUF_CHUNK ((size_t)1 << P2PQ_SENDBUF_CHUNK_SHIFT) /* 32 KiB */

/* A set of disjoint, non-adjacent half-open intervals [start, end), sorted. */
typedef struct p2pq_range {
  uint64_t start, end;
} p2pq_range;

typedef struct p2pq_rangeset {
  p2pq_range *r;   /* the n intervals, inside mem */
  size_t n;
  p2pq_range *mem; /* allocation of cap intervals */
  size_t cap;
} p2pq_rangeset;

void p2pq_rangeset_init(p2pq_rangeset *rs);
void p2pq_rangeset_clear(p2pq_rangeset *rs);
/* Adds [s, e), merging with overlapping or adjacent intervals. 0 or NOMEM. */
int p2pq_rangeset_add(p2pq_rangeset *rs, uint64_t s, uint64_t e);
/* Removes [s, e) (may split an interval). 0 or NOMEM. */
int p2pq_rangeset_remove(p2pq_rangeset *rs, uint64_t s, uint64_t e);
/* 1 if every offset of [s, e) is in the set. */
int p2pq_rangeset_contains(const p2pq_rangeset *rs, uint64_t s, uint64_t e);

typedef struct p2pq_sendbuf {
  uint8_t **chunks;   /* ring slots [head, head + n) hold chunk base_idx, base_idx+1, ... */
  size_t head, n, cap;
  uint64_t base_idx;  /* chunk index (offset >> SHIFT) of chunks[head] */
  size_t tail_cap;    /* capacity of the last chunk (only a first chunk is small) */
  uint8_t *spare;     /* one released full chunk kept for reuse (no malloc per chunk) */
  uint64_t len;       /* bytes appended so far (next write offset) */
  uint64_t sent_hi;   /* end of the highest range ever sent (FIN counts 1) */
  uint64_t acked;     /* everything below this is acknowledged (FIN counts 1) */
  p2pq_rangeset acked_set; /* acknowledged ranges above `acked` */
  p2pq_rangeset lost_set;  /* ranges to retransmit (never acked ones) */
  int fin;            /* the application ended the stream at `len` */
} p2pq_sendbuf;

/* What to send next: r.len bytes at r.data (NULL when r.len == 0) for stream
 * offset r.off, followed by FIN when r.fin. retrans is 1 for lost data. */
typedef struct p2pq_sendbuf_range {
  uint64_t off;
  const uint8_t *data;
  size_t len;
  int fin;
  int retrans;
} p2pq_sendbuf_range;

void p2pq_sendbuf_init(p2pq_sendbuf *sb);
void p2pq_sendbuf_clear(p2pq_sendbuf *sb);

/* Copies len bytes in at offset sb->len; fin ends the stream after them.
 * P2PQ_ERR_STATE after a FIN, P2PQ_ERR_FLOW_CONTROL past 2^62-1, NOMEM. */
int p2pq_sendbuf_append(p2pq_sendbuf *sb, const uint8_t *data, size_t len, int fin);

/* Fills *r with the next range to send: the first lost range, else new data
 * below flow_limit (an absolute stream offset: the peer's MAX_STREAM_DATA,
 * lowered by the caller for connection credit). At most max data bytes (a FIN
 * costs none). Returns 0, or P2PQ_ERR_AGAIN when there is nothing to send. */
int p2pq_sendbuf_peek(const p2pq_sendbuf *sb, size_t max, uint64_t flow_limit,
                      p2pq_sendbuf_range *r);
/* Records that [off, off+len) (+FIN) went into a packet. */
int p2pq_sendbuf_mark_sent(p2pq_sendbuf *sb, uint64_t off, size_t len, int fin);
/* The packet holding that range was acknowledged: releases memory. */
int p2pq_sendbuf_on_ack(p2pq_sendbuf *sb, uint64_t off, size_t len, int fin);
/* The packet holding that range was declared lost: the parts not acknowledged
 * by another packet are queued for retransmission. */
int p2pq_sendbuf_on_lost(p2pq_sendbuf *sb, uint64_t off, size_t len, int fin);

/* 1 when lost or new data (or the FIN) waits to be sent, ignoring flow control. */
int p2pq_sendbuf_has_pending(const p2pq_sendbuf *sb);
/* 1 when lost data waits (retransmissions are never flow-control limited). */
static inline int p2pq_sendbuf_has_lost(const p2pq_sendbuf *sb) { return sb->lost_set.n != 0; }
/* Highest stream offset of data sent so far (the flow-control "bytes sent"). */
static inline uint64_t p2pq_sendbuf_sent_offset(const p2pq_sendbuf *sb) {
  return sb->sent_hi > sb->len ? sb->len : sb->sent_hi;
}
/* 1 when all data and the FIN were sent at least once. */
static inline int p2pq_sendbuf_all_sent(const p2pq_sendbuf *sb) {
  return sb->fin && sb->sent_hi == sb->len + 1;
}
/* 1 when all data and the FIN were acknowledged. */
static inline int p2pq_sendbuf_all_acked(const p2pq_sendbuf *sb) {
  return sb->fin && sb->acked == sb->len + 1;
}
/* Bytes held in memory (written and not yet acknowledged). */
static inline uint64_t p2pq_sendbuf_buffered(const p2pq_sendbuf *sb) {
  return sb->len - (sb->acked > sb->len ? sb->len : sb->acked);
}

#endif
