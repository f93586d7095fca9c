/* UDP sockets for the runtime: open/bind with the socket options QUIC wants,
 * batched receive (recvmmsg, GRO, PKTINFO, TOS) and batched send (sendmmsg,
 * GSO, source address, ECN). Buffers are allocated once per batch object. */
#ifndef P2PQ_IO_UDP_H
#define P2PQ_IO_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "p2pq/types.h"

#define P2PQ_UDP_BATCH 32
#define P2PQ_UDP_CTRL 128        /* room for PKTINFO + TOS + GSO cmsgs */
#define P2PQ_UDP_GRO_BUF 65536   /* a GRO super-datagram fits in 64 KiB */
#define P2PQ_UDP_PLAIN_BUF 2048  /* one datagram without GRO */
#define P2PQ_UDP_GSO_MAX 64      /* kernel UDP_MAX_SEGMENTS */
#define P2PQ_UDP_GSO_BYTES 65000 /* total payload bound for one GSO send */

typedef struct p2pq_udp_sock {
  int fd;
  p2pq_addr bound;  /* with the real port */
  int wildcard;     /* bound to the any-address: source needs PKTINFO */
  int gso, gro;     /* kernel support detected (and not disabled) */
  int v6only;
} p2pq_udp_sock;

/* Opens and binds; err gets "cannot bind ADDR: <strerror>" on failure.
 * Returns 0 or P2PQ_ERR_IO. */
int p2pq_udp_open(p2pq_udp_sock *s, const p2pq_addr *bind, size_t sock_buf, int no_gso,
                  int no_gro, char *err, size_t errcap);
/* Queues ICMP errors (IP_RECVERR / IPV6_RECVERR) for p2pq_udp_read_error. */
void p2pq_udp_recverr(p2pq_udp_sock *s);
/* Pops one queued ICMP error: returns 1 with the original destination in dst
 * and the errno it maps to (ECONNREFUSED, EHOSTUNREACH, ...) in err, 0 when
 * the queue is empty. */
int p2pq_udp_read_error(const p2pq_udp_sock *s, p2pq_addr *dst, int *err);
void p2pq_udp_close(p2pq_udp_sock *s);

/* One received datagram (or GRO train of segment-sized datagrams). */
typedef struct p2pq_udp_rx {
  uint8_t *data;
  size_t len;
  size_t segment; /* GRO: datagrams of this size; else len */
  p2pq_addr local, remote;
  int ecn;
} p2pq_udp_rx;

typedef struct p2pq_udp_rxbatch {
  struct mmsghdr msgs[P2PQ_UDP_BATCH];
  struct iovec iov[P2PQ_UDP_BATCH];
  struct sockaddr_storage names[P2PQ_UDP_BATCH];
  _Alignas(8) uint8_t ctrl[P2PQ_UDP_BATCH][P2PQ_UDP_CTRL];
  uint8_t *bufs;
  size_t buf_size;
} p2pq_udp_rxbatch;

int p2pq_udp_rxbatch_init(p2pq_udp_rxbatch *b, size_t buf_size);
void p2pq_udp_rxbatch_clear(p2pq_udp_rxbatch *b);
/* Receives up to P2PQ_UDP_BATCH messages: returns how many (0: none waiting)
 * or P2PQ_ERR_IO. */
int p2pq_udp_recv(const p2pq_udp_sock *s, p2pq_udp_rxbatch *b);
/* Decodes message i of the last p2pq_udp_recv (addresses, ECN, GRO size). */
void p2pq_udp_rx_get(const p2pq_udp_sock *s, const p2pq_udp_rxbatch *b, int i,
                     p2pq_udp_rx *out);

/* Outgoing messages, filled in place then sent with p2pq_udp_flush. */
typedef struct p2pq_udp_txbatch {
  struct mmsghdr msgs[P2PQ_UDP_BATCH];
  struct iovec iov[P2PQ_UDP_BATCH];
  struct sockaddr_storage names[P2PQ_UDP_BATCH];
  _Alignas(8) uint8_t ctrl[P2PQ_UDP_BATCH][P2PQ_UDP_CTRL];
  size_t gso_cmsg[P2PQ_UDP_BATCH]; /* bytes of the trailing UDP_SEGMENT cmsg */
  size_t seg[P2PQ_UDP_BATCH];
  uint8_t *bufs;
  size_t slot_size;
  int n, sent;                /* queued messages, of which sent went out */
  p2pq_udp_sock *sock;        /* all queued messages leave through it */
  uint64_t syscalls, datagrams, eagain, errors;
} p2pq_udp_txbatch;

int p2pq_udp_txbatch_init(p2pq_udp_txbatch *b, size_t slot_size);
void p2pq_udp_txbatch_clear(p2pq_udp_txbatch *b);
/* The buffer of the next free slot (slot_size bytes), NULL when full. */
uint8_t *p2pq_udp_tx_slot(p2pq_udp_txbatch *b);
/* Queues len bytes written into the current slot. segment < len asks for GSO
 * (s->gso must be set). */
void p2pq_udp_tx_commit(p2pq_udp_txbatch *b, p2pq_udp_sock *s, size_t len,
                        size_t segment, const p2pq_addr *local, const p2pq_addr *remote,
                        int ecn);
/* Sends what is queued: 0 when everything left, P2PQ_ERR_AGAIN when the
 * socket is full (the rest stays queued: wait for EPOLLOUT and call again).
 * Datagrams the kernel refuses for other reasons are dropped and counted (QUIC
 * recovers); a GSO failure turns GSO off on the socket and resends one by one. */
int p2pq_udp_flush(p2pq_udp_txbatch *b);

#endif
