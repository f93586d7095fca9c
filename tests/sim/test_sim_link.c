/* Link model: delay, jitter, loss, burst loss, duplication, reordering, bandwidth,
 * queue, MTU, per-direction configuration; statistics within bounds over seeds. */
#include <string.h>

#include "sim_test.h"

#define MAXPK 60000

/* Sends `count` packets of `size` bytes every `gap` ns (gap 0: all at once). */
typedef struct sender {
  p2pq_addr local, peer;
  p2pq_tstamp next, gap;
  uint32_t sent, count;
  size_t size;
} sender;

typedef struct sink {
  uint8_t got[MAXPK];       /* copies of each sequence received */
  p2pq_tstamp lat[MAXPK];   /* latency of the first copy */
  p2pq_tstamp first_at[MAXPK];
  uint32_t n, out_of_order, max_seq;
} sink;

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void send_one(sender *s, sim_host *h, p2pq_tstamp now) {
  static uint8_t buf[2000];
  uint64_t t = now;
  put32(buf, s->sent);
  memcpy(buf + 4, &t, 8);
  assert_int_equal(sim_send(h, &s->local, &s->peer, buf, s->size), 0);
  s->sent++;
}
static p2pq_tstamp snd_next(void *app) {
  sender *s = app;
  return s->sent < s->count ? s->next : P2PQ_TSTAMP_MAX;
}
static void snd_timeout(void *app, sim_host *h, p2pq_tstamp now) {
  sender *s = app;
  do
    send_one(s, h, now);
  while (s->gap == 0 && s->sent < s->count);
  s->next = now + s->gap;
}
static const sim_app_ops sender_ops = {NULL, snd_next, snd_timeout};

static void sink_recv(void *app, sim_host *h, const p2pq_addr *local, const p2pq_addr *remote,
                      const uint8_t *d, size_t n, p2pq_tstamp now) {
  sink *k = app;
  uint32_t seq = get32(d);
  uint64_t t;
  memcpy(&t, d + 4, 8);
  assert_true(seq < MAXPK);
  if (!k->got[seq]) {
    k->lat[seq] = now - t;
    k->first_at[seq] = now;
    if (k->n && seq < k->max_seq)
      k->out_of_order++;
    if (seq > k->max_seq)
      k->max_seq = seq;
  }
  k->got[seq]++;
  k->n++;
}
static const sim_app_ops sink_ops = {sink_recv, NULL, NULL};

typedef struct bench {
  sim *s;
  sim_host *a, *b;
  sim_link *l;
  sender snd;
  sink *k;
} bench;

static void bench_init(bench *t, uint64_t seed, const sim_link_cfg *ab, const sim_link_cfg *ba,
                       uint32_t count, p2pq_tstamp gap, size_t size) {
  memset(t, 0, sizeof(*t));
  t->s = sim_new(seed);
  t->a = sim_host_new(t->s, "a");
  t->b = sim_host_new(t->s, "b");
  assert_int_equal(sim_host_add_addr(t->a, "198.51.100.1"), 0);
  assert_int_equal(sim_host_add_addr(t->b, "203.0.113.1"), 0);
  t->l = sim_link_new(t->s, &t->a->node, &t->b->node, ab, ba);
  assert_non_null(t->l);
  assert_int_equal(sim_node_add_route(&t->a->node, "0.0.0.0", 0, 0), 0);
  assert_int_equal(sim_node_add_route(&t->b->node, "0.0.0.0", 0, 0), 0);
  t->k = calloc(1, sizeof(*t->k));
  assert_non_null(t->k);
  t->snd.local = sim_test_addr("198.51.100.1:1000");
  t->snd.peer = sim_test_addr("203.0.113.1:2000");
  t->snd.count = count;
  t->snd.gap = gap;
  t->snd.size = size < 12 ? 12 : size;
  sim_host_set_app(t->a, &sender_ops, &t->snd);
  sim_host_set_app(t->b, &sink_ops, t->k);
  sim_run_until_idle(t->s, 0);
}

