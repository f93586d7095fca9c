/* Growable byte queues and field lists used inside the H3 layer. */
#ifndef P2PQ_H3_BYTES_H
#define P2PQ_H3_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/h3.h"

/* Bytes p[off..len) are pending; off grows as they are consumed. */
typedef struct p2pq_h3_bytes {
  uint8_t *p;
  size_t off, len, cap;
} p2pq_h3_bytes;

int p2pq_h3_bytes_append(p2pq_h3_bytes *b, const void *data, size_t n);
static inline size_t p2pq_h3_bytes_avail(const p2pq_h3_bytes *b) { return b->len - b->off; }
static inline const uint8_t *p2pq_h3_bytes_head(const p2pq_h3_bytes *b) { return b->p + b->off; }
void p2pq_h3_bytes_consume(p2pq_h3_bytes *b, size_t n);
void p2pq_h3_bytes_clear(p2pq_h3_bytes *b);

/* Owned copies of fields; size is the RFC 9114 4.2.2 field section size
 * (name + value + 32 per field). */
typedef struct p2pq_h3_fields {
  p2pq_h3_field *v;
  size_t n, cap;
  uint64_t size;
} p2pq_h3_fields;

int p2pq_h3_fields_add(p2pq_h3_fields *f, const void *name, size_t nlen, const void *value,
                       size_t vlen);
void p2pq_h3_fields_clear(p2pq_h3_fields *f);
/* The field section size of an array of fields. */
uint64_t p2pq_h3_fields_size(const p2pq_h3_field *f, size_t n);

#endif
