/* The default runtime: an epoll loop that feeds one sans-I/O endpoint with
 * datagrams, time and randomness, and sends what it produces. */
#include "p2pq/runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "io/obs.h"
#include "io/udp.h"

#define RECV_ROUNDS 8     /* recvmmsg batches per socket per loop turn */
#define DEFAULT_SOCK_BUF (8u << 20)
#define DEFAULT_PAYLOAD 1452

struct p2pq_runtime {
  p2pq_endpoint *ep;
  p2pq_udp_sock socks[P2PQ_RUNTIME_MAX_SOCKETS];
  size_t nsocks;
  int epfd;
  p2pq_udp_rxbatch rx;
  p2pq_udp_txbatch tx;
  p2pq_io_obs obs;
  size_t gso_max, payload;
  int tx_blocked; /* tx.sock is full: wait for EPOLLOUT */
  volatile sig_atomic_t stop;
  volatile sig_atomic_t stop_code;
  uint64_t rx_datagrams, rx_syscalls;
  p2pq_addr icmp_addr; /* destination of the last datagram an ICMP error named */
  int icmp_err;
};

p2pq_tstamp p2pq_runtime_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (p2pq_tstamp)ts.tv_sec * P2PQ_S + (p2pq_tstamp)ts.tv_nsec;
}

void p2pq_runtime_random(void *user, uint8_t *out, size_t len) {
  (void)user;
  while (len > 0) {
    ssize_t n = getrandom(out, len, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      /* no entropy source means no safe keys or CIDs: cannot go on */
      perror("p2pquic: getrandom");
      abort();
    }
    out += n;
    len -= (size_t)n;
  }
}

/* With GSO on every socket the endpoint may fill a slot with many equal-size
 * datagrams; slots hold whole multiples of the largest datagram so that the
 * endpoint never writes a segment past the slot end. */
static void size_batches(p2pq_runtime *rt) {
  size_t i, g = P2PQ_UDP_GSO_BYTES / rt->payload;
  int all_gso = rt->nsocks > 0;
  for (i = 0; i < rt->nsocks; i++)
    all_gso &= rt->socks[i].gso;
  if (g > P2PQ_UDP_GSO_MAX)
    g = P2PQ_UDP_GSO_MAX;
  rt->gso_max = all_gso && g > 1 ? g : 1;
}

static int open_sockets(p2pq_runtime *rt, const p2pq_runtime_config *rc, char *err,
                        size_t errcap) {
  p2pq_addr any;
  const p2pq_addr *binds = rc->bind;
  size_t n = rc->n_bind, i;
  size_t sb = rc->sock_buf ? rc->sock_buf : DEFAULT_SOCK_BUF;
  if (n == 0) {
    static const uint8_t zero[4];
    p2pq_addr_v4(&any, zero, 0);
    binds = &any;
    n = 1;
  }
  if (n > P2PQ_RUNTIME_MAX_SOCKETS) {
    snprintf(err, errcap, "too many addresses to bind (at most %d)", P2PQ_RUNTIME_MAX_SOCKETS);
    return P2PQ_ERR_CONFIG;
  }
  for (i = 0; i < n; i++) {
    struct epoll_event ev;
    int rv = p2pq_udp_open(&rt->socks[i], &binds[i], sb, rc->disable_gso, rc->disable_gro,
                           err, errcap);
    if (rv != 0)
      return rv;
    rt->nsocks++;
    if (rc->icmp_errors)
      p2pq_udp_recverr(&rt->socks[i]);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u32 = (uint32_t)i;
    if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->socks[i].fd, &ev) != 0) {
      snprintf(err, errcap, "epoll_ctl: %s", strerror(errno));
      return P2PQ_ERR_IO;
    }
  }
  return 0;
}

static int any_gro(const p2pq_runtime *rt) {
  for (size_t i = 0; i < rt->nsocks; i++)
    if (rt->socks[i].gro)
      return 1;
  return 0;
}

