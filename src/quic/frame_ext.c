/* Extension frame codecs, one row each in frame.c's table:
 * OBSERVED_ADDRESS (draft-ietf-quic-address-discovery-00) and ADD_ADDRESS,
 * PUNCH_ME_NOW, REMOVE_ADDRESS (draft-seemann-quic-nat-traversal-02). Bit 0 of
 * an address frame's type selects IPv6. */
#include "quic/frame.h"

#define FENC P2PQ_ERR_FRAME_ENCODING

/* IPv4 (32) or IPv6 (128), then Port (16). */
static int dec_addr(p2pq_rd *r, uint64_t type, p2pq_addr *a) {
  uint8_t ip[16];
  uint16_t port;
  int v6 = (type & 1) != 0;
  if (p2pq_rd_copy(r, ip, v6 ? 16 : 4) || p2pq_rd_u16(r, &port))
    return FENC;
  if (v6)
    p2pq_addr_v6(a, ip, port);
  else
    p2pq_addr_v4(a, ip, port);
  return 0;
}

static void emit_addr(p2pq_frame_emit *e, const p2pq_addr *a) {
  p2pq_frame_emit_bytes(e, a->ip, a->family == 6 ? 16 : 4);
  p2pq_frame_emit_u16(e, a->port);
}

/* Wire type from the row's base type (bit 0 cleared) and the address family. */
static void emit_addr_type(p2pq_frame_emit *e, uint64_t type, const p2pq_addr *a) {
  if (a->family != 4 && a->family != 6) {
    e->err = P2PQ_ERR_INVALID_ARG;
    return;
  }
  p2pq_frame_emit_varint(e, (type & ~1ull) | (a->family == 6));
}

int p2pq_frame_dec_observed_address(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  if (p2pq_rd_varint(r, &f->u.observed_address.seq))
    return FENC;
  return dec_addr(r, type, &f->u.observed_address.addr);
}

void p2pq_frame_emit_observed_address(p2pq_frame_emit *e, const p2pq_frame *f) {
  emit_addr_type(e, f->type, &f->u.observed_address.addr);
  p2pq_frame_emit_varint(e, f->u.observed_address.seq);
  emit_addr(e, &f->u.observed_address.addr);
}

int p2pq_frame_dec_add_address(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  if (p2pq_rd_varint(r, &f->u.add_address.seq))
    return FENC;
  return dec_addr(r, type, &f->u.add_address.addr);
}

void p2pq_frame_emit_add_address(p2pq_frame_emit *e, const p2pq_frame *f) {
  emit_addr_type(e, f->type, &f->u.add_address.addr);
  p2pq_frame_emit_varint(e, f->u.add_address.seq);
  emit_addr(e, &f->u.add_address.addr);
}

int p2pq_frame_dec_punch_me_now(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  if (p2pq_rd_varint(r, &f->u.punch_me_now.round) ||
      p2pq_rd_varint(r, &f->u.punch_me_now.paired_seq))
    return FENC;
  return dec_addr(r, type, &f->u.punch_me_now.addr);
}

void p2pq_frame_emit_punch_me_now(p2pq_frame_emit *e, const p2pq_frame *f) {
  emit_addr_type(e, f->type, &f->u.punch_me_now.addr);
  p2pq_frame_emit_varint(e, f->u.punch_me_now.round);
  p2pq_frame_emit_varint(e, f->u.punch_me_now.paired_seq);
  emit_addr(e, &f->u.punch_me_now.addr);
}

int p2pq_frame_dec_remove_address(p2pq_rd *r, uint64_t type, p2pq_frame *f) {
  return p2pq_rd_varint(r, &f->u.remove_address.seq) ? FENC : 0;
}

void p2pq_frame_emit_remove_address(p2pq_frame_emit *e, const p2pq_frame *f) {
  p2pq_frame_emit_varint(e, P2PQ_FT_REMOVE_ADDRESS);
  p2pq_frame_emit_varint(e, f->u.remove_address.seq);
}
