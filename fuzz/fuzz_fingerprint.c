/* Fingerprint text parser and the DER SubjectPublicKeyInfo / certificate
 * fingerprinting: anything either parses (and formats back to the same
 * bytes) or is rejected. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char s[128], out[P2PQ_FINGERPRINT_STRLEN];
  uint8_t fp[32], back[32];
  if (size < sizeof(s)) {
    memcpy(s, data, size);
    s[size] = '\0';
    if (p2pq_fingerprint_parse(s, fp) == 0) {
      p2pq_fingerprint_format(fp, out);
      if (p2pq_fingerprint_parse(out, back) != 0 || memcmp(fp, back, 32) != 0)
        abort();
    }
  }
  (void)p2pq_fingerprint_from_spki_der(data, size, fp);
  (void)p2pq_fingerprint_from_cert_der(data, size, fp);
  return 0;
}
