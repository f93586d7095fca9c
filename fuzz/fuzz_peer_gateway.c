/* libFuzzer: /proc/net/route and /proc/net/ipv6_route parsers. */
#include <stddef.h>
#include <stdint.h>

#include "peer/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  p2pq_gateway g;
  (void)p2pq_gateway_parse_route4(data, size, &g);
  (void)p2pq_gateway_parse_route6(data, size, &g);
  return 0;
}
