/* PCP wire format (RFC 6887 sections 7, 11, 14). */
#include <string.h>

#include "common/buf.h"
#include "nat/pcp.h"
#include "p2pq/error.h"

const char *p2pq_pcp_result_name(int result) {
  static const char *names[] = {"SUCCESS",          "UNSUPP_VERSION",
                                "NOT_AUTHORIZED",   "MALFORMED_REQUEST",
                                "UNSUPP_OPCODE",    "UNSUPP_OPTION",
                                "MALFORMED_OPTION", "NETWORK_FAILURE",
                                "NO_RESOURCES",     "UNSUPP_PROTOCOL",
                                "USER_EX_QUOTA",    "CANNOT_PROVIDE_EXTERNAL",
                                "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS"};
  if (result < 0 || result >= (int)(sizeof(names) / sizeof(names[0])))
    return "UNKNOWN";
  return names[result];
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void p2pq_pcp_addr_to_wire(const p2pq_addr *a, int want_v4, uint8_t out[16]) {
  memset(out, 0, 16);
  if (a && a->family == 6) {
    memcpy(out, a->ip, 16);
  } else if ((a && a->family == 4) || want_v4) {
    memcpy(out, v4mapped, 12);
    if (a && a->family == 4)
      memcpy(out + 12, a->ip, 4);
  }
}

void p2pq_pcp_addr_from_wire(p2pq_addr *a, const uint8_t in[16], uint16_t port) {
  if (memcmp(in, v4mapped, 12) == 0)
    p2pq_addr_v4(a, in + 12, port);
  else
    p2pq_addr_v6(a, in, port);
}

static int wr_header(p2pq_wr *w, uint8_t opcode, uint32_t lifetime, const p2pq_addr *client) {
  uint8_t ip[16];
  p2pq_pcp_addr_to_wire(client, 0, ip);
  if (p2pq_wr_u8(w, P2PQ_PCP_VERSION) || p2pq_wr_u8(w, opcode & 0x7F) || p2pq_wr_u16(w, 0) ||
      p2pq_wr_u32(w, lifetime) || p2pq_wr_bytes(w, ip, 16))
    return P2PQ_ERR_NOBUF;
  return 0;
}

static int valid_client(const p2pq_addr *a) { return a && (a->family == 4 || a->family == 6); }

int p2pq_pcp_build_map(const p2pq_pcp_map_req *r, uint8_t *out, size_t cap, size_t *out_len) {
  p2pq_wr w;
  uint8_t ext[16];
  static const uint8_t zero3[3] = {0};
  if (!r || !out || !out_len || !valid_client(&r->client))
    return P2PQ_ERR_INVALID_ARG;
  if (r->internal_port == 0 && r->protocol != 0)
    return P2PQ_ERR_INVALID_ARG; /* port 0 means all ports: only with protocol 0 */
  p2pq_wr_init(&w, out, cap);
  /* No suggested address: the all-zero address of the client's family. */
  p2pq_pcp_addr_to_wire(&r->suggested, r->client.family == 4, ext);
  if (wr_header(&w, P2PQ_PCP_OP_MAP, r->lifetime, &r->client) ||
      p2pq_wr_bytes(&w, r->nonce, P2PQ_PCP_NONCE_LEN) || p2pq_wr_u8(&w, r->protocol) ||
      p2pq_wr_bytes(&w, zero3, 3) || p2pq_wr_u16(&w, r->internal_port) ||
      p2pq_wr_u16(&w, r->suggested.family ? r->suggested.port : 0) ||
      p2pq_wr_bytes(&w, ext, 16))
    return P2PQ_ERR_NOBUF;
  if (r->prefer_failure && (p2pq_wr_u8(&w, P2PQ_PCP_OPT_PREFER_FAILURE) ||
                            p2pq_wr_u8(&w, 0) || p2pq_wr_u16(&w, 0)))
    return P2PQ_ERR_NOBUF;
  *out_len = (size_t)(w.p - out);
  return 0;
}

int p2pq_pcp_build_announce(const p2pq_addr *client, uint8_t *out, size_t cap,
                            size_t *out_len) {
  p2pq_wr w;
  if (!valid_client(client) || !out || !out_len)
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&w, out, cap);
  if (wr_header(&w, P2PQ_PCP_OP_ANNOUNCE, 0, client))
    return P2PQ_ERR_NOBUF;
  *out_len = P2PQ_PCP_HDR_LEN;
  return 0;
}

/* Options: code(8) reserved(8) length(16) data, padded to 4. Only framing is
 * checked here; this client sends no option whose answer it must read. */
static int parse_options(p2pq_rd *r) {
  while (p2pq_rd_left(r) > 0) {
    uint8_t code, rsv;
    uint16_t olen;
    if (p2pq_rd_u8(r, &code) || p2pq_rd_u8(r, &rsv) || p2pq_rd_u16(r, &olen) ||
        p2pq_rd_skip(r, ((size_t)olen + 3) & ~(size_t)3))
      return P2PQ_ERR_TRUNCATED;
    if (code == 0)
      return P2PQ_ERR_MALFORMED; /* option code 0 is reserved */
  }
  return 0;
}

static int parse_map_data(p2pq_rd *r, uint8_t nonce[12], uint8_t *proto, uint16_t *iport,
                          uint16_t *eport, uint8_t ext[16]) {
  if (p2pq_rd_copy(r, nonce, P2PQ_PCP_NONCE_LEN) || p2pq_rd_u8(r, proto) ||
      p2pq_rd_skip(r, 3) || p2pq_rd_u16(r, iport) || p2pq_rd_u16(r, eport) ||
      p2pq_rd_copy(r, ext, 16))
    return P2PQ_ERR_TRUNCATED;
  return 0;
}

