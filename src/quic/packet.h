/* QUIC packet headers: the version-independent invariants (RFC 8999) and the
 * version 1 long and short headers (RFC 9000 section 17), plus packet number
 * encoding (RFC 9000 section 17.1 and Appendix A). Headers are parsed in their
 * header-protected form: the packet number and the low bits of the first byte
 * are opaque here; packet protection (src/crypto) removes them. */
#ifndef P2PQ_QUIC_PACKET_H
#define P2PQ_QUIC_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "quic/cid.h"

#define P2PQ_QUIC_V1 0x00000001u
#define P2PQ_RETRY_TAG_LEN 16
#define P2PQ_MAX_PN_LEN 4

typedef enum {
  P2PQ_PKT_INITIAL,
  P2PQ_PKT_0RTT,
  P2PQ_PKT_HANDSHAKE,
  P2PQ_PKT_RETRY,
  P2PQ_PKT_1RTT,
  P2PQ_PKT_VN
} p2pq_pkt_type;

typedef struct p2pq_pkt_hdr {
  p2pq_pkt_type type;
  uint32_t version; /* 0 for short headers (they carry none) and for VN */
  p2pq_cid dcid, scid;
  const uint8_t *token; /* Initial: token; Retry: retry token (into the input) */
  size_t token_len;
  size_t pn_offset; /* offset of the (protected) packet number in the packet */
  size_t pkt_len;   /* long header: up to the end of Length's payload; short / VN /
                       Retry: the rest of the datagram */
  const uint8_t *vn_versions; /* VN: supported versions (big-endian u32s) */
  size_t vn_count;
  const uint8_t *retry_tag; /* Retry: the 16-byte integrity tag */
} p2pq_pkt_hdr;

/* Parses one packet header at the start of p (a datagram may hold several
 * coalesced long-header packets: continue at p + pkt_len). short_dcid_len is the
 * length of our own connection IDs. Rejects (P2PQ_ERR_MALFORMED) a zero fixed
 * bit (except VN), CIDs over 20 bytes, a Length past the datagram, a Retry
 * without token or tag, a VN list that is empty or not whole u32s; truncated
 * fields give P2PQ_ERR_TRUNCATED. Unknown versions: P2PQ_ERR_UNSUPPORTED with
 * version, dcid and scid filled (so the endpoint can send VN). */
int p2pq_pkt_parse(const uint8_t *p, size_t len, size_t short_dcid_len, p2pq_pkt_hdr *h);

/* Cheap DCID peek for demultiplexing (no validation beyond bounds). */
int p2pq_pkt_peek_dcid(const uint8_t *p, size_t len, size_t short_dcid_len, p2pq_cid *dcid);

/* 1 if the first byte says long header. */
static inline int p2pq_pkt_is_long(uint8_t first) { return (first & 0x80) != 0; }

/* Writes an Initial, 0-RTT or Handshake header with a 2-byte Length placeholder
 * and the truncated packet number (pn_len 1..4 bytes). token is allowed only for
 * Initial. *length_offset and *pn_offset are relative to the packet start (w->p
 * on entry). Nothing is written on error (P2PQ_ERR_NOBUF / P2PQ_ERR_INVALID_ARG). */
int p2pq_pkt_write_long(p2pq_wr *w, p2pq_pkt_type type, uint32_t version, const p2pq_cid *dcid,
                        const p2pq_cid *scid, const uint8_t *token, size_t token_len,
                        uint32_t pn_trunc, size_t pn_len, size_t *length_offset,
                        size_t *pn_offset);
/* Fills the 2-byte Length varint; length_value (packet number + payload + AEAD
 * tag) must be below 16384. */
void p2pq_pkt_patch_length(uint8_t *pkt, size_t length_offset, size_t length_value);
/* Bytes a long header takes (type byte through the packet number). */
size_t p2pq_pkt_long_hdr_len(p2pq_pkt_type type, const p2pq_cid *dcid, const p2pq_cid *scid,
                             size_t token_len, size_t pn_len);

int p2pq_pkt_write_short(p2pq_wr *w, const p2pq_cid *dcid, int spin, int key_phase,
                         uint32_t pn_trunc, size_t pn_len, size_t *pn_offset);
/* Version Negotiation: dcid/scid as they go on the wire (the client's SCID and
 * DCID swapped by the caller); random_byte fills the 7 unused bits. */
int p2pq_pkt_write_vn(p2pq_wr *w, const p2pq_cid *dcid, const p2pq_cid *scid,
                      const uint32_t *versions, size_t n, uint8_t random_byte);
/* Retry without its integrity tag; the caller computes and appends the tag. */
int p2pq_pkt_write_retry(p2pq_wr *w, uint32_t version, const p2pq_cid *dcid, const p2pq_cid *scid,
                         const uint8_t *token, size_t token_len);

/* Full packet number from a truncated one (RFC 9000 A.3). largest_pn is the
 * largest packet number received so far in the space (UINT64_MAX = none). */
uint64_t p2pq_pkt_decode_pn(uint64_t largest_pn, uint64_t truncated, size_t pn_nbits);
/* Bytes (1..4) to encode pn given the largest acknowledged (UINT64_MAX = none);
 * RFC 9000 A.2. */
size_t p2pq_pkt_pn_len(uint64_t pn, uint64_t largest_acked);

#endif
