/* Stream receive buffer: reassembly of a 1 MB stream from random fragments,
 * permutations and overlapping duplicates; final-size and flow-control errors;
 * memory bound under adversarial fragmentation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "p2pq/error.h"
#include "quic/recvbuf.h"

static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}
static uint8_t pat(uint64_t off) { return (uint8_t)((off * 167) ^ (off >> 11)); }

typedef struct frag {
  uint64_t off;
  size_t len;
} frag;

static void reassemble(uint64_t seed, size_t total, int zero_copy) {
  uint8_t *src = malloc(total), *out = malloc(total);
  size_t nf = 0, capf = 1024, got = 0;
  frag *f = malloc(capf * sizeof(*f));
  p2pq_recvbuf rb;
  rng_state = seed;
  for (size_t i = 0; i < total; i++)
    src[i] = pat(i);
  /* a covering split, then overlapping duplicates */
  for (uint64_t off = 0; off < total;) {
    size_t len = 1 + (size_t)(rnd() % 3000);
    if (len > total - off)
      len = total - off;
    if (nf == capf)
      f = realloc(f, (capf *= 2) * sizeof(*f));
    f[nf].off = off;
    f[nf++].len = len;
    off += len;
  }
  for (size_t k = nf / 2; k > 0; k--) {
    uint64_t off = rnd() % total;
    size_t len = (size_t)(rnd() % 5000);
    if (len > total - off)
      len = total - off;
    if (nf == capf)
      f = realloc(f, (capf *= 2) * sizeof(*f));
    f[nf].off = off;
    f[nf++].len = len;
  }
  /* partial shuffle: mostly local reordering, some far jumps */
  for (size_t i = nf - 1; i > 0; i--) {
    size_t j = rnd() % 4 ? i - (size_t)(rnd() % (i < 64 ? i + 1 : 64)) : (size_t)(rnd() % (i + 1));
    frag t = f[i];
    f[i] = f[j];
    f[j] = t;
  }
  p2pq_recvbuf_init(&rb, total);
  for (size_t i = 0; i < nf; i++) {
    int fin = f[i].off + f[i].len == total;
    assert_int_equal(p2pq_recvbuf_insert(&rb, f[i].off, src + f[i].off, f[i].len, fin), 0);
    if (rnd() % 3 == 0) {
      if (zero_copy) {
        const uint8_t *d;
        size_t n;
        p2pq_recvbuf_peek(&rb, &d, &n);
        if (n) {
          n = 1 + (size_t)(rnd() % n);
          memcpy(out + got, d, n);
          p2pq_recvbuf_consume(&rb, n);
          got += n;
        }
      } else {
        got += p2pq_recvbuf_read(&rb, out + got, (size_t)(rnd() % 20000));
      }
    }
  }
  assert_true(p2pq_recvbuf_all_received(&rb));
  got += p2pq_recvbuf_read(&rb, out + got, total - got);
  assert_int_equal(got, total);
  assert_memory_equal(out, src, total);
  assert_true(p2pq_recvbuf_fin_read(&rb));
  assert_int_equal(rb.n, 0); /* memory released once everything was read */
  p2pq_recvbuf_clear(&rb);
  free(f);
  free(src);
  free(out);
}

static void test_reassemble_1mb(void **state) {
  (void)state;
  reassemble(1, 1000000, 0);
  reassemble(2, 1000000, 1);
  for (uint64_t s = 3; s < 23; s++)
    reassemble(s, 20000 + (size_t)s * 1117, (int)(s & 1));
}

