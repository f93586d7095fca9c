/* Answers STUN Binding requests that arrive on a QUIC endpoint's socket
 * (RFC 8489 over the RFC 9443 demultiplexing), so one port serves QUIC and
 * STUN: the endpoint hands non-QUIC datagrams to config.on_other, this hook
 * builds the answer with the sans-I/O STUN server and queues it with
 * p2pq_endpoint_queue_raw. */
#ifndef P2PQ_PEER_STUN_RESPONDER_H
#define P2PQ_PEER_STUN_RESPONDER_H

#include <stdint.h>

#include "p2pq/quic.h"

typedef struct p2pq_stun_responder {
  const char *software; /* SOFTWARE attribute, or NULL; must outlive the responder */
  uint64_t answered;    /* responses queued */
  uint64_t ignored;     /* not STUN, indications, responses: nothing to send */
  uint64_t queue_full;  /* answers lost because the endpoint's queue was full */
} p2pq_stun_responder;

void p2pq_stun_responder_init(p2pq_stun_responder *r, const char *software);
void p2pq_stun_responder_clear(p2pq_stun_responder *r);

/* Installs the hook in a config before p2pq_endpoint_new / p2pq_runtime_new
 * (sets on_other and other_user); r must outlive the endpoint. */
void p2pq_stun_responder_attach(p2pq_stun_responder *r, p2pq_config *cfg);

/* The hook itself (user is the responder). */
void p2pq_stun_responder_on_other(void *user, p2pq_endpoint *ep, const uint8_t *data,
                                  size_t len, const p2pq_addr *local, const p2pq_addr *remote,
                                  p2pq_tstamp now);

#endif
