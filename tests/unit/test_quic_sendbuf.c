/* Stream send buffer and its interval set: deterministic cases plus random
 * send/ack/loss sequences checked against a simple model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "p2pq/error.h"
#include "quic/sendbuf.h"

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64*: deterministic per seed */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}
static uint8_t pat(uint64_t off) { return (uint8_t)((off * 131) ^ (off >> 9)); }

static void fill_pat(uint8_t *b, uint64_t off, size_t n) {
  for (size_t i = 0; i < n; i++)
    b[i] = pat(off + i);
}

static void test_rangeset(void **state) {
  p2pq_rangeset rs;
  (void)state;
  p2pq_rangeset_init(&rs);
  assert_int_equal(p2pq_rangeset_add(&rs, 10, 20), 0);
  assert_int_equal(p2pq_rangeset_add(&rs, 30, 40), 0);
  assert_int_equal(p2pq_rangeset_add(&rs, 0, 5), 0);
  assert_int_equal(rs.n, 3);
  assert_int_equal(p2pq_rangeset_add(&rs, 20, 30), 0); /* adjacent: merges both */
  assert_int_equal(rs.n, 2);
  assert_true(rs.r[1].start == 10 && rs.r[1].end == 40);
  assert_true(p2pq_rangeset_contains(&rs, 12, 40));
  assert_false(p2pq_rangeset_contains(&rs, 4, 11));
  assert_int_equal(p2pq_rangeset_remove(&rs, 15, 25), 0); /* split */
  assert_int_equal(rs.n, 3);
  assert_true(rs.r[1].end == 15 && rs.r[2].start == 25);
  assert_int_equal(p2pq_rangeset_remove(&rs, 3, 30), 0);
  assert_int_equal(rs.n, 2);
  assert_true(rs.r[0].start == 0 && rs.r[0].end == 3);
  assert_true(rs.r[1].start == 30 && rs.r[1].end == 40);
  assert_int_equal(p2pq_rangeset_add(&rs, 2, 35), 0);
  assert_int_equal(rs.n, 1);
  assert_int_equal(p2pq_rangeset_remove(&rs, 0, 100), 0);
  assert_int_equal(rs.n, 0);
  p2pq_rangeset_clear(&rs);
}

/* Random add/remove against a bitmap model. */
static void test_rangeset_random(void **state) {
  enum { N = 512 };
  uint8_t model[N];
  p2pq_rangeset rs;
  (void)state;
  rng_state = 0x1234567;
  memset(model, 0, sizeof(model));
  p2pq_rangeset_init(&rs);
  for (int it = 0; it < 20000; it++) {
    uint64_t s = rnd() % N, e = s + rnd() % 40;
    int add = (int)(rnd() & 1);
    if (e > N)
      e = N;
    assert_int_equal(add ? p2pq_rangeset_add(&rs, s, e) : p2pq_rangeset_remove(&rs, s, e), 0);
    for (uint64_t i = s; i < e; i++)
      model[i] = (uint8_t)add;
    if (it % 97 == 0) {
      size_t k = 0;
      for (uint64_t i = 0; i < N; i++) {
        while (k < rs.n && rs.r[k].end <= i)
          k++;
        assert_int_equal(model[i], k < rs.n && rs.r[k].start <= i);
      }
      for (size_t j = 0; j + 1 < rs.n; j++) /* sorted, disjoint, not adjacent */
        assert_true(rs.r[j].end < rs.r[j + 1].start);
    }
  }
  p2pq_rangeset_clear(&rs);
}

/* Used as a FIFO (retransmissions take lost ranges from the front while new
 * losses join at the back): contents stay right and memory stays bounded. */
static void test_rangeset_fifo(void **state) {
  p2pq_rangeset rs;
  uint64_t next = 0, head = 0;
  (void)state;
  p2pq_rangeset_init(&rs);
  for (int i = 0; i < 1000; i++, next += 2)
    assert_int_equal(p2pq_rangeset_add(&rs, next, next + 1), 0);
  for (int i = 0; i < 100000; i++, next += 2, head += 2) {
    assert_true(rs.n == 1000 && rs.r[0].start == head && rs.r[999].start == next - 2);
    assert_int_equal(p2pq_rangeset_remove(&rs, rs.r[0].start, rs.r[0].end), 0);
    assert_int_equal(p2pq_rangeset_add(&rs, next, next + 1), 0);
  }
  assert_true(rs.cap <= 2048);
  p2pq_rangeset_clear(&rs);
}

