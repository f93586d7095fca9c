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

#endif