static void bench_free(bench *t) {
  free(t->k);
  sim_free(t->s);
}

static uint32_t distinct(const sink *k, uint32_t count) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < count; i++)
    n += k->got[i] != 0;
  return n;
}

static void test_delay_jitter(void **state) {
  sim_link_cfg c = {0};
  bench t;
  (void)state;
  c.delay = 20 * P2PQ_MS;
  c.jitter = 4 * P2PQ_MS;
  SIM_FOR_SEEDS(seed, 1, 10) {
    p2pq_tstamp lo = P2PQ_TSTAMP_MAX, hi = 0;
    double sum = 0;
    bench_init(&t, seed, &c, NULL, 2000, 1 * P2PQ_MS, 100);
    SIM_ASSERT(seed, t.k->n == 2000);
    for (int i = 0; i < 2000; i++) {
      lo = t.k->lat[i] < lo ? t.k->lat[i] : lo;
      hi = t.k->lat[i] > hi ? t.k->lat[i] : hi;
      sum += (double)t.k->lat[i];
    }
    SIM_ASSERT(seed, lo >= c.delay && hi <= c.delay + c.jitter);
    SIM_ASSERT(seed, lo < c.delay + P2PQ_MS / 10 && hi > c.delay + c.jitter - P2PQ_MS / 10);
    sum /= 2000;
    SIM_ASSERT(seed, sum > 21.8e6 && sum < 22.2e6);
    /* 4 ms of jitter on 1 ms spacing reorders some packets. */
    SIM_ASSERT(seed, t.k->out_of_order > 100);
    SIM_ASSERT(seed, t.l->dir[0].stats.reordered == t.k->out_of_order);
    bench_free(&t);
  }
  /* keep_order: jitter delays but never reorders. */
  c.keep_order = 1;
  bench_init(&t, 5, &c, NULL, 2000, 1 * P2PQ_MS, 100);
  assert_int_equal(t.k->n, 2000);
  assert_int_equal(t.k->out_of_order, 0);
  for (int i = 1; i < 2000; i++)
    assert_true(t.k->first_at[i] >= t.k->first_at[i - 1]);
  assert_true(t.k->lat[0] >= c.delay && t.k->lat[0] <= c.delay + c.jitter);
  bench_free(&t);
  c.keep_order = 0;
  /* Without jitter nothing is reordered and every latency is exact. */
  c.jitter = 0;
  bench_init(&t, 5, &c, NULL, 500, 1 * P2PQ_MS, 100);
  for (int i = 0; i < 500; i++)
    assert_int_equal(t.k->lat[i], c.delay);
  assert_int_equal(t.k->out_of_order, 0);
  assert_int_equal(t.l->dir[0].stats.reordered, 0);
  bench_free(&t);
}

static void test_loss(void **state) {
  sim_link_cfg c = {0};
  bench t;
  (void)state;
  c.delay = 5 * P2PQ_MS;
  c.loss = 0.1;
  bench_init(&t, 777, &c, NULL, 50000, 100 * P2PQ_US, 50);
  {
    const sim_link_stats *st = &t.l->dir[0].stats;
    assert_int_equal(st->sent, 50000);
    assert_int_equal(st->delivered + st->drop_loss, 50000);
    assert_int_equal(st->delivered, t.k->n);
    assert_in_range(st->drop_loss, 4700, 5300);
  }
  bench_free(&t);
  SIM_FOR_SEEDS(seed, 1000, 40) {
    bench_init(&t, seed, &c, NULL, 2000, 1 * P2PQ_MS, 50);
    SIM_ASSERT(seed, t.k->n >= 1700 && t.k->n <= 1900);
    SIM_ASSERT(seed, t.l->dir[0].stats.drop_loss == 2000 - t.k->n);
    bench_free(&t);
  }
}

