/* delayq: the NAT lab's delay line. The lab kernel has no netem, so each
 * router sends its ingress packets to an NFQUEUE (iptables -j NFQUEUE
 * --queue-bypass) and this program accepts every packet DELAY ms after it
 * arrived. One fixed delay per queue means release times are in arrival order,
 * so a FIFO ring is an exact timer queue. The queue is fail-open: if the ring or
 * the kernel queue fills up, packets pass undelayed rather than hang the lab,
 * and if this program dies the rule's bypass lets traffic through.
 *
 * usage: delayq -q QUEUE -d MS [-n MAXHELD]   (runs until SIGINT/SIGTERM) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

typedef struct held {
  uint32_t id;
  uint64_t due; /* CLOCK_MONOTONIC ns */
} held;

typedef struct delayq {
  struct nfq_q_handle *qh;
  held *ring;
  size_t cap, head, count;
  uint64_t delay_ns;
  uint64_t passed, overflow;
} delayq;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *user) {
  delayq *q = user;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  uint32_t id;

  (void)msg;
  if (!ph)
    return 0;
  id = ntohl(ph->packet_id);
  if (q->count == q->cap) { /* full: fail open rather than drop */
    q->overflow++;
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  }
  q->ring[(q->head + q->count) % q->cap] = (held){id, now_ns() + q->delay_ns};
  q->count++;
  return 0;
}

/* Accepts every held packet whose time has come; returns ns until the next. */
static int64_t release_due(delayq *q) {
  uint64_t now = now_ns();

  while (q->count) {
    held *h = &q->ring[q->head];
    if (h->due > now)
      return (int64_t)(h->due - now);
    nfq_set_verdict(q->qh, h->id, NF_ACCEPT, 0, NULL);
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->passed++;
  }
  return -1;
}

static void drain_socket(struct nfq_handle *h, int fd) {
  char buf[4096] __attribute__((aligned));

  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      nfq_handle_packet(h, buf, (int)n);
      continue;
    }
    if (n < 0 && errno == ENOBUFS) /* kernel dropped messages: those packets fail open */
      continue;
    return;
  }
}

static int run(delayq *q, struct nfq_handle *h) {
  int fd = nfq_fd(h);
  sigset_t none;

  sigemptyset(&none);
  while (!stop_flag) {
    int64_t wait = release_due(q);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    struct timespec ts = {1, 0}; /* wake up now and then to see stop_flag */
    if (wait >= 0 && wait < 1000000000)
      ts = (struct timespec){0, (long)wait};
    if (ppoll(&pfd, 1, &ts, &none) > 0 && (pfd.revents & POLLIN))
      drain_socket(h, fd);
  }
  return 0;
}

static int setup(delayq *q, struct nfq_handle **hp, unsigned qnum, uint32_t maxlen) {
  struct nfq_handle *h = nfq_open();

  if (!h) {
    perror("delayq: nfq_open");
    return -1;
  }
  *hp = h;
  q->qh = nfq_create_queue(h, (uint16_t)qnum, on_packet, q);
  if (!q->qh) {
    perror("delayq: nfq_create_queue (is another delayq bound to this queue?)");
    return -1;
  }
  if (nfq_set_mode(q->qh, NFQNL_COPY_META, 0) < 0) {
    perror("delayq: nfq_set_mode");
    return -1;
  }
  nfq_set_queue_maxlen(q->qh, maxlen);
  nfq_set_queue_flags(q->qh, NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO,
                      NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO);
  nfnl_rcvbufsiz(nfq_nfnlh(h), 8u << 20);
  return 0;
}

int main(int argc, char **argv) {
  delayq q = {0};
  struct nfq_handle *h = NULL;
  unsigned long qnum = 0, ms = 0, cap = 16384;
  int opt, rc = 1;
  struct sigaction sa = {.sa_handler = on_signal};

  while ((opt = getopt(argc, argv, "q:d:n:")) != -1) {
    if (opt == 'q')
      qnum = strtoul(optarg, NULL, 10);
    else if (opt == 'd')
      ms = strtoul(optarg, NULL, 10);
    else if (opt == 'n')
      cap = strtoul(optarg, NULL, 10);
    else
      goto usage;
  }
  if (optind != argc || qnum > 65535 || ms > 60000 || cap < 1 || cap > 1000000)
    goto usage;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  q.cap = cap;
  q.delay_ns = ms * 1000000ull;
  q.ring = calloc(cap, sizeof(*q.ring));
  if (q.ring && setup(&q, &h, (unsigned)qnum, (uint32_t)cap) == 0) {
    fprintf(stderr, "delayq: queue %lu, delay %lu ms\n", qnum, ms);
    rc = run(&q, h);
    /* let what we still hold go rather than have it dropped */
    while (q.count) {
      nfq_set_verdict(q.qh, q.ring[q.head].id, NF_ACCEPT, 0, NULL);
      q.head = (q.head + 1) % q.cap;
      q.count--;
    }
    fprintf(stderr, "delayq: passed %llu, overflow %llu\n", (unsigned long long)q.passed,
            (unsigned long long)q.overflow);
  }
  if (q.qh)
    nfq_destroy_queue(q.qh);
  if (h)
    nfq_close(h);
  free(q.ring);
  return rc;
usage:
  fprintf(stderr, "usage: delayq -q QUEUE -d MS [-n MAXHELD]\n");
  return 2;
}