static void test_keep_first_copy(void **state) {
  p2pq_recvbuf rb;
  uint8_t a[20], b[20], out[20];
  (void)state;
  memset(a, 'a', sizeof(a));
  memset(b, 'b', sizeof(b));
  p2pq_recvbuf_init(&rb, 1000);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 5, a, 5, 0), 0);  /* [5,10) = a */
  assert_int_equal(p2pq_recvbuf_insert(&rb, 12, a, 3, 0), 0); /* [12,15) = a */
  assert_int_equal(p2pq_recvbuf_readable(&rb), 0);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 0, b, 20, 0), 0); /* fills the gaps */
  assert_int_equal(p2pq_recvbuf_read(&rb, out, sizeof(out)), 20);
  assert_memory_equal(out, "bbbbbaaaaabbaaabbbbb", 20);
  /* data below the read offset is ignored */
  assert_int_equal(p2pq_recvbuf_insert(&rb, 0, a, 20, 0), 0);
  assert_int_equal(p2pq_recvbuf_readable(&rb), 0);
  /* an old duplicate while everything received was in order (found by fuzzing) */
  assert_int_equal(p2pq_recvbuf_insert(&rb, 20, b, 10, 0), 0);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 22, a, 3, 0), 0);
  assert_true(rb.contig == 30 && rb.max_off == 30);
  assert_int_equal(p2pq_recvbuf_read(&rb, out, sizeof(out)), 10);
  assert_memory_equal(out, "bbbbbbbbbb", 10);
  p2pq_recvbuf_clear(&rb);
}

static void test_final_size(void **state) {
  p2pq_recvbuf rb;
  uint8_t d[300] = {0};
  (void)state;
  p2pq_recvbuf_init(&rb, 10000);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 0, d, 50, 0), 0);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 90, d, 10, 1), 0); /* final size 100 */
  assert_true(rb.final_size == 100);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 90, d, 20, 0), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 100, d, 1, 0), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 100, d, 20, 1), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 50, d, 10, 1), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_recvbuf_final(&rb, 99), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 100, d, 0, 1), 0); /* same final: fine */
  assert_int_equal(p2pq_recvbuf_insert(&rb, 100, d, 0, 0), 0);
  assert_int_equal(p2pq_recvbuf_final(&rb, 100), 0);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 50, d, 40, 0), 0);
  assert_true(p2pq_recvbuf_all_received(&rb));
  p2pq_recvbuf_clear(&rb);

  /* a FIN below data already received */
  p2pq_recvbuf_init(&rb, 10000);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 100, d, 100, 0), 0);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 0, d, 150, 1), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_recvbuf_final(&rb, 199), P2PQ_ERR_FINAL_SIZE);
  assert_true(rb.final_size == P2PQ_RECVBUF_NO_FINAL && rb.max_off == 200);
  assert_int_equal(p2pq_recvbuf_final(&rb, 200), 0);
  assert_int_equal(p2pq_recvbuf_final(&rb, 201), P2PQ_ERR_FINAL_SIZE);
  p2pq_recvbuf_clear(&rb);
}

static void test_flow_control(void **state) {
  p2pq_recvbuf rb;
  uint8_t d[64] = {0};
  (void)state;
  p2pq_recvbuf_init(&rb, 1000);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 990, d, 10, 0), 0);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 990, d, 11, 0), P2PQ_ERR_FLOW_CONTROL);
  assert_true(rb.max_off == 1000);
  assert_int_equal(p2pq_recvbuf_final(&rb, 1001), P2PQ_ERR_FLOW_CONTROL);
  p2pq_recvbuf_set_limit(&rb, 500); /* never lowers */
  assert_int_equal(p2pq_recvbuf_insert(&rb, 999, d, 1, 0), 0);
  p2pq_recvbuf_set_limit(&rb, 2000);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 1000, d, 64, 0), 0);
  assert_int_equal(p2pq_recvbuf_insert(&rb, P2PQ_VARINT_MAX, d, 2, 0), P2PQ_ERR_FLOW_CONTROL);
  assert_int_equal(p2pq_recvbuf_insert(&rb, UINT64_MAX - 1, d, 4, 0), P2PQ_ERR_FLOW_CONTROL);
  p2pq_recvbuf_clear(&rb);
}

/* One byte in every other position over a 1 MiB window: memory stays bounded
 * by the window (chunk count), and reading still works once gaps fill. */
