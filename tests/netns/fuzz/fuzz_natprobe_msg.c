/* libFuzzer target for natprobe's message decoder (tests/netns/probe_msg.c):
 * anything that decodes must encode back to the same bytes. Built by hand (the
 * fuzz/ build does not include tests/), see docs/lab.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  p2pq_probe_msg m;
  uint8_t out[P2PQ_PROBE_MAX_LEN];
  int n;

  if (p2pq_probe_decode(data, size, &m) != 0)
    return 0;
  n = p2pq_probe_encode(&m, out, sizeof(out));
  if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0)
    abort();
  return 0;
}
