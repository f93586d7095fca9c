/* Byte queues and field lists for the H3 layer. */
#include "h3/bytes.h"

#include <stdlib.h>
#include <string.h>

#include "p2pq/error.h"

int p2pq_h3_bytes_append(p2pq_h3_bytes *b, const void *data, size_t n) {
  if (n == 0)
    return 0;
  if (b->off > 0 && b->off == b->len)
    b->off = b->len = 0;
  if (b->cap - b->len < n && b->off > 0) { /* compact before growing */
    memmove(b->p, b->p + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
  }
  if (b->cap - b->len < n) {
    size_t ncap = b->cap ? b->cap : 256;
    uint8_t *np;
    while (ncap - b->len < n) {
      if (ncap > SIZE_MAX / 2)
        return P2PQ_ERR_NOMEM;
      ncap *= 2;
    }
    np = realloc(b->p, ncap);
    if (!np)
      return P2PQ_ERR_NOMEM;
    b->p = np;
    b->cap = ncap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  return 0;
}

void p2pq_h3_bytes_consume(p2pq_h3_bytes *b, size_t n) {
  b->off += n < b->len - b->off ? n : b->len - b->off;
  if (b->off == b->len)
    b->off = b->len = 0;
}

void p2pq_h3_bytes_clear(p2pq_h3_bytes *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static char *dup_nul(const void *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d)
    return NULL;
  if (n)
    memcpy(d, s, n);
  d[n] = 0;
  return d;
}

int p2pq_h3_fields_add(p2pq_h3_fields *f, const void *name, size_t nlen, const void *value,
                       size_t vlen) {
  p2pq_h3_field *x;
  if (f->n == f->cap) {
    size_t ncap = f->cap ? f->cap * 2 : 8;
    p2pq_h3_field *nv = realloc(f->v, ncap * sizeof *nv);
    if (!nv)
      return P2PQ_ERR_NOMEM;
    f->v = nv;
    f->cap = ncap;
  }
  x = &f->v[f->n];
  x->name = dup_nul(name, nlen);
  x->value = dup_nul(value, vlen);
  if (!x->name || !x->value) {
    free((void *)x->name);
    free((void *)x->value);
    return P2PQ_ERR_NOMEM;
  }
  x->name_len = nlen;
  x->value_len = vlen;
  f->n++;
  f->size += (uint64_t)nlen + vlen + 32;
  return 0;
}

void p2pq_h3_fields_clear(p2pq_h3_fields *f) {
  size_t i;
  for (i = 0; i < f->n; i++) {
    free((void *)f->v[i].name);
    free((void *)f->v[i].value);
  }
  free(f->v);
  memset(f, 0, sizeof *f);
}

uint64_t p2pq_h3_fields_size(const p2pq_h3_field *f, size_t n) {
  uint64_t s = 0;
  size_t i;
  for (i = 0; i < n; i++)
    s += (uint64_t)f[i].name_len + f[i].value_len + 32;
  return s;
}