static void test_burst_loss(void **state) {
  sim_link_cfg c = {0};
  bench t;
  (void)state;
  c.delay = 5 * P2PQ_MS;
  c.ge_p_gb = 0.01;
  c.ge_p_bg = 0.25;
  c.ge_loss_bad = 1.0;
  SIM_FOR_SEEDS(seed, 50, 5) {
    uint32_t lost = 0, bursts = 0;
    bench_init(&t, seed, &c, NULL, 50000, 100 * P2PQ_US, 40);
    for (uint32_t i = 0; i < 50000; i++)
      if (!t.k->got[i]) {
        lost++;
        if (i == 0 || t.k->got[i - 1])
          bursts++;
      }
    /* Stationary loss 0.01/0.26 = 3.8 %, mean burst 1/0.25 = 4 packets. */
    SIM_ASSERT(seed, lost > 1400 && lost < 2500);
    SIM_ASSERT(seed, bursts > 0 && (double)lost / bursts > 3.0 && (double)lost / bursts < 5.0);
    SIM_ASSERT(seed, t.l->dir[0].stats.drop_loss == lost);
    bench_free(&t);
  }
}

static void test_duplicate(void **state) {
  sim_link_cfg c = {0};
  bench t;
  (void)state;
  c.delay = 5 * P2PQ_MS;
  c.duplicate = 0.05;
  SIM_FOR_SEEDS(seed, 70, 10) {
    uint32_t dups = 0;
    bench_init(&t, seed, &c, NULL, 10000, 100 * P2PQ_US, 40);
    SIM_ASSERT(seed, distinct(t.k, 10000) == 10000);
    for (uint32_t i = 0; i < 10000; i++) {
      SIM_ASSERT(seed, t.k->got[i] <= 2);
      dups += t.k->got[i] - 1u;
    }
    SIM_ASSERT(seed, dups == t.l->dir[0].stats.duplicated);
    SIM_ASSERT(seed, dups > 400 && dups < 600);
    SIM_ASSERT(seed, t.l->dir[0].stats.delivered == 10000 + dups);
    bench_free(&t);
  }
}

static void test_reorder(void **state) {
  sim_link_cfg c = {0};
  bench t;
  (void)state;
  c.delay = 10 * P2PQ_MS;
  c.reorder = 0.1;
  c.reorder_delay = 5 * P2PQ_MS; /* 5 packets of 1 ms spacing overtake it */
  SIM_FOR_SEEDS(seed, 90, 10) {
    uint32_t held = 0;
    bench_init(&t, seed, &c, NULL, 5000, 1 * P2PQ_MS, 40);
    for (uint32_t i = 0; i < 5000; i++) {
      SIM_ASSERT(seed, t.k->lat[i] == c.delay || t.k->lat[i] == c.delay + c.reorder_delay);
      held += t.k->lat[i] != c.delay;
    }
    SIM_ASSERT(seed, held > 400 && held < 600);
    SIM_ASSERT(seed, t.l->dir[0].stats.reordered == t.k->out_of_order);
    /* A held packet arrives late unless its successors were held too. */
    SIM_ASSERT(seed, t.k->out_of_order > held * 7 / 10 && t.k->out_of_order <= held);
    bench_free(&t);
  }
}

static void test_bandwidth_queue(void **state) {
  sim_link_cfg c = {0};
  bench t;
  (void)state;
  c.delay = 10 * P2PQ_MS;
  c.bandwidth = 1000000; /* 1250 bytes take 10 ms */
  bench_init(&t, 1, &c, NULL, 100, 0, 1250);
  assert_int_equal(t.k->n, 100);
  for (uint32_t i = 0; i < 100; i++)
    assert_int_equal(t.k->first_at[i], c.delay + (i + 1) * 10 * P2PQ_MS);
  bench_free(&t);
  /* A 12500-byte drop-tail queue holds ten packets of a burst. */
  c.queue_limit = 12500;
  bench_init(&t, 1, &c, NULL, 100, 0, 1250);
  assert_int_equal(t.k->n, 10);
  assert_int_equal(t.l->dir[0].stats.drop_queue, 90);
  bench_free(&t);
  /* Sending at the link rate never queues; at twice the rate half is dropped. */
  bench_init(&t, 1, &c, NULL, 1000, 10 * P2PQ_MS, 1250);
  assert_int_equal(t.k->n, 1000);
  bench_free(&t);
  bench_init(&t, 1, &c, NULL, 1000, 5 * P2PQ_MS, 1250);
  assert_in_range(t.k->n, 495, 515);
  assert_int_equal(t.l->dir[0].stats.drop_queue, 1000 - t.k->n);
  bench_free(&t);
}

