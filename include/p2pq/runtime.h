/* p2pquic default runtime: drives one sans-I/O QUIC endpoint (p2pq/quic.h)
 * over real UDP sockets with an epoll loop, a monotonic clock and getrandom().
 *
 * Datagrams move in batches (recvmmsg/sendmmsg) with UDP GSO/GRO when the
 * kernel has them, ECN via IP_TOS/IPV6_TCLASS and the local address via
 * IP_PKTINFO/IPV6_PKTINFO. The application sees every p2pq_event through one
 * callback and acts on the endpoint from inside it (write streams, close).
 *
 * Typical use:
 *   p2pq_runtime_new(&rt, &rcfg, &qcfg, err, sizeof(err));
 *   p2pq_runtime_connect(rt, &conn, &server, "localhost");   (client)
 *   p2pq_runtime_run(rt, P2PQ_TSTAMP_MAX, on_event, app);
 *   p2pq_runtime_free(rt); */
#ifndef P2PQ_RUNTIME_H
#define P2PQ_RUNTIME_H

#include <stddef.h>

#include "p2pq/quic.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct p2pq_runtime p2pq_runtime;

#define P2PQ_RUNTIME_MAX_SOCKETS 8

typedef struct p2pq_runtime_config {
  /* Addresses to bind, one UDP socket each (port 0: any free port). n_bind 0:
   * one socket on 0.0.0.0:0. */
  const p2pq_addr *bind;
  size_t n_bind;
  size_t sock_buf;    /* SO_RCVBUF/SO_SNDBUF wanted: 0 = 8 MiB */
  int disable_gso;    /* never use UDP_SEGMENT */
  int disable_gro;    /* never set UDP_GRO */
  const char *qlog_dir;    /* one <role>-<n>.sqlog file per connection; NULL: off */
  const char *keylog_file; /* NULL: $SSLKEYLOGFILE when set; "" : off */
  /* Collect ICMP errors (IP_RECVERR) for p2pq_runtime_unreachable. Meant for
   * clients: with it the kernel also fails the next send once per error. */
  int icmp_errors;
} p2pq_runtime_config;

/* Called for each endpoint event. Once per loop turn it is also called with
 * ev->type == P2PQ_EV_NONE (conn NULL): the place to top up stream writes that
 * were cut short by a full send buffer. After P2PQ_EV_CLOSED returns, the
 * runtime frees the connection: do not use it afterwards nor free it yourself.
 * Return 0 to keep running; any other value stops p2pq_runtime_run, which
 * returns it. */
typedef int (*p2pq_runtime_event_fn)(void *user, p2pq_runtime *rt, const p2pq_event *ev);

/* Opens the sockets and the endpoint. qcfg is copied; its rand, keylog, qlog
 * and hook_user fields are set by the runtime. On failure err receives a line
 * that says what went wrong (e.g. "cannot bind 1.2.3.4:443: Permission
 * denied"). Errors: P2PQ_ERR_IO, P2PQ_ERR_CONFIG, P2PQ_ERR_NOMEM, and the
 * endpoint's own. */
int p2pq_runtime_new(p2pq_runtime **out, const p2pq_runtime_config *rcfg,
                     const p2pq_config *qcfg, char *err, size_t errcap);
void p2pq_runtime_free(p2pq_runtime *rt);

p2pq_endpoint *p2pq_runtime_endpoint(p2pq_runtime *rt);
/* Bound address of socket i (with the real port after binding port 0). */
int p2pq_runtime_local_addr(const p2pq_runtime *rt, size_t i, p2pq_addr *out);
/* Whether socket i sends with UDP GSO / receives with GRO. */
int p2pq_runtime_gso(const p2pq_runtime *rt, size_t i);
int p2pq_runtime_gro(const p2pq_runtime *rt, size_t i);

/* Client: starts a connection from the first socket of remote's family. */
int p2pq_runtime_connect(p2pq_runtime *rt, p2pq_conn **out, const p2pq_addr *remote,
                         const char *sni);

/* Runs the loop until the callback returns non-zero (returned), until
 * p2pq_runtime_stop, or until the monotonic clock passes deadline
 * (P2PQ_ERR_TIMEOUT). Fatal socket errors give P2PQ_ERR_IO. */
int p2pq_runtime_run(p2pq_runtime *rt, p2pq_tstamp deadline, p2pq_runtime_event_fn cb,
                     void *user);
/* From inside the callback (or a signal handler): run returns code soon. */
void p2pq_runtime_stop(p2pq_runtime *rt, int code);

/* With icmp_errors: the errno of the last ICMP error (ECONNREFUSED for "port
 * unreachable", EHOSTUNREACH, ENETUNREACH, ...) about datagrams sent to
 * remote, 0 if none. ICMP is unauthenticated: treat it as a hint, e.g. to stop
 * waiting for a handshake early. */
int p2pq_runtime_unreachable(const p2pq_runtime *rt, const p2pq_addr *remote);

/* Counters for the whole runtime. */
typedef struct p2pq_runtime_stats {
  uint64_t rx_datagrams, rx_syscalls, tx_datagrams, tx_syscalls, tx_eagain, tx_errors;
} p2pq_runtime_stats;
void p2pq_runtime_get_stats(const p2pq_runtime *rt, p2pq_runtime_stats *st);

/* The runtime's clock (CLOCK_MONOTONIC in ns) and randomness (getrandom). */
p2pq_tstamp p2pq_runtime_now(void);
void p2pq_runtime_random(void *user, uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