static void test_basic_fin_and_flow(void **state) {
  p2pq_sendbuf sb;
  p2pq_sendbuf_range r;
  uint8_t d[100];
  (void)state;
  fill_pat(d, 0, sizeof(d));
  p2pq_sendbuf_init(&sb);
  assert_int_equal(p2pq_sendbuf_peek(&sb, 1000, 1000, &r), P2PQ_ERR_AGAIN);
  assert_int_equal(p2pq_sendbuf_append(&sb, d, 100, 1), 0);
  assert_int_equal(p2pq_sendbuf_append(&sb, d, 1, 0), P2PQ_ERR_STATE);
  /* flow limit 40: 40 bytes, no FIN */
  assert_int_equal(p2pq_sendbuf_peek(&sb, 1000, 40, &r), 0);
  assert_true(r.off == 0 && r.len == 40 && !r.fin && !r.retrans);
  assert_memory_equal(r.data, d, 40);
  assert_int_equal(p2pq_sendbuf_mark_sent(&sb, 0, 40, 0), 0);
  assert_int_equal(p2pq_sendbuf_peek(&sb, 1000, 40, &r), P2PQ_ERR_AGAIN);
  /* room 10 */
  assert_int_equal(p2pq_sendbuf_peek(&sb, 10, 200, &r), 0);
  assert_true(r.off == 40 && r.len == 10 && !r.fin);
  assert_int_equal(p2pq_sendbuf_mark_sent(&sb, 40, 10, 0), 0);
  /* rest with FIN */
  assert_int_equal(p2pq_sendbuf_peek(&sb, 1000, 100, &r), 0);
  assert_true(r.off == 50 && r.len == 50 && r.fin);
  assert_int_equal(p2pq_sendbuf_mark_sent(&sb, 50, 50, 1), 0);
  assert_true(p2pq_sendbuf_all_sent(&sb));
  assert_false(p2pq_sendbuf_has_pending(&sb));
  /* lose the middle packet, ack the others: only the middle is resent */
  assert_int_equal(p2pq_sendbuf_on_ack(&sb, 50, 50, 1), 0);
  assert_int_equal(p2pq_sendbuf_on_lost(&sb, 40, 10, 0), 0);
  assert_int_equal(p2pq_sendbuf_on_ack(&sb, 0, 40, 0), 0);
  assert_false(p2pq_sendbuf_all_acked(&sb));
  assert_int_equal(p2pq_sendbuf_peek(&sb, 4, 0, &r), 0); /* retransmission ignores flow */
  assert_true(r.off == 40 && r.len == 4 && r.retrans && !r.fin);
  assert_memory_equal(r.data, d + 40, 4);
  assert_int_equal(p2pq_sendbuf_mark_sent(&sb, 40, 4, 0), 0);
  assert_int_equal(p2pq_sendbuf_peek(&sb, 100, 0, &r), 0);
  assert_true(r.off == 44 && r.len == 6 && r.retrans);
  assert_int_equal(p2pq_sendbuf_mark_sent(&sb, 44, 6, 0), 0);
  assert_int_equal(p2pq_sendbuf_on_ack(&sb, 40, 4, 0), 0);
  assert_int_equal(p2pq_sendbuf_on_ack(&sb, 44, 6, 0), 0);
  assert_true(p2pq_sendbuf_all_acked(&sb));
  assert_int_equal(p2pq_sendbuf_buffered(&sb), 0);
  p2pq_sendbuf_clear(&sb);
}