static void test_adversarial_memory(void **state) {
  const size_t window = 1 << 20;
  p2pq_recvbuf rb;
  uint8_t one = 7, buf[256];
  (void)state;
  p2pq_recvbuf_init(&rb, window);
  for (uint64_t off = 1; off < window; off += 2)
    assert_int_equal(p2pq_recvbuf_insert(&rb, off, &one, 1, 0), 0);
  assert_true(rb.n <= window / P2PQ_RECVBUF_CHUNK);
  assert_int_equal(p2pq_recvbuf_readable(&rb), 0);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 0, &one, 1, 0), 0);
  assert_int_equal(p2pq_recvbuf_readable(&rb), 2);
  assert_int_equal(p2pq_recvbuf_read(&rb, buf, sizeof(buf)), 2);
  assert_int_equal(p2pq_recvbuf_insert(&rb, window, &one, 1, 0), P2PQ_ERR_FLOW_CONTROL);
  p2pq_recvbuf_clear(&rb);
}

static void test_chunk_edges(void **state) {
  p2pq_recvbuf rb;
  size_t n = P2PQ_RECVBUF_CHUNK * 2 + 100;
  uint8_t *d = malloc(n), *out = malloc(n);
  const uint8_t *p;
  size_t len;
  (void)state;
  for (size_t i = 0; i < n; i++)
    d[i] = pat(i);
  p2pq_recvbuf_init(&rb, n);
  /* second chunk first, then the first chunk exactly */
  assert_int_equal(p2pq_recvbuf_insert(&rb, P2PQ_RECVBUF_CHUNK, d + P2PQ_RECVBUF_CHUNK,
                                       n - P2PQ_RECVBUF_CHUNK, 1), 0);
  assert_int_equal(p2pq_recvbuf_readable(&rb), 0);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 0, d, P2PQ_RECVBUF_CHUNK, 0), 0);
  assert_true(p2pq_recvbuf_readable(&rb) == n);
  p2pq_recvbuf_peek(&rb, &p, &len);
  assert_int_equal(len, P2PQ_RECVBUF_CHUNK); /* short at the chunk boundary */
  assert_memory_equal(p, d, len);
  assert_int_equal(p2pq_recvbuf_read(&rb, out, n), n);
  assert_memory_equal(out, d, n);
  assert_true(p2pq_recvbuf_fin_read(&rb));
  p2pq_recvbuf_peek(&rb, &p, &len);
  assert_int_equal(len, 0);
  p2pq_recvbuf_clear(&rb);
  free(d);
  free(out);
}

/* The first chunk starts at 1 KiB and grows, keeping data and bitmap. */
static void test_small_first_chunk(void **state) {
  p2pq_recvbuf rb;
  uint8_t d[20000], out[20000];
  (void)state;
  for (size_t i = 0; i < sizeof(d); i++)
    d[i] = pat(i);
  p2pq_recvbuf_init(&rb, 1 << 20);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 100, d + 100, 10, 0), 0);
  assert_int_equal(rb.first_cap, 1024);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 3000, d + 3000, 2000, 0), 0);
  assert_int_equal(rb.first_cap, 8192);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 0, d, 105, 0), 0); /* overlaps [100,110) */
  assert_int_equal(p2pq_recvbuf_readable(&rb), 110);
  assert_int_equal(p2pq_recvbuf_insert(&rb, 110, d + 110, 19890, 1), 0);
  assert_int_equal(rb.first_cap, P2PQ_RECVBUF_CHUNK);
  assert_int_equal(p2pq_recvbuf_read(&rb, out, sizeof(out)), sizeof(out));
  assert_memory_equal(out, d, sizeof(d));
  p2pq_recvbuf_clear(&rb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reassemble_1mb),   cmocka_unit_test(test_keep_first_copy),
      cmocka_unit_test(test_final_size),       cmocka_unit_test(test_flow_control),
      cmocka_unit_test(test_adversarial_memory), cmocka_unit_test(test_chunk_edges),
      cmocka_unit_test(test_small_first_chunk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
