/* natprobe's wire format: a tiny request/response protocol of our own that
 * plays the part of an RFC 5780 Binding request with CHANGE-REQUEST in the NAT
 * lab. The server answers with the source address it saw, and on request also
 * from its other sockets (packets the NAT has never seen the peer send to). */
#ifndef P2PQ_NETNS_PROBE_MSG_H
#define P2PQ_NETNS_PROBE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

#define P2PQ_PROBE_MAGIC 0x50514e50u /* "PQNP" */
#define P2PQ_PROBE_VERSION 1
#define P2PQ_PROBE_REQ_LEN 16
#define P2PQ_PROBE_MAX_LEN 35 /* response carrying an IPv6 address */

enum { P2PQ_PROBE_REQ = 1, P2PQ_PROBE_RESP = 2 };

/* Request flags: which server sockets answer. A response carries the one flag
 * that made it (0 for the answer from the socket the request reached). */
enum {
  P2PQ_PROBE_F_OTHER_PORT = 1, /* same IP, other port */
  P2PQ_PROBE_F_OTHER_IP = 2,   /* other IP, same port */
  P2PQ_PROBE_F_OTHER_BOTH = 4, /* other IP and other port */
  P2PQ_PROBE_F_NO_DIRECT = 8,  /* no answer from the receiving socket */
  P2PQ_PROBE_F_ALL = 15
};

typedef struct p2pq_probe_msg {
  uint8_t type;       /* P2PQ_PROBE_REQ or P2PQ_PROBE_RESP */
  uint8_t flags;      /* see above */
  uint8_t from;       /* response: server socket, bit 0 = other IP, bit 1 = other port */
  uint64_t txid;      /* chosen by the client, echoed */
  p2pq_addr observed; /* response: the request's source as the server saw it */
} p2pq_probe_msg;

/* Returns the encoded length, or P2PQ_ERR_NOBUF / P2PQ_ERR_INVALID_ARG. */
int p2pq_probe_encode(const p2pq_probe_msg *m, uint8_t *out, size_t cap);
/* Returns 0, or P2PQ_ERR_TRUNCATED / P2PQ_ERR_MALFORMED / P2PQ_ERR_UNSUPPORTED. */
int p2pq_probe_decode(const uint8_t *p, size_t len, p2pq_probe_msg *m);

#endif
