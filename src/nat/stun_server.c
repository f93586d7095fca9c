/* Binding server: RFC 8489 6.3.1 request checks, 6.3.1.1 success, 6.3.1.2
 * errors; RFC 5780 7 RESPONSE-ORIGIN, OTHER-ADDRESS, CHANGE-REQUEST. */
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

static int success_response(const p2pq_stun_msg *m, const p2pq_addr *from,
                            const p2pq_stun_server_opts *o, uint8_t *out, size_t cap) {
  p2pq_stun_builder b;
  p2pq_stun_build_init(&b, out, cap, m->method, P2PQ_STUN_SUCCESS, m->txid);
  p2pq_stun_build_xor_addr(&b, P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS, from);
  if (o->local.family)
    p2pq_stun_build_addr(&b, P2PQ_STUN_ATTR_RESPONSE_ORIGIN, &o->local);
  if (o->other.family)
    p2pq_stun_build_addr(&b, P2PQ_STUN_ATTR_OTHER_ADDRESS, &o->other);
  add_trailer(&b, o->software);
  return p2pq_stun_build_finish(&b);
}

int p2pq_stun_server_respond_ex(const uint8_t *req, size_t len, const p2pq_addr *from,
                                const p2pq_stun_server_opts *opts, uint8_t *out, size_t cap,
                                uint32_t *change) {
  static const p2pq_stun_server_opts none;
  static const uint16_t change_attr = P2PQ_STUN_ATTR_CHANGE_REQUEST;
  const p2pq_stun_server_opts *o = opts ? opts : &none;
  p2pq_stun_msg m;
  uint16_t method;
  uint8_t cls;
  int rc;
  if (change)
    *change = 0;
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
    return error_response(req, method, 400, "Bad Request", NULL, 0, o->software, out, cap);
  if (m.n_unknown_required)
    return error_response(req, method, 420, "Unknown Attribute", m.unknown_required,
                          m.n_unknown_required, o->software, out, cap);
  if (method != P2PQ_STUN_METHOD_BINDING)
    return error_response(req, method, 400, "Bad Request", NULL, 0, o->software, out, cap);
  if ((m.present & P2PQ_STUN_HAS_CHANGE_REQUEST) &&
      (m.change_request & (P2PQ_STUN_CHANGE_IP | P2PQ_STUN_CHANGE_PORT))) {
    if (!o->other.family || !change)
      return error_response(req, method, 420, "Unknown Attribute", &change_attr, 1,
                            o->software, out, cap);
    *change = m.change_request & (P2PQ_STUN_CHANGE_IP | P2PQ_STUN_CHANGE_PORT);
  }
  return success_response(&m, from, o, out, cap);
}

int p2pq_stun_server_respond(const uint8_t *req, size_t len, const p2pq_addr *from,
                             const char *software, uint8_t *out, size_t cap) {
  p2pq_stun_server_opts o;
  memset(&o, 0, sizeof(o));
  o.software = software;
  return p2pq_stun_server_respond_ex(req, len, from, &o, out, cap, NULL);
}
