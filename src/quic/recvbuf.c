#include "quic/recvbuf.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "p2pq/error.h"

#define CHUNK_MASK ((uint64_t)P2PQ_RECVBUF_CHUNK - 1)
#define WORDS (P2PQ_RECVBUF_CHUNK / 64)

typedef struct p2pq_recvbuf_chunk {
  uint64_t bits[WORDS]; /* bit i set: byte i of this chunk was received */
  uint8_t data[];       /* P2PQ_RECVBUF_CHUNK bytes, or first_cap for chunk 0 */
} chunk;

#define FULL_CHUNK (sizeof(chunk) + P2PQ_RECVBUF_CHUNK)

void p2pq_recvbuf_init(p2pq_recvbuf *rb, uint64_t limit) {
  memset(rb, 0, sizeof(*rb));
  rb->final_size = P2PQ_RECVBUF_NO_FINAL;
  rb->limit = limit;
}

static void release_slots(p2pq_recvbuf *rb, size_t k) {
  while (k-- > 0 && rb->n > 0) {
    chunk *c = rb->chunks[rb->head];
    int full = rb->base_idx > 0 || rb->first_cap == P2PQ_RECVBUF_CHUNK;
    if (c && full && !rb->spare)
      rb->spare = c;
    else
      free(c);
    rb->head++;
    rb->n--;
    rb->base_idx++;
  }
  if (rb->n == 0)
    rb->head = 0;
}

void p2pq_recvbuf_clear(p2pq_recvbuf *rb) {
  release_slots(rb, rb->n);
  free(rb->chunks);
  free(rb->spare);
  memset(rb, 0, sizeof(*rb));
  rb->final_size = P2PQ_RECVBUF_NO_FINAL;
}

void p2pq_recvbuf_set_limit(p2pq_recvbuf *rb, uint64_t limit) {
  if (limit > rb->limit)
    rb->limit = limit;
}

/* ---- bitmap helpers (word at a time, never per byte) ----------------------- */

static uint64_t mask_bits(unsigned lo, unsigned hi) { /* bits [lo, hi), hi <= 64 */
  uint64_t m = hi == 64 ? ~0ull : (1ull << hi) - 1;
  return m & ~((1ull << lo) - 1);
}

/* First position in [p, b) whose bit equals want, or b. */
static size_t next_bit(const uint64_t *bits, size_t p, size_t b, int want) {
  size_t w;
  uint64_t x;
  if (p >= b)
    return b;
  w = p >> 6;
  x = (want ? bits[w] : ~bits[w]) & mask_bits((unsigned)(p & 63), 64);
  while (!x) {
    if (++w << 6 >= b)
      return b;
    x = want ? bits[w] : ~bits[w];
  }
  p = (w << 6) + (size_t)__builtin_ctzll(x);
  return p < b ? p : b;
}

static void set_bits(uint64_t *bits, size_t a, size_t b) {
  size_t w0 = a >> 6, w1 = (b - 1) >> 6;
  if (w0 == w1) {
    bits[w0] |= mask_bits((unsigned)(a & 63), (unsigned)((b - 1) & 63) + 1);
    return;
  }
  bits[w0] |= mask_bits((unsigned)(a & 63), 64);
  for (size_t w = w0 + 1; w < w1; w++)
    bits[w] = ~0ull;
  bits[w1] |= mask_bits(0, (unsigned)((b - 1) & 63) + 1);
}

/* ---- chunk slots ----------------------------------------------------------- */

static chunk *slot(const p2pq_recvbuf *rb, uint64_t idx) {
  uint64_t rel = idx - rb->base_idx;
  return idx >= rb->base_idx && rel < rb->n ? rb->chunks[rb->head + (size_t)rel] : NULL;
}

/* The first chunk of a stream starts small and doubles up to full size (most
 * streams are short); every later chunk is full size from the start. */