int p2pq_runtime_new(p2pq_runtime **out, const p2pq_runtime_config *rcfg,
                     const p2pq_config *qcfg, char *err, size_t errcap) {
  static const p2pq_runtime_config zero_rc;
  p2pq_runtime *rt;
  p2pq_config qc;
  int rv;
  if (err != NULL && errcap > 0)
    err[0] = '\0';
  if (qcfg == NULL)
    return P2PQ_ERR_INVALID_ARG;
  if (rcfg == NULL)
    rcfg = &zero_rc;
  rt = calloc(1, sizeof(*rt));
  if (rt == NULL)
    return P2PQ_ERR_NOMEM;
  rt->epfd = epoll_create1(EPOLL_CLOEXEC);
  /* pacing waits are microseconds: the default 50 us timer slack would
   * stretch every one of them (this thread only) */
  (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  rt->payload = qcfg->settings.max_udp_payload ? qcfg->settings.max_udp_payload
                                                : DEFAULT_PAYLOAD;
  if (rt->payload < 1200)
    rt->payload = 1200;
  if (rt->epfd < 0) {
    snprintf(err, errcap, "epoll_create1: %s", strerror(errno));
    free(rt);
    return P2PQ_ERR_IO;
  }
  if ((rv = open_sockets(rt, rcfg, err, errcap)) != 0 ||
      (rv = p2pq_io_obs_init(&rt->obs, rcfg->keylog_file, rcfg->qlog_dir, qcfg->is_server,
                             err, errcap)) != 0)
    goto fail;
  size_batches(rt);
  /* without GRO a buffer holds one datagram: the largest we accept (we
   * advertise max_udp_payload, so peers send no larger) */
  if ((rv = p2pq_udp_rxbatch_init(&rt->rx, any_gro(rt) ? P2PQ_UDP_GRO_BUF
                                           : rt->payload > P2PQ_UDP_PLAIN_BUF
                                               ? rt->payload
                                               : P2PQ_UDP_PLAIN_BUF)) != 0 ||
      (rv = p2pq_udp_txbatch_init(&rt->tx, rt->gso_max * rt->payload)) != 0)
    goto fail;
  qc = *qcfg;
  qc.rand = p2pq_runtime_random;
  qc.rand_user = NULL;
  qc.keylog = p2pq_io_obs_keylog;
  qc.qlog = p2pq_io_obs_qlog;
  qc.hook_user = &rt->obs;
  qc.qlog_enabled = rcfg->qlog_dir != NULL;
  if ((rv = p2pq_endpoint_new(&rt->ep, &qc)) != 0) {
    snprintf(err, errcap, "cannot create the QUIC endpoint: %s", p2pq_strerror(rv));
    goto fail;
  }
  *out = rt;
  return 0;
fail:
  p2pq_runtime_free(rt);
  return rv;
}

void p2pq_runtime_free(p2pq_runtime *rt) {
  size_t i;
  if (rt == NULL)
    return;
  p2pq_endpoint_free(rt->ep);
  for (i = 0; i < rt->nsocks; i++)
    p2pq_udp_close(&rt->socks[i]);
  if (rt->epfd >= 0)
    close(rt->epfd);
  p2pq_udp_rxbatch_clear(&rt->rx);
  p2pq_udp_txbatch_clear(&rt->tx);
  p2pq_io_obs_clear(&rt->obs);
  free(rt);
}

p2pq_endpoint *p2pq_runtime_endpoint(p2pq_runtime *rt) { return rt->ep; }

int p2pq_runtime_local_addr(const p2pq_runtime *rt, size_t i, p2pq_addr *out) {
  if (i >= rt->nsocks)
    return P2PQ_ERR_NOT_FOUND;
  *out = rt->socks[i].bound;
  return 0;
}

int p2pq_runtime_gso(const p2pq_runtime *rt, size_t i) {
  return i < rt->nsocks && rt->socks[i].gso;
}

int p2pq_runtime_gro(const p2pq_runtime *rt, size_t i) {
  return i < rt->nsocks && rt->socks[i].gro;
}

void p2pq_runtime_get_stats(const p2pq_runtime *rt, p2pq_runtime_stats *st) {
  memset(st, 0, sizeof(*st));
  st->rx_datagrams = rt->rx_datagrams;
  st->rx_syscalls = rt->rx_syscalls;
  st->tx_datagrams = rt->tx.datagrams;
  st->tx_syscalls = rt->tx.syscalls;
  st->tx_eagain = rt->tx.eagain;
  st->tx_errors = rt->tx.errors;
}

int p2pq_runtime_unreachable(const p2pq_runtime *rt, const p2pq_addr *remote) {
  return rt->icmp_err != 0 && p2pq_addr_equal(&rt->icmp_addr, remote) ? rt->icmp_err : 0;
}

void p2pq_runtime_stop(p2pq_runtime *rt, int code) {
  rt->stop_code = code;
  rt->stop = 1;
}

static p2pq_udp_sock *sock_for_family(p2pq_runtime *rt, int family) {
  for (size_t i = 0; i < rt->nsocks; i++)
    if (rt->socks[i].bound.family == family)
      return &rt->socks[i];
  return NULL;
}

int p2pq_runtime_connect(p2pq_runtime *rt, p2pq_conn **out, const p2pq_addr *remote,
                         const char *sni) {
  p2pq_udp_sock *s = sock_for_family(rt, remote->family);
  p2pq_addr local;
  int rv;
  if (s == NULL)
    return P2PQ_ERR_NO_VIABLE_PATH;
  /* a wildcard socket's source address is the kernel's choice: family 0
   * tells the connection to match any local address */
  if (s->wildcard)
    memset(&local, 0, sizeof(local));
  else
    local = s->bound;
  rv = p2pq_endpoint_connect(rt->ep, out, &local, remote, sni, p2pq_runtime_now());
  if (rv == 0)
    p2pq_io_obs_conn_start(&rt->obs, *out);
  return rv;
}

/* ---- the loop ---- */

static p2pq_udp_sock *sock_for_tx(p2pq_runtime *rt, const p2pq_tx *t) {
  for (size_t i = 0; i < rt->nsocks; i++) {
    p2pq_udp_sock *s = &rt->socks[i];
    if (s->bound.family != t->remote.family)
      continue;
    if (t->local.family == 0 ||
        (t->local.port == s->bound.port &&
         (s->wildcard || p2pq_addr_equal_ip(&s->bound, &t->local))))
      return s;
  }
  return sock_for_family(rt, t->remote.family);
}

static void arm_out(p2pq_runtime *rt, const p2pq_udp_sock *s, int on) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
  ev.data.u32 = (uint32_t)(s - rt->socks);
  epoll_ctl(rt->epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

static int flush_batch(p2pq_runtime *rt) {
  int rv;
  if (rt->tx.n == 0)
    return 0;
  rv = p2pq_udp_flush(&rt->tx);
  if (rv == P2PQ_ERR_AGAIN) {
    rt->tx_blocked = 1;
    arm_out(rt, rt->tx.sock, 1);
    return rv;
  }
  size_batches(rt); /* a GSO failure may have turned GSO off */
  return 0;
}

/* While a bulk send is paced in short bursts, a pacing gap this short is
 * waited out by spinning so that several bursts share one sendmmsg: a system
 * call costs more than the gap. */
#define SEND_SPIN_NS (50 * P2PQ_US)

/* The endpoint has nothing now: returns 1 after waiting out a pacing gap
 * shorter than the spin budget (the caller asks again), 0 to stop. */
static int wait_pacer(p2pq_runtime *rt, p2pq_tstamp *now, p2pq_tstamp spin_until) {
  p2pq_tstamp t;
  if (rt->tx.n == 0 || rt->tx.n >= P2PQ_UDP_BATCH)
    return 0;
  t = p2pq_endpoint_next_timeout(rt->ep);
  if (t > spin_until)
    return 0;
  while ((*now = p2pq_runtime_now()) < t)
    ;
  if (*now > spin_until)
    return 0; /* the budget is spent (also ends a timer that stays due) */
  if (p2pq_endpoint_next_timeout(rt->ep) <= *now)
    p2pq_endpoint_on_timeout(rt->ep, *now);
  return 1;
}

/* Pulls datagrams from the endpoint into the batch while the sockets take
 * them; a full batch goes out with one sendmmsg. */
static void send_out(p2pq_runtime *rt) {
  p2pq_tstamp now = p2pq_runtime_now(), spin_until = now + SEND_SPIN_NS;
  while (!rt->tx_blocked) {
    uint8_t *slot = p2pq_udp_tx_slot(&rt->tx);
    p2pq_udp_sock *s;
    p2pq_tx t;
    int n;
    if (slot == NULL) {
      if (flush_batch(rt) != 0)
        return;
      continue;
    }
    n = p2pq_endpoint_send(rt->ep, slot, rt->tx.slot_size, rt->gso_max, &t, now);
    if (n == 0 && wait_pacer(rt, &now, spin_until))
      continue;
    if (n <= 0)
      break;
    if ((s = sock_for_tx(rt, &t)) == NULL)
      continue; /* no socket of that family: the datagram cannot leave */
    if (rt->tx.n > 0 && rt->tx.sock != s) {
      /* batches go to one socket: send the others first, then move this
       * datagram into slot 0 (or lose it if the socket is full) */
      if (flush_batch(rt) != 0)
        return;
      memmove(p2pq_udp_tx_slot(&rt->tx), slot, (size_t)n);
    }
    p2pq_udp_tx_commit(&rt->tx, s, (size_t)n, t.segment, &t.local, &t.remote, t.ecn);
  }
  flush_batch(rt);
}

static int recv_from(p2pq_runtime *rt, p2pq_udp_sock *s) {
  for (int round = 0; round < RECV_ROUNDS; round++) {
    int n = p2pq_udp_recv(s, &rt->rx);
    p2pq_tstamp now;
    rt->rx_syscalls++;
    if (n <= 0)
      return n;
    now = p2pq_runtime_now();
    for (int i = 0; i < n; i++) {
      p2pq_udp_rx m;
      size_t off;
      p2pq_udp_rx_get(s, &rt->rx, i, &m);
      for (off = 0; off < m.len; off += m.segment) {
        size_t l = m.len - off < m.segment ? m.len - off : m.segment;
        rt->rx_datagrams++;
        /* our receive buffer: decrypted in place, no copy */
        (void)p2pq_endpoint_recv_inplace(rt->ep, m.data + off, l, &m.local, &m.remote, m.ecn,
                                         now);
      }
    }
    if (n < P2PQ_UDP_BATCH)
      break;
  }
  return 0;
}

static int dispatch(p2pq_runtime *rt, p2pq_runtime_event_fn cb, void *user) {
  p2pq_event ev;
  int r = 0;
  while (r == 0 && p2pq_endpoint_poll_event(rt->ep, &ev)) {
    if (ev.type == P2PQ_EV_CONN_NEW)
      p2pq_io_obs_conn_start(&rt->obs, ev.conn);
    r = cb != NULL ? cb(user, rt, &ev) : 0;
    if (ev.type == P2PQ_EV_CLOSED) {
      p2pq_io_obs_conn_end(&rt->obs, ev.conn);
      p2pq_conn_free(ev.conn);
    }
  }
  if (r == 0)
    p2pq_io_obs_sweep(&rt->obs);
  return r;
}

static int wait_io(p2pq_runtime *rt, p2pq_tstamp until) {
  struct epoll_event evs[P2PQ_RUNTIME_MAX_SOCKETS];
  struct timespec ts, *tsp = NULL;
  p2pq_tstamp now = p2pq_runtime_now();
  int n, i;
  if (until != P2PQ_TSTAMP_MAX) {
    p2pq_tstamp d = until > now ? until - now : 0;
    ts.tv_sec = (time_t)(d / P2PQ_S);
    ts.tv_nsec = (long)(d % P2PQ_S);
    tsp = &ts;
  }
  n = epoll_pwait2(rt->epfd, evs, P2PQ_RUNTIME_MAX_SOCKETS, tsp, NULL);
  if (n < 0 && errno == ENOSYS) {
    int ms = tsp == NULL ? -1 : (int)((until - now + P2PQ_MS - 1) / P2PQ_MS);
    n = epoll_wait(rt->epfd, evs, P2PQ_RUNTIME_MAX_SOCKETS, until <= now ? 0 : ms);
  }
  if (n < 0)
    return errno == EINTR ? 0 : P2PQ_ERR_IO;
  for (i = 0; i < n; i++) {
    p2pq_udp_sock *s = &rt->socks[evs[i].data.u32];
    if ((evs[i].events & EPOLLOUT) && rt->tx_blocked && s == rt->tx.sock) {
      rt->tx_blocked = 0;
      arm_out(rt, s, 0);
      flush_batch(rt);
    }
    if (evs[i].events & EPOLLERR) {
      p2pq_addr dst;
      int e;
      while (p2pq_udp_read_error(s, &dst, &e))
        if (e != 0) {
          rt->icmp_addr = dst;
          rt->icmp_err = e;
        }
    }
    if (evs[i].events & (EPOLLIN | EPOLLERR)) {
      int rv = recv_from(rt, s);
      if (rv < 0)
        return rv;
    }
  }
  return 0;
}

int p2pq_runtime_run(p2pq_runtime *rt, p2pq_tstamp deadline, p2pq_runtime_event_fn cb,
                     void *user) {
  static const p2pq_event tick = {P2PQ_EV_NONE, NULL, 0, 0, 0, {0, 0, {0}}};
  rt->stop = 0;
  for (;;) {
    p2pq_tstamp now = p2pq_runtime_now(), t;
    int r;
    if (p2pq_endpoint_next_timeout(rt->ep) <= now)
      p2pq_endpoint_on_timeout(rt->ep, now);
    if ((r = dispatch(rt, cb, user)) != 0)
      return r;
    if (cb != NULL && (r = cb(user, rt, &tick)) != 0)
      return r;
    send_out(rt);
    if ((r = dispatch(rt, cb, user)) != 0)
      return r;
    if (rt->stop)
      return rt->stop_code;
    if (now >= deadline)
      return P2PQ_ERR_TIMEOUT;
    t = p2pq_endpoint_next_timeout(rt->ep);
    /* a full socket wakes us with EPOLLOUT: do not spin on pacer timers */
    if (rt->tx_blocked && t < now + P2PQ_MS)
      t = now + P2PQ_MS;
    if (t > deadline)
      t = deadline;
    if ((r = wait_io(rt, t)) != 0)
      return r;
  }
}