static void test_fin_only_lost(void **state) {
  p2pq_sendbuf sb;
  p2pq_sendbuf_range r;
  uint8_t d[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  (void)state;
  p2pq_sendbuf_init(&sb);
  assert_int_equal(p2pq_sendbuf_append(&sb, d, 10, 0), 0);
  assert_int_equal(p2pq_sendbuf_peek(&sb, 100, 100, &r), 0);
  assert_false(r.fin);
  assert_int_equal(p2pq_sendbuf_mark_sent(&sb, 0, 10, 0), 0);
  assert_int_equal(p2pq_sendbuf_append(&sb, NULL, 0, 1), 0);
  /* FIN alone, even with no credit left */
  assert_int_equal(p2pq_sendbuf_peek(&sb, 0, 10, &r), 0);
  assert_true(r.off == 10 && r.len == 0 && r.fin && r.data == NULL);
  assert_int_equal(p2pq_sendbuf_mark_sent(&sb, 10, 0, 1), 0);
  assert_int_equal(p2pq_sendbuf_on_ack(&sb, 0, 10, 0), 0);
  assert_false(p2pq_sendbuf_all_acked(&sb));
  assert_int_equal(p2pq_sendbuf_on_lost(&sb, 10, 0, 1), 0);
  assert_int_equal(p2pq_sendbuf_peek(&sb, 0, 0, &r), 0);
  assert_true(r.off == 10 && r.len == 0 && r.fin && r.retrans);
  assert_int_equal(p2pq_sendbuf_mark_sent(&sb, 10, 0, 1), 0);
  assert_int_equal(p2pq_sendbuf_on_ack(&sb, 10, 0, 1), 0);
  assert_true(p2pq_sendbuf_all_acked(&sb));
  /* bad ranges are rejected */
  assert_int_equal(p2pq_sendbuf_on_ack(&sb, 5, 10, 0), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_sendbuf_on_lost(&sb, 0, 5, 1), P2PQ_ERR_INVALID_ARG);
  p2pq_sendbuf_clear(&sb);
}

static void test_chunk_boundary(void **state) {
  p2pq_sendbuf sb;
  p2pq_sendbuf_range r;
  size_t n = P2PQ_SENDBUF_CHUNK * 3 + 7;
  uint8_t *d = malloc(n);
  uint64_t off = 0;
  int pieces = 0;
  (void)state;
  fill_pat(d, 0, n);
  p2pq_sendbuf_init(&sb);
  assert_int_equal(p2pq_sendbuf_append(&sb, d, 100, 0), 0);
  assert_int_equal(p2pq_sendbuf_append(&sb, d + 100, n - 100, 1), 0);
  while (p2pq_sendbuf_peek(&sb, 1 << 20, UINT64_MAX, &r) == 0) {
    assert_true(r.off == off);
    assert_true(r.len <= P2PQ_SENDBUF_CHUNK);
    assert_memory_equal(r.data, d + off, r.len);
    assert_int_equal(p2pq_sendbuf_mark_sent(&sb, r.off, r.len, r.fin), 0);
    off += r.len;
    pieces++;
  }
  assert_int_equal(pieces, 4);
  assert_true(off == n && p2pq_sendbuf_all_sent(&sb));
  /* ack the first two chunks: their memory goes */
  assert_int_equal(p2pq_sendbuf_on_ack(&sb, 0, 2 * P2PQ_SENDBUF_CHUNK, 0), 0);
  assert_int_equal(sb.n, 2);
  assert_true(p2pq_sendbuf_buffered(&sb) == n - 2 * P2PQ_SENDBUF_CHUNK);
  p2pq_sendbuf_clear(&sb);
  free(d);
}

/* A stream's first chunk starts at 1 KiB and doubles; data stays intact
 * across growth, full release and re-creation mid-chunk. */
static void test_small_first_chunk(void **state) {
  p2pq_sendbuf sb;
  p2pq_sendbuf_range r;
  uint8_t d[100];
  uint64_t off = 0;
  (void)state;
  p2pq_sendbuf_init(&sb);
  fill_pat(d, 0, 10);
  assert_int_equal(p2pq_sendbuf_append(&sb, d, 10, 0), 0);
  assert_int_equal(sb.tail_cap, 1024);
  assert_int_equal(p2pq_sendbuf_peek(&sb, 100, 100, &r), 0);
  assert_int_equal(p2pq_sendbuf_mark_sent(&sb, 0, 10, 0), 0);
  assert_int_equal(p2pq_sendbuf_on_ack(&sb, 0, 10, 0), 0);
  assert_int_equal(sb.n, 0); /* all acked: the chunk is gone */
  assert_null(sb.spare);     /* small chunks are not kept */
  for (uint64_t w = 10; w < 3 * P2PQ_SENDBUF_CHUNK; w += 100) {
    fill_pat(d, w, 100);
    assert_int_equal(p2pq_sendbuf_append(&sb, d, 100, 0), 0);
    if (w + 100 <= 2048)
      assert_true(sb.tail_cap <= 2048);
  }
  assert_int_equal(sb.tail_cap, P2PQ_SENDBUF_CHUNK);
  off = 10;
  while (p2pq_sendbuf_peek(&sb, 1500, UINT64_MAX, &r) == 0) {
    assert_true(r.off == off);
    for (size_t i = 0; i < r.len; i++)
      assert_int_equal(r.data[i], pat(off + i));
    assert_int_equal(p2pq_sendbuf_mark_sent(&sb, r.off, r.len, r.fin), 0);
    off += r.len;
  }
  assert_true(off == sb.len);
  p2pq_sendbuf_clear(&sb);
}

/* Random traffic: a sender that appends in random pieces, packets with random
 * sizes, random acks and losses of in-flight packets (in any order, with
 * duplicates of already acknowledged ranges through retransmission), and a
 * receiver model that checks every byte it gets. Ends when all is acked. */
typedef struct pkt {
  uint64_t off;
  size_t len;
  int fin;
} pkt;

static void run_random(uint64_t seed, size_t total) {
  p2pq_sendbuf sb;
  p2pq_sendbuf_range r;
  uint8_t *got = calloc(total + 1, 1), tmp[4096];
  pkt *fl = NULL;
  size_t nfl = 0, capfl = 0, appended = 0;
  uint64_t flow = 0;
  int finished = 0;
  rng_state = seed;
  p2pq_sendbuf_init(&sb);
  for (long it = 0; !finished; it++) {
    unsigned op = (unsigned)(rnd() % 10);
    assert_true(it < 50000000);
    if (op < 2 && appended < total) {
      size_t n = (size_t)(rnd() % sizeof(tmp));
      if (n > total - appended)
        n = total - appended;
      fill_pat(tmp, appended, n);
      assert_int_equal(p2pq_sendbuf_append(&sb, tmp, n, appended + n == total), 0);
      appended += n;
    } else if (op < 3) {
      flow += rnd() % 8000;
    } else if (op < 6) {
      size_t room = (size_t)(rnd() % 1500);
      if (p2pq_sendbuf_peek(&sb, room, flow, &r) == 0) {
        assert_true(r.len <= room);
        assert_true(r.retrans || r.off + r.len <= flow);
        for (size_t i = 0; i < r.len; i++)
          assert_int_equal(r.data[i], pat(r.off + i));
        assert_int_equal(p2pq_sendbuf_mark_sent(&sb, r.off, r.len, r.fin), 0);
        if (nfl == capfl) {
          capfl = capfl ? capfl * 2 : 64;
          fl = realloc(fl, capfl * sizeof(*fl));
        }
        fl[nfl].off = r.off;
        fl[nfl].len = r.len;
        fl[nfl].fin = r.fin;
        nfl++;
      }
    } else if (nfl > 0) {
      size_t k = (size_t)(rnd() % nfl);
      pkt p = fl[k];
      fl[k] = fl[--nfl];
      if (op < 9) { /* delivered */
        memset(got + p.off, 1, p.len);
        if (p.fin)
          got[total] = 1;
        assert_int_equal(p2pq_sendbuf_on_ack(&sb, p.off, p.len, p.fin), 0);
      } else {
        assert_int_equal(p2pq_sendbuf_on_lost(&sb, p.off, p.len, p.fin), 0);
      }
    }
    /* model: acked prefix means the receiver has every byte below it */
    if (it % 1024 == 0) {
      uint64_t a = sb.acked > total ? total : sb.acked;
      for (uint64_t i = 0; i < a; i++)
        assert_int_equal(got[i], 1);
    }
    if (p2pq_sendbuf_all_acked(&sb))
      finished = 1;
  }
  for (size_t i = 0; i <= total; i++)
    if (!got[i])
      fail_msg("byte %zu of %zu never delivered", i, total);
  assert_int_equal(p2pq_sendbuf_buffered(&sb), 0);
  assert_int_equal(sb.n, 0);
  assert_int_equal(sb.lost_set.n, 0);
  assert_int_equal(sb.acked_set.n, 0);
  p2pq_sendbuf_clear(&sb);
  free(fl);
  free(got);
}

static void test_random_small(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 40; seed++)
    run_random(seed * 7919, 3000 + seed * 50);
}

static void test_random_large(void **state) {
  (void)state;
  run_random(42, 300000);
  run_random(4242, 1 << 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rangeset),         cmocka_unit_test(test_rangeset_random),
      cmocka_unit_test(test_rangeset_fifo),
      cmocka_unit_test(test_basic_fin_and_flow), cmocka_unit_test(test_fin_only_lost),
      cmocka_unit_test(test_chunk_boundary),   cmocka_unit_test(test_small_first_chunk),   cmocka_unit_test(test_random_small),
      cmocka_unit_test(test_random_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
