/* Address-string parser: any input either parses to an address that formats
 * and parses back to itself, or is rejected. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2pq/types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char s[128], out[P2PQ_ADDR_STRLEN];
  p2pq_addr a, b;
  if (size >= sizeof(s))
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  if (p2pq_addr_parse(&a, s, -1) != 0)
    return 0;
  p2pq_addr_format(&a, out, sizeof(out));
  if (p2pq_addr_parse(&b, out, -1) != 0 || !p2pq_addr_equal(&a, &b))
    abort();
  return 0;
}
