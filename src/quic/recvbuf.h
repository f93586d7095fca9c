/* Receive side of one QUIC stream (or one CRYPTO level): reassembles
 * out-of-order, duplicated and overlapping fragments into the byte stream the
 * application reads in order (RFC 9000 sections 2.2, 4.5, 19.8).
 *
 * Storage is a ring of chunks aligned on stream offsets, allocated lazily, each
 * with a bitmap of the bytes received. Chunks exist only for offsets in
 * [read offset, limit), so memory stays below about 1.13 x the flow-control
 * window whatever the fragmentation (no per-fragment bookkeeping). A stream's
 * first chunk starts at 1 KiB and doubles, so short streams stay small. Where
 * fragments overlap, the first copy of a byte is kept.
 *
 * Use by the connection:
 *   p2pq_recvbuf_set_limit(rb, max_stream_data)   whenever the limit is raised
 *   p2pq_recvbuf_insert(rb, off, data, len, fin)  per STREAM / CRYPTO frame
 *   p2pq_recvbuf_final(rb, final_size)            per RESET_STREAM
 * and by the application: p2pq_recvbuf_read(), or p2pq_recvbuf_peek() +
 * p2pq_recvbuf_consume() for zero-copy reads.
 *
 * CRYPTO streams have no flow control but must still be bounded (RFC 9000
 * 7.5): init with a limit such as 65536, raise it after each read with
 * p2pq_recvbuf_set_limit(rb, rb->read_off + 65536), and report
 * P2PQ_ERR_FLOW_CONTROL from insert as CRYPTO_BUFFER_EXCEEDED. Never use
 * UINT64_MAX: memory follows the limit. */
#ifndef P2PQ_QUIC_RECVBUF_H
#define P2PQ_QUIC_RECVBUF_H

#include <stddef.h>
#include <stdint.h>

#define P2PQ_RECVBUF_CHUNK_SHIFT 14
#define P2PQ_RECVBUF_CHUNK ((size_t)1 << P2PQ_RECVBUF_CHUNK_SHIFT) /* 16 KiB */
#define P2PQ_RECVBUF_NO_FINAL UINT64_MAX

struct p2pq_recvbuf_chunk;

typedef struct p2pq_recvbuf {
  struct p2pq_recvbuf_chunk **chunks; /* ring slots [head, head+n): chunk base_idx.. (NULL = none yet) */
  size_t head, n, cap;
  uint64_t base_idx;   /* chunk index of chunks[head] == read_off >> SHIFT */
  struct p2pq_recvbuf_chunk *spare; /* one freed full chunk kept for reuse */
  size_t first_cap;    /* data capacity of chunk 0 (0: not allocated yet) */
  uint64_t read_off;   /* bytes consumed by the application */
  uint64_t contig;     /* every byte below this was received */
  uint64_t max_off;    /* highest end offset received (flow-control accounting) */
  uint64_t final_size; /* P2PQ_RECVBUF_NO_FINAL until a FIN or RESET_STREAM */
  uint64_t limit;      /* no byte at or beyond this may arrive (flow control) */
} p2pq_recvbuf;

/* limit: the initial flow-control limit (absolute offset). */
void p2pq_recvbuf_init(p2pq_recvbuf *rb, uint64_t limit);
void p2pq_recvbuf_clear(p2pq_recvbuf *rb);
/* Raises the limit (never lowers it). */
void p2pq_recvbuf_set_limit(p2pq_recvbuf *rb, uint64_t limit);

/* Adds a fragment. Errors leave the buffer unchanged:
 *   P2PQ_ERR_FINAL_SIZE    data past a known final size, a second different
 *                          final size, or a final size below data received;
 *   P2PQ_ERR_FLOW_CONTROL  data past the limit (or past 2^62-1);
 *   P2PQ_ERR_NOMEM. */
int p2pq_recvbuf_insert(p2pq_recvbuf *rb, uint64_t off, const uint8_t *data, size_t len,
                        int fin);
/* Learns the final size from RESET_STREAM (same FINAL_SIZE checks as a FIN). */
int p2pq_recvbuf_final(p2pq_recvbuf *rb, uint64_t final_size);

/* Zero-copy read: *data and *len describe the next in-order bytes (len 0 when none;
 * may be short at a chunk boundary). Valid until the next call that changes rb. */
void p2pq_recvbuf_peek(const p2pq_recvbuf *rb, const uint8_t **data, size_t *len);
/* Marks n bytes (n <= what is readable) as read; frees finished chunks. */
void p2pq_recvbuf_consume(p2pq_recvbuf *rb, size_t n);
/* Copies up to cap in-order bytes into out; returns the count. */
size_t p2pq_recvbuf_read(p2pq_recvbuf *rb, uint8_t *out, size_t cap);

/* Bytes readable now. */
static inline uint64_t p2pq_recvbuf_readable(const p2pq_recvbuf *rb) {
  return rb->contig - rb->read_off;
}
/* 1 when the final size is known and every byte up to it arrived. */
static inline int p2pq_recvbuf_all_received(const p2pq_recvbuf *rb) {
  return rb->final_size != P2PQ_RECVBUF_NO_FINAL && rb->contig == rb->final_size;
}
/* 1 when the application read everything up to the FIN. */
static inline int p2pq_recvbuf_fin_read(const p2pq_recvbuf *rb) {
  return rb->final_size != P2PQ_RECVBUF_NO_FINAL && rb->read_off == rb->final_size;
}

#endif
