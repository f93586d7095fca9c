/* RFC 9443 section 2 first-byte table, narrowed to what one QUIC socket sees. */
#include "nat/demux.h"
#include "nat/stun.h"

/* Version Negotiation: long header bit set, 32-bit version field zero. */
static int is_quic_vn(const uint8_t *p, size_t len) {
  return len >= 5 && (p[0] & 0x80) && p[1] == 0 && p[2] == 0 && p[3] == 0 && p[4] == 0;
}

p2pq_demux_kind p2pq_demux_classify(const uint8_t *p, size_t len) {
  if (!p || len == 0)
    return P2PQ_DEMUX_OTHER;
  if (p[0] <= 3)
    return p2pq_stun_check_header(p, len) == 0 ? P2PQ_DEMUX_STUN : P2PQ_DEMUX_OTHER;
  if (is_quic_vn(p, len) || (p[0] & 0x40))
    return P2PQ_DEMUX_QUIC;
  return P2PQ_DEMUX_OTHER;
}

const char *p2pq_demux_kind_name(p2pq_demux_kind k) {
  switch (k) {
  case P2PQ_DEMUX_STUN: return "stun";
  case P2PQ_DEMUX_QUIC: return "quic";
  default: return "other";
  }
}
