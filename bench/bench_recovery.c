/* Micro-benchmark of the per-packet recovery path (on_packet_sent, ACK
 * processing, loss detection, congestion control) for 1 GiB of 1452-byte
 * packets over a modelled path: 10 Gbit/s bottleneck, 1 ms RTT, random loss,
 * the receiver acknowledging every second packet with ranges that show its
 * gaps. Prints ns of recovery work per packet.
 * Build: cc -O2 -Iinclude -Isrc bench/bench_recovery.c src/quic/rtt.c \
 *   src/quic/recovery.c src/quic/cc_newreno.c src/quic/cc_cubic.c \
 *   src/quic/pacer.c -lm -o bench_recovery      (or link p2pq_quic) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quic/recovery.h"

#define PKT 1452
#define TOTAL (1ull << 30)
#define SER_NS 1162         /* 1452 B at 10 Gbit/s */
#define OWD (500 * P2PQ_US) /* one-way delay */
#define QCAP (1u << 20)     /* packets the modelled network can hold */
#define MAXGAPS 8

typedef struct {
  uint64_t pn;
  p2pq_tstamp at;
} ev;

static uint64_t nacked, nlost;
static void on_acked(void *u, const p2pq_sentpkt *p) { (void)u; (void)p; nacked++; }
static void on_lost(void *u, const p2pq_sentpkt *p) { (void)u; (void)p; nlost++; }

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static int run(const char *cc, unsigned loss_ppm) {
  p2pq_recovery rec;
  p2pq_sentq q;
  p2pq_recovery_env env;
  p2pq_recovery_config cfg = {.cc = cc, .mds = PKT};
  p2pq_tstamp now = P2PQ_S, link_free = 0;
  uint64_t pn = 0, sent = 0, largest_rx = 0, gaps[MAXGAPS];
  size_t ngaps = 0, unacked = 0;
  ev *arr = malloc(QCAP * sizeof(ev)), *acks = malloc(QCAP * sizeof(ev));
  size_t ah = 0, at = 0, kh = 0, kt = 0;
  double t0, dt, work = 0, swork = 0;
  if (!arr || !acks)
    return 1;
  memset(&env, 0, sizeof(env));
  if (p2pq_recovery_init(&rec, &cfg) < 0 || p2pq_sentq_init(&q, P2PQ_PNS_APP) < 0)
    return 1;
  env.spaces[P2PQ_PNS_APP] = &q;
  env.max_ack_delay = 25 * P2PQ_MS;
  env.handshake_confirmed = env.peer_validated = 1;
  env.on_acked = on_acked;
  env.on_lost = on_lost;
  nacked = nlost = 0;
  t0 = wall();
  while (sent < TOTAL || kh != kt || ah != at) {
    /* sender: fill the window (the bottleneck serialises) */
    double s0 = wall();
    while (sent < TOTAL && p2pq_recovery_can_send(&rec, PKT) && at - ah < QCAP) {
      p2pq_sentpkt p = {.pn = pn, .time_sent = now, .size = PKT,
                        .flags = P2PQ_SENT_ACK_ELICITING | P2PQ_SENT_IN_FLIGHT,
                        .space = P2PQ_PNS_APP};
      p2pq_recovery_on_packet_sent(&rec, &env, &p);
      link_free = (link_free > now ? link_free : now) + SER_NS;
      if (rnd() % 1000000 >= loss_ppm) {
        arr[at % QCAP].pn = pn;
        arr[at % QCAP].at = link_free + OWD;
        at++;
      }
      pn++;
      sent += PKT;
    }
    swork += wall() - s0;
    /* next event: a packet arriving at the receiver or an ACK at the sender */
    {
      p2pq_tstamp ta = ah != at ? arr[ah % QCAP].at : P2PQ_TSTAMP_MAX;
      p2pq_tstamp tk = kh != kt ? acks[kh % QCAP].at : P2PQ_TSTAMP_MAX;
      p2pq_tstamp tt = p2pq_recovery_next_timeout(&rec, &env);
      if (tt < ta && tt < tk) {
        p2pq_recovery_action act;
        now = tt > now ? tt : now;
        p2pq_recovery_on_timeout(&rec, &env, now, &act);
        if (act.kind == P2PQ_RECOVERY_PROBE) /* a probe: resend as new data */
          sent -= sent >= PKT ? PKT : 0;
        continue;
      }
      if (ta == P2PQ_TSTAMP_MAX && tk == P2PQ_TSTAMP_MAX)
        break;
      if (ta <= tk) {
        uint64_t r = arr[ah++ % QCAP].pn;
        now = ta > now ? ta : now;
        if (r > largest_rx + 1 && pn > 1) /* a hole: remember for the ranges */
          gaps[ngaps++ % MAXGAPS] = r - 1;
        largest_rx = r;
        if (++unacked >= 2) {
          acks[kt % QCAP].pn = r;
          acks[kt % QCAP].at = now + OWD;
          kt++;
          unacked = 0;
        }
      } else {
        /* ACK frame: newest range first, holes at the remembered gaps */
        p2pq_recovery_range rg[MAXGAPS + 1];
        uint64_t hi = acks[kh++ % QCAP].pn;
        size_t n = 0, g = ngaps < MAXGAPS ? ngaps : MAXGAPS;
        double w0;
        now = tk > now ? tk : now;
        for (size_t i = 0; i < g; i++) {
          uint64_t hole = gaps[(ngaps - 1 - i) % MAXGAPS];
          if (hole >= hi || (n && hole + 1 > rg[n - 1].smallest - 1))
            continue;
          rg[n].largest = n ? rg[n - 1].smallest - 2 : hi;
          if (hole + 1 > rg[n].largest)
            continue;
          rg[n].smallest = hole + 1;
          n++;
        }
        rg[n].largest = n ? rg[n - 1].smallest - 2 : hi;
        rg[n].smallest = rg[n].largest > 256 ? rg[n].largest - 256 : 0;
        if (!n || rg[n - 1].smallest >= 2)
          n++;
        w0 = wall();
        p2pq_recovery_on_ack_received(&rec, &env, P2PQ_PNS_APP, rg, n, 0, NULL, now);
        work += wall() - w0;
      }
    }
  }
  dt = wall() - t0;
  printf("%-8s loss %5.2f%%  %7llu pkts  %6.1f ns/pkt with model  %5.1f ns/pkt ACK  "
         "%5.1f ns/pkt send+model  lost %llu  cwnd %llu\n",
         cc, loss_ppm / 1e4, (unsigned long long)pn, dt * 1e9 / (double)pn,
         work * 1e9 / (double)pn, swork * 1e9 / (double)pn, (unsigned long long)nlost,
         (unsigned long long)rec.cc.cwnd);
  p2pq_sentq_clear(&q);
  p2pq_recovery_clear(&rec);
  free(arr);
  free(acks);
  return 0;
}

int main(void) {
  return run("newreno", 100) || run("cubic", 100) || run("cubic", 1000) || run("cubic", 0);
}
