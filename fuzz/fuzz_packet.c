/* Packet header parser: byte 0 picks our short-header CID length, the rest is
 * a datagram walked packet by packet (coalesced long headers). Parsed fields
 * must stay inside the input, and re-writing a parsed long header must parse
 * back to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quic/packet.h"

static void check_rewrite(const uint8_t *p, const p2pq_pkt_hdr *h) {
  uint8_t buf[128];
  p2pq_wr w;
  p2pq_pkt_hdr g;
  size_t loff, pnoff, pn_len = (size_t)(p[0] & 3) + 1;
  p2pq_wr_init(&w, buf, sizeof(buf));
  if (p2pq_pkt_write_long(&w, h->type, h->version, &h->dcid, &h->scid, h->token,
                          h->token_len, 0, pn_len, &loff, &pnoff) != 0)
    return; /* token too long for buf */
  p2pq_pkt_patch_length(buf, loff, pn_len);
  if (p2pq_pkt_parse(buf, (size_t)(w.p - buf), 0, &g) != 0)
    abort();
  if (g.type != h->type || !p2pq_cid_equal(&g.dcid, &h->dcid) ||
      !p2pq_cid_equal(&g.scid, &h->scid) || g.token_len != h->token_len ||
      (g.token_len && memcmp(g.token, h->token, g.token_len)))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0, dcid_len;
  p2pq_cid c;
  if (size < 1)
    return 0;
  dcid_len = data[0] % (P2PQ_MAX_CIDLEN + 1);
  data++;
  size--;
  while (off < size) {
    p2pq_pkt_hdr h;
    const uint8_t *p = data + off;
    size_t left = size - off;
    int rc = p2pq_pkt_parse(p, left, dcid_len, &h);
    if (rc == 0 && p2pq_pkt_peek_dcid(p, left, dcid_len, &c) == 0 &&
        !p2pq_cid_equal(&c, &h.dcid))
      abort();
    if (rc != 0)
      break;
    if (h.pkt_len == 0 || h.pkt_len > left || h.pn_offset > h.pkt_len)
      abort();
    if (h.token && (h.token < p || h.token + h.token_len > p + left))
      abort();
    if (h.type == P2PQ_PKT_VN && h.vn_versions + 4 * h.vn_count != p + left)
      abort();
    if (h.type == P2PQ_PKT_RETRY && h.retry_tag + P2PQ_RETRY_TAG_LEN != p + left)
      abort();
    if (h.type == P2PQ_PKT_INITIAL || h.type == P2PQ_PKT_0RTT || h.type == P2PQ_PKT_HANDSHAKE)
      check_rewrite(p, &h);
    /* packet numbers: decode of the encoding of a nearby pn is exact */
    if (h.pn_offset + 4 <= left) {
      uint64_t largest = ((uint64_t)p[h.pn_offset] << 24 | (uint64_t)p[h.pn_offset + 1] << 16 |
                          (uint64_t)p[h.pn_offset + 2] << 8 | p[h.pn_offset + 3]);
      uint64_t pn = largest + 1 + (p[0] & 0x3f);
      size_t n = p2pq_pkt_pn_len(pn, largest);
      if (p2pq_pkt_decode_pn(largest, pn & ((1ull << (8 * n)) - 1), 8 * n) != pn)
        abort();
    }
    off += h.pkt_len;
  }
  return 0;
}
