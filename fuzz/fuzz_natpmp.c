/* NAT-PMP response parser. Invariant: parse -> build -> parse is stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/natpmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  p2pq_natpmp_resp r, back;
  uint8_t out[16];
  size_t n;
  if (p2pq_natpmp_parse_response(data, size, &r) != 0)
    return 0;
  if (p2pq_natpmp_build_response(&r, out, sizeof(out), &n) != 0 ||
      p2pq_natpmp_parse_response(out, n, &back) != 0)
    abort();
  if (back.op != r.op || back.result != r.result || back.epoch != r.epoch ||
      back.has_body != r.has_body || back.internal_port != r.internal_port ||
      back.external_port != r.external_port || back.lifetime != r.lifetime ||
      memcmp(back.external_ip, r.external_ip, 4) != 0)
    abort();
  return 0;
}
