/* Sans-I/O PCP MAP client (RFC 6887): one mapping, retransmission (8.1.1),
 * renewal (11.2.1), epoch checks (8.5), re-mapping after a server restart,
 * delete. */
#ifndef P2PQ_NAT_PCP_CLIENT_H
#define P2PQ_NAT_PCP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "nat/pcp.h"
#include "p2pq/types.h"

typedef struct p2pq_pcp_client_cfg {
  p2pq_addr server;         /* gateway, port 5351 */
  p2pq_addr client;         /* our address as sent in the header (port ignored) */
  uint8_t protocol;         /* default 17 (UDP) */
  uint16_t internal_port;
  uint32_t lifetime;        /* requested seconds, default 7200 */
  p2pq_addr suggested;      /* optional suggested external address/port */
  p2pq_tstamp irt, mrt;     /* default 3 s and 1024 s */
  p2pq_tstamp max_total;    /* give up after this long without an answer; 0 = never */
  p2pq_rand_fn rand;        /* nonce and RAND in [-0.1, 0.1] */
  void *rand_user;
} p2pq_pcp_client_cfg;

void p2pq_pcp_client_cfg_default(p2pq_pcp_client_cfg *cfg);

enum p2pq_pcp_client_state {
  P2PQ_PCP_IDLE = 0,
  P2PQ_PCP_REQUESTING, /* first MAP, or re-MAP after a server restart */
  P2PQ_PCP_MAPPED,     /* waiting for the renewal time */
  P2PQ_PCP_RENEWING,
  P2PQ_PCP_DELETING,
  P2PQ_PCP_DELETED,
  P2PQ_PCP_FAILED,     /* error result (see result), timeout, or expiry */
};

typedef struct p2pq_pcp_client {
  p2pq_pcp_client_cfg cfg;
  int state;
  uint8_t nonce[P2PQ_PCP_NONCE_LEN];
  uint8_t req[64];
  size_t req_len;
  p2pq_tstamp next;       /* next send (retransmission or renewal) */
  p2pq_tstamp rt;         /* current retransmission timeout */
  p2pq_tstamp first_sent; /* start of this exchange, for max_total */
  p2pq_tstamp expires;    /* end of the granted lifetime */
  p2pq_addr external;     /* assigned external address and port */
  uint32_t granted;       /* granted lifetime, seconds */
  uint8_t result;         /* last result code from the server */
  uint32_t error_lifetime; /* on an error result: seconds it is expected to last */
  int last_error;
  int remap;              /* next send is a fresh MAP after a server restart */
  int have_epoch;
  uint32_t epoch;         /* last server epoch seen */
  p2pq_tstamp epoch_at;   /* our time when it was seen */
  uint64_t dropped_spoofed, dropped_malformed, epoch_resets, sends;
} p2pq_pcp_client;

int p2pq_pcp_client_init(p2pq_pcp_client *c, const p2pq_pcp_client_cfg *cfg);
void p2pq_pcp_client_clear(p2pq_pcp_client *c);

/* Creates the nonce and writes the first MAP request. */
int p2pq_pcp_client_start(p2pq_pcp_client *c, p2pq_tstamp now, uint8_t *out, size_t cap,
                          size_t *out_len);
/* Writes a MAP with lifetime 0 (same nonce) and retransmits it until answered. */
int p2pq_pcp_client_delete(p2pq_pcp_client *c, p2pq_tstamp now, uint8_t *out, size_t cap,
                           size_t *out_len);

/* A datagram from `from` (the server's port, or 5350 for ANNOUNCE). Returns 0
 * when it was a valid answer or ANNOUNCE (state updated: check c->state and,
 * after a detected restart, next_timeout, which is then "now");
 * P2PQ_ERR_SPOOFED (wrong source IP, nonce, protocol or port: dropped, counted);
 * P2PQ_ERR_MALFORMED (dropped, counted); P2PQ_ERR_UNSUPPORTED (the gateway does
 * not speak PCP version 2: fall back to NAT-PMP); P2PQ_ERR_PORTMAP (error
 * result, c->result says which). */
int p2pq_pcp_client_on_recv(p2pq_pcp_client *c, const uint8_t *p, size_t len,
                            const p2pq_addr *from, p2pq_tstamp now);

p2pq_tstamp p2pq_pcp_client_next_timeout(const p2pq_pcp_client *c);
/* Sends what is due (*out_len > 0), or nothing; P2PQ_ERR_TIMEOUT when
 * max_total passed without an answer, or the mapping expired unrenewed. */
int p2pq_pcp_client_on_timeout(p2pq_pcp_client *c, p2pq_tstamp now, uint8_t *out, size_t cap,
                               size_t *out_len);

#endif
