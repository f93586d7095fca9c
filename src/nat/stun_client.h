/* Sans-I/O STUN Binding client transaction over UDP (RFC 8489 6.2.1, 6.3.3)
 * and the RFC 5780 mapping-behaviour verdict from two results. */
#ifndef P2PQ_NAT_STUN_CLIENT_H
#define P2PQ_NAT_STUN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "nat/stun.h"
#include "p2pq/types.h"

typedef struct p2pq_stun_client_cfg {
  p2pq_tstamp rto; /* initial RTO, default 500 ms */
  unsigned rc;     /* total sends, default 7 */
  unsigned rm;     /* final wait = rm * rto, default 16 */
  int fingerprint; /* add FINGERPRINT to the request (default 1) */
  uint32_t change_request; /* RFC 5780 CHANGE-REQUEST flags (0x4 IP, 0x2 port); 0: none */
  /* With change_request: the address the answer must come from (from the
   * server's OTHER-ADDRESS); family 0 accepts any address but the server's. */
  p2pq_addr expect_from;
} p2pq_stun_client_cfg;

void p2pq_stun_client_cfg_default(p2pq_stun_client_cfg *cfg);

enum p2pq_stun_client_state {
  P2PQ_STUN_CLIENT_IDLE = 0,
  P2PQ_STUN_CLIENT_RUNNING,
  P2PQ_STUN_CLIENT_DONE,   /* success: mapped is set */
  P2PQ_STUN_CLIENT_FAILED, /* error response, or bad response: see last_error */
  P2PQ_STUN_CLIENT_TIMEOUT,
};

typedef struct p2pq_stun_client {
  p2pq_stun_client_cfg cfg;
  p2pq_addr server;
  int state;
  uint8_t txid[P2PQ_STUN_TXID_LEN];
  uint8_t req[36]; /* header + CHANGE-REQUEST + FINGERPRINT */
  size_t req_len;
  unsigned sent;      /* sends so far */
  p2pq_tstamp next;   /* next retransmission or the final deadline */
  p2pq_tstamp cur_rto;
  p2pq_addr mapped;          /* XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS) */
  p2pq_addr other_address;   /* OTHER-ADDRESS when the server gave one */
  p2pq_addr response_origin; /* RESPONSE-ORIGIN when the server gave one */
  uint16_t error_code;       /* from an error response */
  int last_error;
  uint64_t dropped_spoofed;   /* wrong transaction id or source address */
  uint64_t dropped_malformed; /* not a valid STUN response */
} p2pq_stun_client;

/* cfg may be NULL for defaults. Returns P2PQ_ERR_CONFIG on a bad cfg. */
int p2pq_stun_client_init(p2pq_stun_client *c, const p2pq_stun_client_cfg *cfg,
                          const p2pq_addr *server);
void p2pq_stun_client_clear(p2pq_stun_client *c);

/* Picks a transaction id from rand and writes the first request into out. */
int p2pq_stun_client_start(p2pq_stun_client *c, p2pq_tstamp now, p2pq_rand_fn rand,
                           void *rand_user, uint8_t *out, size_t cap, size_t *out_len);

/* A datagram from `from`. Returns 0 when it completed the transaction (*mapped
 * set, may be NULL), P2PQ_ERR_SPOOFED (wrong id or source, dropped and
 * counted), P2PQ_ERR_MALFORMED (not a usable response, dropped and counted),
 * P2PQ_ERR_STUN (error response, or unknown comprehension-required attribute:
 * the transaction failed), P2PQ_ERR_STATE when no transaction runs. */
int p2pq_stun_client_on_recv(p2pq_stun_client *c, const uint8_t *p, size_t len,
                             const p2pq_addr *from, p2pq_tstamp now, p2pq_addr *mapped);

/* When on_timeout must next be called; P2PQ_TSTAMP_MAX if never. */
p2pq_tstamp p2pq_stun_client_next_timeout(const p2pq_stun_client *c);

/* Retransmits (writes the request into out, *out_len > 0) when due, does nothing
 * (*out_len = 0) when early, or returns P2PQ_ERR_TIMEOUT after the final wait. */
int p2pq_stun_client_on_timeout(p2pq_stun_client *c, p2pq_tstamp now, uint8_t *out,
                                size_t cap, size_t *out_len);

/* RFC 5780 4.3 mapping behaviour from two Binding results: mapped1 seen by
 * server1, mapped2 by server2 (which must differ from server1 in IP address,
 * e.g. server1's OTHER-ADDRESS). local, if not NULL, is the socket's address. */
typedef enum p2pq_nat_mapping {
  P2PQ_NAT_MAPPING_UNKNOWN = 0,
  P2PQ_NAT_MAPPING_NONE,                 /* mapped == local: no NAT */
  P2PQ_NAT_MAPPING_ENDPOINT_INDEPENDENT, /* same mapping for both servers */
  P2PQ_NAT_MAPPING_DEPENDENT,            /* address (and maybe port) dependent */
} p2pq_nat_mapping;

/* RFC 5780 4.4 filtering behaviour. test2: did a response with CHANGE-REQUEST
 * "change IP and port" arrive; test3: did one with "change port" arrive. */
typedef enum p2pq_nat_filtering {
  P2PQ_NAT_FILTERING_ENDPOINT_INDEPENDENT = 1,
  P2PQ_NAT_FILTERING_ADDRESS_DEPENDENT,
  P2PQ_NAT_FILTERING_ADDRESS_PORT_DEPENDENT,
} p2pq_nat_filtering;

p2pq_nat_filtering p2pq_stun_filtering_behaviour(int test2_answered, int test3_answered);

p2pq_nat_mapping p2pq_stun_mapping_behaviour(const p2pq_addr *local, const p2pq_addr *server1,
                                             const p2pq_addr *mapped1,
                                             const p2pq_addr *server2,
                                             const p2pq_addr *mapped2);

#endif
