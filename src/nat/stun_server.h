/* A stateless STUN Binding responder (RFC 8489 6.3), as a pure function. */
#ifndef P2PQ_NAT_STUN_SERVER_H
#define P2PQ_NAT_STUN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

/* Answers the datagram req that arrived from `from`. Writes the response into
 * out and returns its length (> 0); returns 0 when nothing is to be sent
 * (not STUN, bad FINGERPRINT, indication, response); P2PQ_ERR_NOBUF if out is
 * too small. A Binding request gets a success response with XOR-MAPPED-ADDRESS,
 * SOFTWARE (when software is not NULL) and FINGERPRINT; a request with unknown
 * comprehension-required attributes gets 420 with UNKNOWN-ATTRIBUTES; a
 * malformed request or an unknown method gets 400. */
int p2pq_stun_server_respond(const uint8_t *req, size_t len, const p2pq_addr *from,
                             const char *software, uint8_t *out, size_t cap);

/* RFC 5780 behaviour discovery: a server with a second IP address and port. */
#define P2PQ_STUN_CHANGE_IP 0x4u
#define P2PQ_STUN_CHANGE_PORT 0x2u

typedef struct p2pq_stun_server_opts {
  const char *software;    /* SOFTWARE, or NULL */
  p2pq_addr local;         /* address the request arrived on (RESPONSE-ORIGIN) */
  p2pq_addr other;         /* alternate IP and port (OTHER-ADDRESS); family 0: none */
} p2pq_stun_server_opts;

/* Like p2pq_stun_server_respond; with opts->local set the success response
 * also carries RESPONSE-ORIGIN, with opts->other also OTHER-ADDRESS. A
 * CHANGE-REQUEST is honoured by setting *change (P2PQ_STUN_CHANGE_*): the
 * caller sends the response from the changed IP and/or port. Without an
 * alternate address a CHANGE-REQUEST gets 420 (RFC 5780 7.2). */
int p2pq_stun_server_respond_ex(const uint8_t *req, size_t len, const p2pq_addr *from,
                                const p2pq_stun_server_opts *opts, uint8_t *out, size_t cap,
                                uint32_t *change);

#endif