static int grow_first(p2pq_recvbuf *rb, chunk **slotp, size_t need) {
  size_t cap = rb->first_cap ? rb->first_cap : 1024;
  chunk *c;
  while (cap < need)
    cap *= 2;
  if (cap > P2PQ_RECVBUF_CHUNK)
    cap = P2PQ_RECVBUF_CHUNK;
  if (!(c = realloc(*slotp, sizeof(chunk) + cap)))
    return P2PQ_ERR_NOMEM;
  if (!*slotp)
    memset(c->bits, 0, sizeof(c->bits));
  *slotp = c;
  rb->first_cap = cap;
  return 0;
}

/* Chunk idx, able to hold `need` bytes from its start. */
static int ensure_chunk(p2pq_recvbuf *rb, uint64_t idx, size_t need, chunk **out) {
  size_t rel = (size_t)(idx - rb->base_idx);
  chunk *c;
  if (rel >= rb->n) {
    if (rb->head + rel + 1 > rb->cap && rb->head > 0) {
      memmove(rb->chunks, rb->chunks + rb->head, rb->n * sizeof(*rb->chunks));
      rb->head = 0;
    }
    if (rel + 1 > rb->cap) {
      size_t cap = rb->cap ? rb->cap * 2 : 4;
      chunk **nc;
      while (cap < rel + 1)
        cap *= 2;
      if (!(nc = realloc(rb->chunks, cap * sizeof(*nc))))
        return P2PQ_ERR_NOMEM;
      rb->chunks = nc;
      rb->cap = cap;
    }
    while (rb->n <= rel)
      rb->chunks[rb->head + rb->n++] = NULL;
  }
  if (idx == 0) {
    if (need > rb->first_cap) {
      int rc = grow_first(rb, &rb->chunks[rb->head + rel], need);
      if (rc)
        return rc;
    }
    *out = rb->chunks[rb->head + rel];
    return 0;
  }
  c = rb->chunks[rb->head + rel];
  if (!c) {
    c = rb->spare;
    rb->spare = NULL;
    if (!c && !(c = malloc(FULL_CHUNK)))
      return P2PQ_ERR_NOMEM;
    memset(c->bits, 0, sizeof(c->bits));
    rb->chunks[rb->head + rel] = c;
  }
  *out = c;
  return 0;
}

/* Copies the bytes of [a, b) (chunk positions) not yet received; src holds byte a. */
static void copy_new(chunk *c, size_t a, size_t b, const uint8_t *src) {
  size_t p = a;
  while (p < b) {
    size_t z = next_bit(c->bits, p, b, 0), o;
    if (z >= b)
      break;
    o = next_bit(c->bits, z, b, 1);
    memcpy(c->data + z, src + (z - a), o - z);
    set_bits(c->bits, z, o);
    p = o;
  }
}

/* Moves contig over the received run that starts at it. Each bitmap word is
 * passed over once in the life of the buffer. */
static void advance_contig(p2pq_recvbuf *rb) {
  while (rb->contig < rb->max_off) {
    uint64_t idx = rb->contig >> P2PQ_RECVBUF_CHUNK_SHIFT, base = idx << P2PQ_RECVBUF_CHUNK_SHIFT;
    chunk *c = slot(rb, idx);
    size_t lim, z;
    if (!c)
      return;
    lim = rb->max_off - base < P2PQ_RECVBUF_CHUNK ? (size_t)(rb->max_off - base)
                                                  : P2PQ_RECVBUF_CHUNK;
    z = next_bit(c->bits, (size_t)(rb->contig - base), lim, 0);
    rb->contig = base + z;
    if (z < P2PQ_RECVBUF_CHUNK)
      return;
  }
}

/* ---- public ---------------------------------------------------------------- */

static int check_final(const p2pq_recvbuf *rb, uint64_t end) {
  if (rb->final_size != P2PQ_RECVBUF_NO_FINAL && end != rb->final_size)
    return P2PQ_ERR_FINAL_SIZE;
  if (end < rb->max_off)
    return P2PQ_ERR_FINAL_SIZE;
  return 0;
}

