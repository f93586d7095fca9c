/* PCP response and request parsers. Invariant: a parsed MAP response rebuilt
 * by the builder parses back to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/pcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  p2pq_pcp_resp r, back;
  p2pq_pcp_map_req q;
  uint8_t op, out[128];
  size_t n;
  if (p2pq_pcp_parse_response(data, size, &r) == 0) {
    if (p2pq_pcp_build_response(&r, out, sizeof(out), &n) != 0 ||
        p2pq_pcp_parse_response(out, n, &back) != 0)
      abort();
    if (back.result != r.result || back.lifetime != r.lifetime || back.epoch != r.epoch ||
        back.has_map != r.has_map || back.opcode != r.opcode)
      abort();
    if (r.has_map && (memcmp(back.nonce, r.nonce, 12) != 0 ||
                      back.internal_port != r.internal_port ||
                      !p2pq_addr_equal(&back.external, &r.external)))
      abort();
  }
  p2pq_pcp_parse_request(data, size, &op, &q);
  return 0;
}
