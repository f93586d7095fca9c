/* NAT-PMP (RFC 6886) message codec. */
#ifndef P2PQ_NAT_NATPMP_H
#define P2PQ_NAT_NATPMP_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

#define P2PQ_NATPMP_VERSION 0
#define P2PQ_NATPMP_SERVER_PORT 5351
#define P2PQ_NATPMP_CLIENT_PORT 5350 /* address-change announcements */

enum p2pq_natpmp_op {
  P2PQ_NATPMP_OP_ADDRESS = 0,
  P2PQ_NATPMP_OP_MAP_UDP = 1,
  P2PQ_NATPMP_OP_MAP_TCP = 2,
  P2PQ_NATPMP_OP_RESPONSE = 128, /* response opcode = request opcode + 128 */
};

enum p2pq_natpmp_result {
  P2PQ_NATPMP_SUCCESS = 0,
  P2PQ_NATPMP_UNSUPP_VERSION = 1,
  P2PQ_NATPMP_NOT_AUTHORIZED = 2,
  P2PQ_NATPMP_NETWORK_FAILURE = 3,
  P2PQ_NATPMP_OUT_OF_RESOURCES = 4,
  P2PQ_NATPMP_UNSUPP_OPCODE = 5,
};

const char *p2pq_natpmp_result_name(int result);

typedef struct p2pq_natpmp_resp {
  uint8_t op;          /* request opcode (response opcode - 128) */
  uint16_t result;
  uint32_t epoch;      /* seconds since start of epoch */
  int has_body;        /* 0 for the short (8-byte) error form */
  uint8_t external_ip[4];                  /* op 0 */
  uint16_t internal_port, external_port;   /* op 1, 2 */
  uint32_t lifetime;                       /* op 1, 2 */
} p2pq_natpmp_resp;

/* Public address request: 2 bytes. */
int p2pq_natpmp_build_address_request(uint8_t *out, size_t cap, size_t *out_len);
/* Mapping request: 12 bytes. op is 1 (UDP) or 2 (TCP); lifetime 0 deletes. */
int p2pq_natpmp_build_map_request(uint8_t op, uint16_t internal_port, uint16_t suggested_port,
                                  uint32_t lifetime, uint8_t *out, size_t cap, size_t *out_len);

/* Parses a response: 0; P2PQ_ERR_TRUNCATED; P2PQ_ERR_MALFORMED (not a
 * response, unknown opcode); P2PQ_ERR_UNSUPPORTED (version not 0). A non-zero
 * result may come in the 8-byte short form (has_body 0). */
int p2pq_natpmp_parse_response(const uint8_t *p, size_t len, p2pq_natpmp_resp *r);

/* Gateway side and tests. */
int p2pq_natpmp_build_response(const p2pq_natpmp_resp *r, uint8_t *out, size_t cap,
                               size_t *out_len);

#endif
