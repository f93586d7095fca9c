/* Receive buffer: arbitrary (offset, len, fin) fragments, RESET final sizes,
 * limit raises and reads. Fragment bytes are a function of their offset, so
 * every byte read back must match it; never crashes or over-reads.
 *
 * Input: records of  op:u8  off:varint  len:u16  (op bit 0 = fin, bits 1-2 =
 * kind: 0 insert, 1 read len bytes (bit 0: zero-copy peek + consume), 2 final
 * size = off, 3 raise limit by off). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "p2pq/error.h"
#include "quic/recvbuf.h"

static uint8_t pat(uint64_t off) { return (uint8_t)((off * 167) ^ (off >> 11)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t frag[65536], out[65536];
  p2pq_recvbuf rb;
  p2pq_rd r;
  uint64_t expect = 0;
  p2pq_rd_init(&r, data, size);
  p2pq_recvbuf_init(&rb, 1 << 20);
  for (;;) {
    uint8_t op;
    uint64_t off;
    uint16_t len;
    if (p2pq_rd_u8(&r, &op) || p2pq_rd_varint(&r, &off) || p2pq_rd_u16(&r, &len))
      break;
    switch ((op >> 1) & 3) {
    case 0: {
      uint64_t before = rb.max_off, fs = rb.final_size;
      int rc;
      for (size_t i = 0; i < len; i++)
        frag[i] = pat(off + i);
      rc = p2pq_recvbuf_insert(&rb, off, frag, len, op & 1);
      if (rc && (rb.max_off != before || rb.final_size != fs))
        abort(); /* errors leave the buffer unchanged */
      if (rc != 0 && rc != P2PQ_ERR_FINAL_SIZE && rc != P2PQ_ERR_FLOW_CONTROL)
        abort();
      break;
    }
    case 1: {
      const uint8_t *p = out;
      size_t n;
      if (op & 1) { /* zero-copy: peek, check, consume part of it */
        p2pq_recvbuf_peek(&rb, &p, &n);
        if (n > len)
          n = len;
      } else {
        n = p2pq_recvbuf_read(&rb, out, len);
      }
      for (size_t i = 0; i < n; i++)
        if (p[i] != pat(expect + i))
          abort();
      if (op & 1)
        p2pq_recvbuf_consume(&rb, n);
      expect += n;
      break;
    }
    case 2:
      (void)p2pq_recvbuf_final(&rb, off);
      break;
    default:
      p2pq_recvbuf_set_limit(&rb, rb.limit + (off & 0xfffff));
      break;
    }
    if (rb.contig > rb.max_off || rb.read_off > rb.contig || rb.max_off > rb.limit)
      abort();
    if (rb.read_off != expect)
      abort();
  }
  p2pq_recvbuf_clear(&rb);
  return 0;
}
