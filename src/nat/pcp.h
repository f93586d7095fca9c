/* PCP (RFC 6887) message codec: MAP and ANNOUNCE requests and responses. */
#ifndef P2PQ_NAT_PCP_H
#define P2PQ_NAT_PCP_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

#define P2PQ_PCP_VERSION 2
#define P2PQ_PCP_SERVER_PORT 5351
#define P2PQ_PCP_CLIENT_PORT 5350 /* unsolicited ANNOUNCE responses */
#define P2PQ_PCP_MAX_LEN 1100
#define P2PQ_PCP_HDR_LEN 24
#define P2PQ_PCP_MAP_LEN 60 /* header + MAP opcode data */
#define P2PQ_PCP_NONCE_LEN 12

enum p2pq_pcp_opcode { P2PQ_PCP_OP_ANNOUNCE = 0, P2PQ_PCP_OP_MAP = 1, P2PQ_PCP_OP_PEER = 2 };

enum p2pq_pcp_option { P2PQ_PCP_OPT_THIRD_PARTY = 1, P2PQ_PCP_OPT_PREFER_FAILURE = 2,
                       P2PQ_PCP_OPT_FILTER = 3 };

enum p2pq_pcp_result {
  P2PQ_PCP_SUCCESS = 0,
  P2PQ_PCP_UNSUPP_VERSION = 1,
  P2PQ_PCP_NOT_AUTHORIZED = 2,
  P2PQ_PCP_MALFORMED_REQUEST = 3,
  P2PQ_PCP_UNSUPP_OPCODE = 4,
  P2PQ_PCP_UNSUPP_OPTION = 5,
  P2PQ_PCP_MALFORMED_OPTION = 6,
  P2PQ_PCP_NETWORK_FAILURE = 7,
  P2PQ_PCP_NO_RESOURCES = 8,
  P2PQ_PCP_UNSUPP_PROTOCOL = 9,
  P2PQ_PCP_USER_EX_QUOTA = 10,
  P2PQ_PCP_CANNOT_PROVIDE_EXTERNAL = 11,
  P2PQ_PCP_ADDRESS_MISMATCH = 12,
  P2PQ_PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* "SUCCESS", "UNSUPP_VERSION", ...; "UNKNOWN" for other values. */
const char *p2pq_pcp_result_name(int result);

/* A MAP request (or, parsed back, the request a server received). */
typedef struct p2pq_pcp_map_req {
  uint32_t lifetime;             /* seconds; 0 deletes */
  p2pq_addr client;              /* client IP (port ignored) */
  uint8_t nonce[P2PQ_PCP_NONCE_LEN];
  uint8_t protocol;              /* 17 UDP, 6 TCP, 0 all */
  uint16_t internal_port;
  p2pq_addr suggested;           /* family 0: no preference (port 0, any IP) */
  int prefer_failure;            /* add the PREFER_FAILURE option */
} p2pq_pcp_map_req;

/* A response (MAP fields valid when has_map). */
typedef struct p2pq_pcp_resp {
  uint8_t version, opcode, result;
  uint32_t lifetime; /* granted lifetime, or how long an error lasts */
  uint32_t epoch;
  int has_map;
  uint8_t nonce[P2PQ_PCP_NONCE_LEN];
  uint8_t protocol;
  uint16_t internal_port;
  p2pq_addr external; /* assigned external address and port */
} p2pq_pcp_resp;

/* IPv4 addresses travel as ::ffff:a.b.c.d. */
void p2pq_pcp_addr_to_wire(const p2pq_addr *a, int want_v4, uint8_t out[16]);
void p2pq_pcp_addr_from_wire(p2pq_addr *a, const uint8_t in[16], uint16_t port);

/* Writes a MAP request (60 bytes, 64 with PREFER_FAILURE); *out_len set. */
int p2pq_pcp_build_map(const p2pq_pcp_map_req *r, uint8_t *out, size_t cap, size_t *out_len);
/* Writes an ANNOUNCE request (24 bytes, lifetime 0). */
int p2pq_pcp_build_announce(const p2pq_addr *client, uint8_t *out, size_t cap,
                            size_t *out_len);

/* Parses a response. 0; P2PQ_ERR_TRUNCATED / P2PQ_ERR_MALFORMED (R bit clear,
 * length not a multiple of 4 or over 1100, bad option framing, MAP success
 * without MAP data); P2PQ_ERR_UNSUPPORTED when the version is not 2 (r->version
 * and r->result are still filled, e.g. 0 and 1 for a NAT-PMP-only gateway). */
int p2pq_pcp_parse_response(const uint8_t *p, size_t len, p2pq_pcp_resp *r);

/* Server side and tests: parse a request, build a response. parse returns
 * r->opcode in *opcode; MAP fields are filled for MAP. */
int p2pq_pcp_parse_request(const uint8_t *p, size_t len, uint8_t *opcode, p2pq_pcp_map_req *r);
int p2pq_pcp_build_response(const p2pq_pcp_resp *r, uint8_t *out, size_t cap,
                            size_t *out_len);

#endif