static void test_mtu_and_directions(void **state) {
  sim_link_cfg ab = {0}, ba = {0};
  bench t;
  uint8_t big[1300] = {0};
  p2pq_addr from = sim_test_addr("203.0.113.1:2000"), to = sim_test_addr("198.51.100.1:1000");
  sim_recorder rec = {0};
  (void)state;
  ab.mtu = 1200;
  ab.loss = 1.0; /* a->b loses everything ... */
  ba.mtu = 1200; /* ... b->a is clean */
  bench_init(&t, 3, &ab, &ba, 10, P2PQ_MS, 100);
  assert_int_equal(t.k->n, 0);
  assert_int_equal(t.l->dir[0].stats.drop_loss, 10);
  sim_host_set_app(t.a, &sim_recorder_ops, &rec);
  assert_int_equal(sim_send(t.b, &from, &to, big, 1200), 0);
  assert_int_equal(sim_send(t.b, &from, &to, big, 1201), 0);
  sim_run_until_idle(t.s, 0);
  assert_int_equal(rec.n, 1);
  assert_int_equal(rec.e[0].len, 1200);
  assert_int_equal(t.l->dir[1].stats.drop_mtu, 1);
  assert_int_equal(t.l->dir[1].stats.delivered, 1);
  assert_ptr_equal(sim_link_dir_from(t.l, &t.b->node), &t.l->dir[1]);
  bench_free(&t);
}

/* Every impairment at once, random settings: packets are conserved per direction. */
static void test_conservation(void **state) {
  (void)state;
  SIM_FOR_SEEDS(seed, 5000, 30) {
    sim *r = sim_new(seed); /* draws the configuration */
    sim_link_cfg c = {0};
    bench t;
    c.delay = sim_rand_below(r, 50 * P2PQ_MS);
    c.jitter = sim_rand_below(r, 10 * P2PQ_MS);
    c.loss = sim_rand_double(r) * 0.3;
    c.ge_p_gb = sim_rand_double(r) * 0.05;
    c.ge_p_bg = 0.1 + sim_rand_double(r) * 0.5;
    c.ge_loss_bad = 0.5 + sim_rand_double(r) * 0.5;
    c.reorder = sim_rand_double(r) * 0.2;
    c.reorder_delay = sim_rand_below(r, 20 * P2PQ_MS);
    c.duplicate = sim_rand_double(r) * 0.1;
    c.bandwidth = 500000 + sim_rand_below(r, 10000000);
    c.queue_limit = 1000 + sim_rand_below(r, 20000);
    c.mtu = 600 + sim_rand_below(r, 800);
    size_t size = 12 + sim_rand_below(r, 1400);
    p2pq_tstamp gap = sim_rand_below(r, 2 * P2PQ_MS);
    sim_free(r);
    bench_init(&t, seed, &c, NULL, 3000, gap, size);
    const sim_link_stats *st = &t.l->dir[0].stats;
    SIM_ASSERT(seed, st->sent == 3000);
    SIM_ASSERT(seed, st->delivered + st->drop_loss + st->drop_queue + st->drop_mtu ==
                         st->sent + st->duplicated);
    SIM_ASSERT(seed, st->delivered == t.k->n);
    SIM_ASSERT(seed, size <= c.mtu ? st->drop_mtu == 0 : st->drop_mtu == 3000);
    bench_free(&t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_delay_jitter),    cmocka_unit_test(test_loss),
      cmocka_unit_test(test_burst_loss),      cmocka_unit_test(test_duplicate),
      cmocka_unit_test(test_reorder),         cmocka_unit_test(test_bandwidth_queue),
      cmocka_unit_test(test_mtu_and_directions), cmocka_unit_test(test_conservation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
