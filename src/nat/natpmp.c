/* NAT-PMP wire format (RFC 6886 sections 3.2, 3.3, 3.5). */
#include <string.h>

#include "common/buf.h"
#include "nat/natpmp.h"
#include "p2pq/error.h"

const char *p2pq_natpmp_result_name(int result) {
  static const char *names[] = {"SUCCESS",         "UNSUPPORTED_VERSION",
                                "NOT_AUTHORIZED",  "NETWORK_FAILURE",
                                "OUT_OF_RESOURCES", "UNSUPPORTED_OPCODE"};
  if (result < 0 || result >= (int)(sizeof(names) / sizeof(names[0])))
    return "UNKNOWN";
  return names[result];
}

int p2pq_natpmp_build_address_request(uint8_t *out, size_t cap, size_t *out_len) {
  if (!out || !out_len)
    return P2PQ_ERR_INVALID_ARG;
  if (cap < 2)
    return P2PQ_ERR_NOBUF;
  out[0] = P2PQ_NATPMP_VERSION;
  out[1] = P2PQ_NATPMP_OP_ADDRESS;
  *out_len = 2;
  return 0;
}

int p2pq_natpmp_build_map_request(uint8_t op, uint16_t internal_port, uint16_t suggested_port,
                                  uint32_t lifetime, uint8_t *out, size_t cap,
                                  size_t *out_len) {
  p2pq_wr w;
  if ((op != P2PQ_NATPMP_OP_MAP_UDP && op != P2PQ_NATPMP_OP_MAP_TCP) || !out || !out_len)
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&w, out, cap);
  if (p2pq_wr_u8(&w, P2PQ_NATPMP_VERSION) || p2pq_wr_u8(&w, op) || p2pq_wr_u16(&w, 0) ||
      p2pq_wr_u16(&w, internal_port) || p2pq_wr_u16(&w, suggested_port) ||
      p2pq_wr_u32(&w, lifetime))
    return P2PQ_ERR_NOBUF;
  *out_len = 12;
  return 0;
}

int p2pq_natpmp_parse_response(const uint8_t *p, size_t len, p2pq_natpmp_resp *r) {
  p2pq_rd rd;
  uint8_t ver, op;
  memset(r, 0, sizeof(*r));
  p2pq_rd_init(&rd, p, len);
  if (p2pq_rd_u8(&rd, &ver) || p2pq_rd_u8(&rd, &op))
    return P2PQ_ERR_TRUNCATED;
  if (ver != P2PQ_NATPMP_VERSION)
    return P2PQ_ERR_UNSUPPORTED;
  if (op < P2PQ_NATPMP_OP_RESPONSE)
    return P2PQ_ERR_MALFORMED; /* a request */
  r->op = (uint8_t)(op - P2PQ_NATPMP_OP_RESPONSE);
  if (p2pq_rd_u16(&rd, &r->result) || p2pq_rd_u32(&rd, &r->epoch))
    return P2PQ_ERR_TRUNCATED;
  /* Errors may stop after the epoch; an unknown opcode only comes that way. */
  if (r->result != P2PQ_NATPMP_SUCCESS && p2pq_rd_left(&rd) == 0)
    return 0;
  if (r->op == P2PQ_NATPMP_OP_ADDRESS) {
    if (p2pq_rd_copy(&rd, r->external_ip, 4))
      return P2PQ_ERR_TRUNCATED;
  } else if (r->op == P2PQ_NATPMP_OP_MAP_UDP || r->op == P2PQ_NATPMP_OP_MAP_TCP) {
    if (p2pq_rd_u16(&rd, &r->internal_port) || p2pq_rd_u16(&rd, &r->external_port) ||
        p2pq_rd_u32(&rd, &r->lifetime))
      return P2PQ_ERR_TRUNCATED;
  } else {
    return P2PQ_ERR_MALFORMED;
  }
  r->has_body = 1;
  return 0;
}

int p2pq_natpmp_build_response(const p2pq_natpmp_resp *r, uint8_t *out, size_t cap,
                               size_t *out_len) {
  p2pq_wr w;
  /* Any opcode in the short error form; a body only for the three known ones. */
  if (!r || !out || !out_len || r->op >= P2PQ_NATPMP_OP_RESPONSE || (r->has_body && r->op > 2))
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&w, out, cap);
  if (p2pq_wr_u8(&w, P2PQ_NATPMP_VERSION) ||
      p2pq_wr_u8(&w, (uint8_t)(P2PQ_NATPMP_OP_RESPONSE + r->op)) ||
      p2pq_wr_u16(&w, r->result) || p2pq_wr_u32(&w, r->epoch))
    return P2PQ_ERR_NOBUF;
  if (r->has_body) {
    if (r->op == P2PQ_NATPMP_OP_ADDRESS) {
      if (p2pq_wr_bytes(&w, r->external_ip, 4))
        return P2PQ_ERR_NOBUF;
    } else if (p2pq_wr_u16(&w, r->internal_port) || p2pq_wr_u16(&w, r->external_port) ||
               p2pq_wr_u32(&w, r->lifetime)) {
      return P2PQ_ERR_NOBUF;
    }
  }
  *out_len = (size_t)(w.p - out);
  return 0;
}
