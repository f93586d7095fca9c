/* Frame decoder: decode a payload frame by frame until the end or an error;
 * every decoded frame must re-encode (with the size the encoder predicts) and
 * decode back to the same type; ACK ranges must iterate without error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quic/frame.h"

static void check_frame(const p2pq_frame *f, size_t in_len) {
  uint8_t *buf = malloc(in_len + 16);
  p2pq_wr w;
  p2pq_rd r;
  p2pq_frame g;
  size_t n;
  if (!buf)
    return;
  p2pq_wr_init(&w, buf, in_len + 16);
  if (p2pq_frame_encode(&w, f) != 0)
    abort();
  n = (size_t)(w.p - buf);
  if (n != p2pq_frame_encoded_len(f) || n > in_len)
    abort();
  p2pq_rd_init(&r, buf, n);
  if (p2pq_frame_decode(&r, &g) != 0 || p2pq_rd_left(&r) != 0)
    abort();
  if (p2pq_frame_name(g.type) != p2pq_frame_name(f->type))
    abort();
  if (f->type == P2PQ_FT_ACK || f->type == P2PQ_FT_ACK_ECN) {
    p2pq_ack_iter it;
    uint64_t s, l, count = 0, prev = UINT64_MAX;
    int rc;
    p2pq_ack_iter_init(&it, f);
    while ((rc = p2pq_ack_iter_next(&it, &s, &l)) == 1) {
      if (s > l || l >= prev)
        abort();
      prev = s;
      count++;
    }
    if (rc != 0 || count != f->u.ack.range_count + 1)
      abort();
  }
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  p2pq_rd r;
  p2pq_rd_init(&r, data, size);
  while (p2pq_rd_left(&r)) {
    p2pq_frame f;
    const uint8_t *start = r.p;
    if (p2pq_frame_decode(&r, &f) != 0) {
      if (r.p != start)
        abort();
      break;
    }
    check_frame(&f, (size_t)(r.p - start));
  }
  return 0;
}
