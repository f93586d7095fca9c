/* First-byte demultiplexing of one UDP socket carrying QUIC and STUN
 * (RFC 7983 as updated by RFC 9443). Pure functions. */
#ifndef P2PQ_NAT_DEMUX_H
#define P2PQ_NAT_DEMUX_H

#include <stddef.h>
#include <stdint.h>

typedef enum p2pq_demux_kind {
  P2PQ_DEMUX_OTHER = 0, /* drop: DTLS, RTP, ZRTP, garbage, empty */
  P2PQ_DEMUX_STUN = 1,
  P2PQ_DEMUX_QUIC = 2,
} p2pq_demux_kind;

/* STUN: first byte 0..3, magic cookie at 4..7, Message Length = len - 20 and a
 * multiple of 4. QUIC: fixed bit (0x40) set, or a Version Negotiation packet
 * (long header, version 0), whose fixed bit is arbitrary. Everything else is
 * OTHER. Bytes 64..79 are QUIC: this stack binds no TURN channels. */
p2pq_demux_kind p2pq_demux_classify(const uint8_t *p, size_t len);

const char *p2pq_demux_kind_name(p2pq_demux_kind k);

#endif