int p2pq_recvbuf_insert(p2pq_recvbuf *rb, uint64_t off, const uint8_t *data, size_t len,
                        int fin) {
  uint64_t end, pos;
  int rc, in_order;
  if (off > P2PQ_VARINT_MAX || len > P2PQ_VARINT_MAX - off)
    return P2PQ_ERR_FLOW_CONTROL;
  end = off + len;
  if (fin && (rc = check_final(rb, end)))
    return rc;
  if (!fin && rb->final_size != P2PQ_RECVBUF_NO_FINAL && end > rb->final_size)
    return P2PQ_ERR_FINAL_SIZE;
  if (end > rb->limit)
    return P2PQ_ERR_FLOW_CONTROL;
  pos = off > rb->contig ? off : rb->contig; /* below contig: a duplicate */
  /* fast path for in-order data: nothing at or past pos arrived yet, and bits
   * below contig are never looked at, so copy without touching the bitmap */
  in_order = pos < end && pos == rb->contig && pos >= rb->max_off;
  while (pos < end) {
    uint64_t idx = pos >> P2PQ_RECVBUF_CHUNK_SHIFT, base = idx << P2PQ_RECVBUF_CHUNK_SHIFT;
    uint64_t cend = end - base < P2PQ_RECVBUF_CHUNK ? end : base + P2PQ_RECVBUF_CHUNK;
    chunk *c;
    if ((rc = ensure_chunk(rb, idx, (size_t)(cend - base), &c)))
      return rc;
    if (in_order)
      memcpy(c->data + (pos - base), data + (pos - off), (size_t)(cend - pos));
    else
      copy_new(c, (size_t)(pos - base), (size_t)(cend - base), data + (pos - off));
    pos = cend;
  }
  if (fin)
    rb->final_size = end;
  if (end > rb->max_off)
    rb->max_off = end;
  if (in_order)
    rb->contig = end;
  else
    advance_contig(rb);
  return 0;
}

int p2pq_recvbuf_final(p2pq_recvbuf *rb, uint64_t final_size) {
  int rc = check_final(rb, final_size);
  if (rc)
    return rc;
  if (final_size > rb->limit)
    return P2PQ_ERR_FLOW_CONTROL;
  rb->final_size = final_size;
  rb->max_off = final_size;
  return 0;
}

void p2pq_recvbuf_peek(const p2pq_recvbuf *rb, const uint8_t **data, size_t *len) {
  size_t in = (size_t)(rb->read_off & CHUNK_MASK);
  uint64_t avail = rb->contig - rb->read_off;
  chunk *c = avail ? slot(rb, rb->base_idx) : NULL;
  if (!c) {
    *data = NULL;
    *len = 0;
    return;
  }
  *data = c->data + in;
  *len = avail < P2PQ_RECVBUF_CHUNK - in ? (size_t)avail : P2PQ_RECVBUF_CHUNK - in;
}

void p2pq_recvbuf_consume(p2pq_recvbuf *rb, size_t n) {
  uint64_t idx;
  if (n > rb->contig - rb->read_off)
    n = (size_t)(rb->contig - rb->read_off);
  rb->read_off += n;
  idx = rb->read_off >> P2PQ_RECVBUF_CHUNK_SHIFT;
  if (p2pq_recvbuf_fin_read(rb))
    idx = UINT64_MAX; /* nothing more can arrive: free everything */
  if (idx > rb->base_idx)
    release_slots(rb, idx - rb->base_idx > rb->n ? rb->n : (size_t)(idx - rb->base_idx));
  if (rb->n == 0 && idx != UINT64_MAX)
    rb->base_idx = idx;
}

size_t p2pq_recvbuf_read(p2pq_recvbuf *rb, uint8_t *out, size_t cap) {
  size_t total = 0;
  while (total < cap) {
    const uint8_t *d;
    size_t n;
    p2pq_recvbuf_peek(rb, &d, &n);
    if (n == 0)
      break;
    if (n > cap - total)
      n = cap - total;
    memcpy(out + total, d, n);
    p2pq_recvbuf_consume(rb, n);
    total += n;
  }
  return total;
}
