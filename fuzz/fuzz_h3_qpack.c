/* QPACK decoder on arbitrary input: the first byte splits the rest into
 * encoder-stream instructions and one field section. Invariants: no crash,
 * leak or over-read; a decoded section stays within the size limit; an error
 * is always an H3 code. */
#include <stdint.h>
#include <stdlib.h>

#include "h3/qpack.h"
#include "p2pq/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  p2pq_h3_qdec *d;
  p2pq_h3_fields f = {0};
  p2pq_h3_qsec *sec = NULL;
  p2pq_h3_bytes ds = {0};
  uint64_t err = 0;
  size_t split;
  int rc;
  if (size < 1)
    return 0;
  split = data[0] < size - 1 ? data[0] : size - 1;
  if (p2pq_h3_qdec_new(&d, 4096, 4) < 0)
    return 0;
  rc = p2pq_h3_qdec_read_encoder(d, data + 1, split, &err);
  if (rc == 0) {
    rc = p2pq_h3_qdec_decode(d, 0, &sec, data + 1 + split, size - 1 - split, 8192, &f, &err);
    if (rc == 0 && f.size > 8192)
      abort();
    if (rc == P2PQ_ERR_H3 && err != P2PQ_H3_QPACK_DECOMPRESSION_FAILED &&
        err != P2PQ_H3_EXCESSIVE_LOAD)
      abort();
    if (rc == 1) {
      p2pq_h3_qsec_free(sec);
      p2pq_h3_qdec_cancel(d, 0);
    }
  } else if (rc == P2PQ_ERR_H3 && err != P2PQ_H3_QPACK_ENCODER_STREAM_ERROR) {
    abort();
  }
  p2pq_h3_qdec_flush(d, &ds);
  p2pq_h3_bytes_clear(&ds);
  p2pq_h3_fields_clear(&f);
  p2pq_h3_qdec_free(d);
  return 0;
}
