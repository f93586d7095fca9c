/* Binding server: RFC 8489 6.3.1 request checks, 6.3.1.1 success, 6.3.1.2 errors. */
#include <string.h>

#include "nat/stun.h"
#include "nat/stun_server.h"
#include "p2pq/error.h"

static void add_trailer(p2pq_stun_builder *b, const char *software) {
  if (software)
    p2pq_stun_build_attr(b, P2PQ_STUN_ATTR_SOFTWARE, software, strlen(software));
  p2pq_stun_build_fingerprint(b);
}

static int error_response(const uint8_t *req, uint16_t method, uint16_t code,
                          const char *reason, const uint16_t *unknown, size_t n_unknown,
                          const char *software, uint8_t *out, size_t cap) {
  p2pq_stun_builder b;
  p2pq_stun_build_init(&b, out, cap, method, P2PQ_STUN_ERROR, req + 8);
  p2pq_stun_build_error(&b, code, reason);
  if (n_unknown)
    p2pq_stun_build_unknown(&b, unknown, n_unknown);
  add_trailer(&b, software);
  return p2pq_stun_build_finish(&b);
}

int p2pq_stun_server_respond(const uint8_t *req, size_t len, const p2pq_addr *from,
                             const char *software, uint8_t *out, size_t cap) {
  p2pq_stun_msg m;
  p2pq_stun_builder b;
  uint16_t method;
  uint8_t cls;
  int rc;
  if (!req || !from || !out)
    return P2PQ_ERR_INVALID_ARG;
  if (p2pq_stun_check_header(req, len) != 0)
    return 0; /* not STUN: silently discarded */
  p2pq_stun_type_split((uint16_t)((req[0] << 8) | req[1]), &method, &cls);
  if (cls != P2PQ_STUN_REQUEST)
    return 0; /* indications need no answer; responses are not ours */
  rc = p2pq_stun_decode(&m, req, len);
  if (rc == P2PQ_ERR_STUN)
    return 0; /* bad FINGERPRINT: not STUN after all */
  if (rc)
    return error_response(req, method, 400, "Bad Request", NULL, 0, software, out, cap);
  if (m.n_unknown_required)
    return error_response(req, method, 420, "Unknown Attribute", m.unknown_required,
                          m.n_unknown_required, software, out, cap);
  if (method != P2PQ_STUN_METHOD_BINDING)
    return error_response(req, method, 400, "Bad Request", NULL, 0, software, out, cap);
  p2pq_stun_build_init(&b, out, cap, method, P2PQ_STUN_SUCCESS, m.txid);
  p2pq_stun_build_xor_addr(&b, P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS, from);
  add_trailer(&b, software);
  return p2pq_stun_build_finish(&b);
}
