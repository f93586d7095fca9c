/* The simulator's reflector codec (what its STUN-like servers answer): any
 * input decodes or is rejected; a decoded address encodes back to the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  p2pq_addr a, b;
  uint8_t out[64];
  size_t n;
  if (sim_reflect_decode(data, size, &a) != 0)
    return 0;
  n = sim_reflect_encode(&a, out, sizeof(out));
  if (n == 0 || sim_reflect_decode(out, n, &b) != 0 || !p2pq_addr_equal(&a, &b))
    abort();
  return 0;
}