static int check_len(size_t len) {
  if (len < P2PQ_PCP_HDR_LEN)
    return P2PQ_ERR_TRUNCATED;
  if (len > P2PQ_PCP_MAX_LEN || (len & 3))
    return P2PQ_ERR_MALFORMED;
  return 0;
}

int p2pq_pcp_parse_response(const uint8_t *p, size_t len, p2pq_pcp_resp *r) {
  p2pq_rd rd;
  uint8_t op, rsv, ext[16];
  uint16_t eport;
  int rc;
  memset(r, 0, sizeof(*r));
  p2pq_rd_init(&rd, p, len);
  if (p2pq_rd_u8(&rd, &r->version) || p2pq_rd_u8(&rd, &op))
    return P2PQ_ERR_TRUNCATED;
  if (r->version != P2PQ_PCP_VERSION) {
    /* A NAT-PMP gateway answers: vers(8) op(8) result(16). */
    uint16_t res16;
    if (p2pq_rd_u16(&rd, &res16))
      return P2PQ_ERR_TRUNCATED;
    r->opcode = op;
    r->result = res16 > 0xFF ? 0xFF : (uint8_t)res16;
    return P2PQ_ERR_UNSUPPORTED;
  }
  if ((rc = check_len(len)))
    return rc;
  if (!(op & 0x80))
    return P2PQ_ERR_MALFORMED; /* a request, not a response */
  r->opcode = op & 0x7F;
  if (p2pq_rd_u8(&rd, &rsv) || p2pq_rd_u8(&rd, &r->result) || p2pq_rd_u32(&rd, &r->lifetime) ||
      p2pq_rd_u32(&rd, &r->epoch) || p2pq_rd_skip(&rd, 12))
    return P2PQ_ERR_TRUNCATED;
  if (r->opcode == P2PQ_PCP_OP_MAP && (p2pq_rd_left(&rd) > 0 || r->result == P2PQ_PCP_SUCCESS)) {
    if ((rc = parse_map_data(&rd, r->nonce, &r->protocol, &r->internal_port, &eport, ext)))
      return rc;
    p2pq_pcp_addr_from_wire(&r->external, ext, eport);
    r->has_map = 1;
  } else if (r->opcode != P2PQ_PCP_OP_ANNOUNCE) {
    return 0; /* PEER or unknown: opcode data of unknown length, options not reachable */
  }
  return parse_options(&rd);
}

int p2pq_pcp_parse_request(const uint8_t *p, size_t len, uint8_t *opcode, p2pq_pcp_map_req *r) {
  p2pq_rd rd;
  uint8_t ver, op, ip[16], ext[16];
  uint16_t rsv, eport;
  int rc;
  memset(r, 0, sizeof(*r));
  if ((rc = check_len(len)))
    return rc;
  p2pq_rd_init(&rd, p, len);
  if (p2pq_rd_u8(&rd, &ver) || p2pq_rd_u8(&rd, &op) || p2pq_rd_u16(&rd, &rsv) ||
      p2pq_rd_u32(&rd, &r->lifetime) || p2pq_rd_copy(&rd, ip, 16))
    return P2PQ_ERR_TRUNCATED;
  if (ver != P2PQ_PCP_VERSION)
    return P2PQ_ERR_UNSUPPORTED;
  if (op & 0x80)
    return P2PQ_ERR_MALFORMED;
  *opcode = op;
  p2pq_pcp_addr_from_wire(&r->client, ip, 0);
  if (op == P2PQ_PCP_OP_MAP) {
    if ((rc = parse_map_data(&rd, r->nonce, &r->protocol, &r->internal_port, &eport, ext)))
      return rc;
    p2pq_pcp_addr_from_wire(&r->suggested, ext, eport);
    if (p2pq_rd_left(&rd) >= 4 && rd.p[0] == P2PQ_PCP_OPT_PREFER_FAILURE)
      r->prefer_failure = 1;
  }
  return parse_options(&rd);
}

int p2pq_pcp_build_response(const p2pq_pcp_resp *r, uint8_t *out, size_t cap,
                            size_t *out_len) {
  p2pq_wr w;
  uint8_t ext[16];
  static const uint8_t zero[12] = {0};
  if (!r || !out || !out_len)
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&w, out, cap);
  if (p2pq_wr_u8(&w, P2PQ_PCP_VERSION) || p2pq_wr_u8(&w, (uint8_t)(0x80 | r->opcode)) ||
      p2pq_wr_u8(&w, 0) || p2pq_wr_u8(&w, r->result) || p2pq_wr_u32(&w, r->lifetime) ||
      p2pq_wr_u32(&w, r->epoch) || p2pq_wr_bytes(&w, zero, 12))
    return P2PQ_ERR_NOBUF;
  if (r->has_map) {
    p2pq_pcp_addr_to_wire(&r->external, 1, ext);
    if (p2pq_wr_bytes(&w, r->nonce, 12) || p2pq_wr_u8(&w, r->protocol) ||
        p2pq_wr_bytes(&w, zero, 3) || p2pq_wr_u16(&w, r->internal_port) ||
        p2pq_wr_u16(&w, r->external.port) || p2pq_wr_bytes(&w, ext, 16))
      return P2PQ_ERR_NOBUF;
  }
  *out_len = (size_t)(w.p - out);
  return 0;
}
