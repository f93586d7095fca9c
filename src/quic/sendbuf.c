#include "quic/sendbuf.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "p2pq/error.h"

/* ---- interval set ---------------------------------------------------------- */

void p2pq_rangeset_init(p2pq_rangeset *rs) { memset(rs, 0, sizeof(*rs)); }

void p2pq_rangeset_clear(p2pq_rangeset *rs) {
  free(rs->mem);
  memset(rs, 0, sizeof(*rs));
}

/* First index whose end is >= x (or > x when strict). */
static size_t rs_lower(const p2pq_rangeset *rs, uint64_t x, int strict) {
  size_t lo = 0, hi = rs->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint64_t e = rs->r[mid].end;
    if (strict ? e <= x : e < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Room for n ranges from rs->r on. Deleting at the front only moves rs->r
 * (retransmissions consume the lost set from the front), so the space before
 * it is reclaimed here by sliding, or the block grows. */
static int rs_reserve(p2pq_rangeset *rs, size_t n) {
  size_t front = (size_t)(rs->r - rs->mem), cap;
  p2pq_range *nr;
  if (front + n <= rs->cap)
    return 0;
  if (front > 0) {
    memmove(rs->mem, rs->r, rs->n * sizeof(*rs->r));
    rs->r = rs->mem;
    if (n <= rs->cap)
      return 0;
  }
  cap = rs->cap ? rs->cap * 2 : 8;
  while (cap < n)
    cap *= 2;
  nr = realloc(rs->mem, cap * sizeof(*nr));
  if (!nr)
    return P2PQ_ERR_NOMEM;
  rs->mem = rs->r = nr;
  rs->cap = cap;
  return 0;
}

static int rs_insert_at(p2pq_rangeset *rs, size_t i, uint64_t s, uint64_t e) {
  if (rs_reserve(rs, rs->n + 1))
    return P2PQ_ERR_NOMEM;
  memmove(&rs->r[i + 1], &rs->r[i], (rs->n - i) * sizeof(rs->r[0]));
  rs->r[i].start = s;
  rs->r[i].end = e;
  rs->n++;
  return 0;
}

static void rs_delete(p2pq_rangeset *rs, size_t i, size_t j) {
  if (i == 0)
    rs->r += j; /* O(1) at the front */
  else
    memmove(&rs->r[i], &rs->r[j], (rs->n - j) * sizeof(rs->r[0]));
  rs->n -= j - i;
  if (rs->n == 0)
    rs->r = rs->mem;
}

int p2pq_rangeset_add(p2pq_rangeset *rs, uint64_t s, uint64_t e) {
  size_t i, j;
  if (s >= e)
    return 0;
  i = rs_lower(rs, s, 0); /* first interval touching or after s */
  j = i;
  while (j < rs->n && rs->r[j].start <= e)
    j++;
  if (i == j)
    return rs_insert_at(rs, i, s, e);
  if (rs->r[i].start < s)
    s = rs->r[i].start;
  if (rs->r[j - 1].end > e)
    e = rs->r[j - 1].end;
  rs->r[i].start = s;
  rs->r[i].end = e;
  rs_delete(rs, i + 1, j);
  return 0;
}

int p2pq_rangeset_remove(p2pq_rangeset *rs, uint64_t s, uint64_t e) {
  size_t i, j;
  if (s >= e)
    return 0;
  i = rs_lower(rs, s, 1); /* first interval ending after s */
  if (i == rs->n || rs->r[i].start >= e)
    return 0;
  if (rs->r[i].start < s && rs->r[i].end > e) { /* split */
    uint64_t old_end = rs->r[i].end;
    if (rs_insert_at(rs, i + 1, e, old_end))
      return P2PQ_ERR_NOMEM;
    rs->r[i].end = s;
    return 0;
  }
  if (rs->r[i].start < s) {
    rs->r[i].end = s;
    i++;
  }
  j = i;
  while (j < rs->n && rs->r[j].end <= e)
    j++;
  if (j < rs->n && rs->r[j].start < e)
    rs->r[j].start = e;
  rs_delete(rs, i, j);
  return 0;
}

int p2pq_rangeset_contains(const p2pq_rangeset *rs, uint64_t s, uint64_t e) {
  size_t i;
  if (s >= e)
    return 1;
  i = rs_lower(rs, s, 1);
  return i < rs->n && rs->r[i].start <= s && rs->r[i].end >= e;
}

/* ---- chunk ring ------------------------------------------------------------ */

#define CHUNK_MASK ((uint64_t)P2PQ_SENDBUF_CHUNK - 1)

void p2pq_sendbuf_init(p2pq_sendbuf *sb) {
  memset(sb, 0, sizeof(*sb));
  p2pq_rangeset_init(&sb->acked_set);
  p2pq_rangeset_init(&sb->lost_set);
}

void p2pq_sendbuf_clear(p2pq_sendbuf *sb) {
  size_t i;
  for (i = 0; i < sb->n; i++)
    free(sb->chunks[sb->head + i]);
  free(sb->chunks);
  free(sb->spare);
  p2pq_rangeset_clear(&sb->acked_set);
  p2pq_rangeset_clear(&sb->lost_set);
  memset(sb, 0, sizeof(*sb));
}

static uint8_t *chunk_at(const p2pq_sendbuf *sb, uint64_t off) {
  return sb->chunks[sb->head + (size_t)((off >> P2PQ_SENDBUF_CHUNK_SHIFT) - sb->base_idx)] +
         (off & CHUNK_MASK);
}

/* Capacity for a chunk that must hold need bytes: a stream's first chunk
 * starts small (many small streams must stay cheap) and grows by doubling;
 * every later chunk is full size, so bulk transfers never reallocate. */
static size_t chunk_cap(const p2pq_sendbuf *sb, size_t need) {
  size_t cap = 1024;
  if (sb->len >= P2PQ_SENDBUF_CHUNK)
    return P2PQ_SENDBUF_CHUNK;
  while (cap < need)
    cap *= 2;
  return cap < P2PQ_SENDBUF_CHUNK ? cap : P2PQ_SENDBUF_CHUNK;
}

static int push_chunk(p2pq_sendbuf *sb, size_t need) {
  uint8_t *c;
  size_t cap;
  if (sb->head + sb->n == sb->cap) {
    if (sb->head > 0) { /* slide down: amortised O(1) as head only grows by releases */
      memmove(sb->chunks, sb->chunks + sb->head, sb->n * sizeof(*sb->chunks));
      sb->head = 0;
    } else {
      size_t ncap = sb->cap ? sb->cap * 2 : 4;
      uint8_t **nc = realloc(sb->chunks, ncap * sizeof(*nc));
      if (!nc)
        return P2PQ_ERR_NOMEM;
      sb->chunks = nc;
      sb->cap = ncap;
    }
  }
  if (sb->spare) { /* spares are always full size */
    c = sb->spare;
    sb->spare = NULL;
    cap = P2PQ_SENDBUF_CHUNK;
  } else {
    cap = chunk_cap(sb, need);
    if (!(c = malloc(cap)))
      return P2PQ_ERR_NOMEM;
  }
  if (sb->n == 0)
    sb->base_idx = sb->len >> P2PQ_SENDBUF_CHUNK_SHIFT;
  sb->chunks[sb->head + sb->n++] = c;
  sb->tail_cap = cap;
  return 0;
}

/* Makes the last chunk hold at least need bytes. */
static int grow_tail(p2pq_sendbuf *sb, size_t need) {
  size_t cap = sb->tail_cap;
  uint8_t **slot = &sb->chunks[sb->head + sb->n - 1], *c;
  while (cap < need)
    cap *= 2;
  if (cap > P2PQ_SENDBUF_CHUNK)
    cap = P2PQ_SENDBUF_CHUNK;
  if (!(c = realloc(*slot, cap)))
    return P2PQ_ERR_NOMEM;
  *slot = c;
  sb->tail_cap = cap;
  return 0;
}

/* Frees chunks lying wholly below the acknowledged prefix. */
static void release_acked(p2pq_sendbuf *sb) {
  uint64_t data_acked = sb->acked > sb->len ? sb->len : sb->acked;
  uint64_t keep_from = data_acked >> P2PQ_SENDBUF_CHUNK_SHIFT;
  if (data_acked == sb->len) /* nothing left: the tail chunk goes too (append re-creates it) */
    keep_from = UINT64_MAX;
  while (sb->n > 0 && sb->base_idx < keep_from) {
    uint8_t *c = sb->chunks[sb->head];
    if (!sb->spare && (sb->n > 1 || sb->tail_cap == P2PQ_SENDBUF_CHUNK))
      sb->spare = c;
    else
      free(c);
    sb->head++;
    sb->n--;
    sb->base_idx++;
  }
  if (sb->n == 0)
    sb->head = 0;
}

int p2pq_sendbuf_append(p2pq_sendbuf *sb, const uint8_t *data, size_t len, int fin) {
  if (sb->fin)
    return len || !fin ? P2PQ_ERR_STATE : 0;
  if (len > P2PQ_VARINT_MAX - sb->len)
    return P2PQ_ERR_FLOW_CONTROL;
  while (len > 0) {
    size_t in_chunk = (size_t)(sb->len & CHUNK_MASK), n;
    uint64_t idx = sb->len >> P2PQ_SENDBUF_CHUNK_SHIFT;
    int rc = 0;
    n = P2PQ_SENDBUF_CHUNK - in_chunk;
    if (n > len)
      n = len;
    if (sb->n == 0 || idx >= sb->base_idx + sb->n)
      rc = push_chunk(sb, in_chunk + n);
    else if (in_chunk + n > sb->tail_cap)
      rc = grow_tail(sb, in_chunk + n);
    if (rc)
      return rc;
    memcpy(chunk_at(sb, sb->len), data, n);
    sb->len += n;
    data += n;
    len -= n;
  }
  if (fin)
    sb->fin = 1;
  return 0;
}

/* ---- sending --------------------------------------------------------------- */

/* Fills r for the stream-offset range [s, e) where e may include the FIN slot. */
static void fill_range(const p2pq_sendbuf *sb, uint64_t s, uint64_t e, size_t max,
                       p2pq_sendbuf_range *r) {
  uint64_t data_end = e > sb->len ? sb->len : e;
  uint64_t chunk_end;
  int fin = sb->fin && e == sb->len + 1;
  if (data_end > s + max) {
    data_end = s + max;
    fin = 0;
  }
  chunk_end = (s | CHUNK_MASK) + 1;
  if (data_end > chunk_end) {
    data_end = chunk_end;
    fin = 0;
  }
  r->off = s;
  r->len = (size_t)(data_end > s ? data_end - s : 0);
  r->data = r->len ? chunk_at(sb, s) : NULL;
  r->fin = fin;
}

int p2pq_sendbuf_peek(const p2pq_sendbuf *sb, size_t max, uint64_t flow_limit,
                      p2pq_sendbuf_range *r) {
  uint64_t s, e;
  if (sb->lost_set.n) {
    fill_range(sb, sb->lost_set.r[0].start, sb->lost_set.r[0].end, max, r);
    r->retrans = 1;
    return r->len || r->fin ? 0 : P2PQ_ERR_AGAIN;
  }
  s = sb->sent_hi;
  e = sb->len + (uint64_t)sb->fin;
  if (s >= e)
    return P2PQ_ERR_AGAIN;
  if (flow_limit < sb->len && e > flow_limit) /* the FIN needs no credit */
    e = flow_limit > s ? flow_limit : s;
  fill_range(sb, s, e, max, r);
  r->retrans = 0;
  return r->len || r->fin ? 0 : P2PQ_ERR_AGAIN;
}

static int range_end(const p2pq_sendbuf *sb, uint64_t off, size_t len, int fin,
                     uint64_t *end) {
  if (off > sb->len || len > sb->len - off || (fin && (!sb->fin || off + len != sb->len)))
    return P2PQ_ERR_INVALID_ARG;
  *end = off + len + (fin ? 1 : 0);
  return 0;
}

int p2pq_sendbuf_mark_sent(p2pq_sendbuf *sb, uint64_t off, size_t len, int fin) {
  uint64_t e;
  int rc = range_end(sb, off, len, fin, &e);
  if (rc)
    return rc;
  if (e > sb->sent_hi) {
    if (off > sb->sent_hi) /* would leave a hole nobody sends */
      return P2PQ_ERR_INVALID_ARG;
    sb->sent_hi = e;
  }
  return p2pq_rangeset_remove(&sb->lost_set, off, e);
}

int p2pq_sendbuf_on_ack(p2pq_sendbuf *sb, uint64_t off, size_t len, int fin) {
  uint64_t e;
  int rc = range_end(sb, off, len, fin, &e);
  if (rc)
    return rc;
  if (e > sb->sent_hi)
    e = sb->sent_hi;
  if (off < sb->acked)
    off = sb->acked;
  if (off >= e)
    return 0;
  if ((rc = p2pq_rangeset_remove(&sb->lost_set, off, e)))
    return rc;
  if (off > sb->acked)
    return p2pq_rangeset_add(&sb->acked_set, off, e);
  sb->acked = e;
  /* absorb acknowledged ranges that now touch the prefix */
  while (sb->acked_set.n && sb->acked_set.r[0].start <= sb->acked) {
    size_t k = 0;
    if (sb->acked_set.r[0].end > sb->acked)
      sb->acked = sb->acked_set.r[0].end;
    while (k < sb->acked_set.n && sb->acked_set.r[k].start <= sb->acked)
      k++;
    rs_delete(&sb->acked_set, 0, k);
  }
  release_acked(sb);
  return 0;
}

int p2pq_sendbuf_on_lost(p2pq_sendbuf *sb, uint64_t off, size_t len, int fin) {
  uint64_t e;
  size_t i;
  int rc = range_end(sb, off, len, fin, &e);
  if (rc)
    return rc;
  if (e > sb->sent_hi)
    e = sb->sent_hi;
  if (off < sb->acked)
    off = sb->acked;
  if (off >= e)
    return 0;
  if ((rc = p2pq_rangeset_add(&sb->lost_set, off, e)))
    return rc;
  /* never resend what another packet already delivered */
  for (i = rs_lower(&sb->acked_set, off, 1);
       i < sb->acked_set.n && sb->acked_set.r[i].start < e; i++)
    if ((rc = p2pq_rangeset_remove(&sb->lost_set, sb->acked_set.r[i].start,
                                   sb->acked_set.r[i].end)))
      return rc;
  return 0;
}

int p2pq_sendbuf_has_pending(const p2pq_sendbuf *sb) {
  return sb->lost_set.n != 0 || sb->sent_hi < sb->len + (uint64_t)sb->fin;
}
