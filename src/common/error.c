#include "p2pq/error.h"

const char *p2pq_strerror(int err) {
  switch (err) {
  case P2PQ_OK: return "success";
  case P2PQ_ERR_NOMEM: return "out of memory";
  case P2PQ_ERR_INVALID_ARG: return "invalid argument";
  case P2PQ_ERR_NOBUF: return "output buffer too small";
  case P2PQ_ERR_TRUNCATED: return "input truncated";
  case P2PQ_ERR_MALFORMED: return "malformed input";
  case P2PQ_ERR_UNSUPPORTED: return "unsupported";
  case P2PQ_ERR_NOT_FOUND: return "not found";
  case P2PQ_ERR_EXISTS: return "already exists";
  case P2PQ_ERR_AGAIN: return "try again later";
  case P2PQ_ERR_TIMEOUT: return "timed out";
  case P2PQ_ERR_IO: return "I/O error";
  case P2PQ_ERR_STATE: return "invalid in current state";
  case P2PQ_ERR_LIMIT: return "limit reached";
  case P2PQ_ERR_CONFIG: return "invalid configuration";
  case P2PQ_ERR_CRYPTO: return "crypto library failure";
  case P2PQ_ERR_DECRYPT: return "decryption failed";
  case P2PQ_ERR_TLS: return "TLS handshake failed";
  case P2PQ_ERR_TLS_ALERT: return "TLS alert";
  case P2PQ_ERR_PEER_AUTH: return "peer authentication failed";
  case P2PQ_ERR_PROTOCOL: return "protocol violation";
  case P2PQ_ERR_FRAME_ENCODING: return "frame encoding error";
  case P2PQ_ERR_TRANSPORT_PARAM: return "transport parameter error";
  case P2PQ_ERR_FLOW_CONTROL: return "flow control error";
  case P2PQ_ERR_STREAM_LIMIT: return "stream limit error";
  case P2PQ_ERR_STREAM_STATE: return "stream state error";
  case P2PQ_ERR_FINAL_SIZE: return "final size error";
  case P2PQ_ERR_CONNECTION_ID_LIMIT: return "connection ID limit error";
  case P2PQ_ERR_KEY_UPDATE: return "key update error";
  case P2PQ_ERR_AEAD_LIMIT: return "AEAD limit reached";
  case P2PQ_ERR_CRYPTO_BUFFER: return "crypto buffer exceeded";
  case P2PQ_ERR_INVALID_TOKEN: return "invalid token";
  case P2PQ_ERR_NO_VIABLE_PATH: return "no viable path";
  case P2PQ_ERR_VERSION_NEGOTIATION: return "no common QUIC version";
  case P2PQ_ERR_CLOSED: return "connection closed";
  case P2PQ_ERR_PEER_CLOSED: return "connection closed by peer";
  case P2PQ_ERR_IDLE_TIMEOUT: return "idle timeout";
  case P2PQ_ERR_STATELESS_RESET: return "stateless reset received";
  case P2PQ_ERR_HANDSHAKE_TIMEOUT: return "handshake timed out";
  case P2PQ_ERR_DRAINING: return "connection draining";
  case P2PQ_ERR_H3: return "HTTP/3 error";
  case P2PQ_ERR_STUN: return "STUN error";
  case P2PQ_ERR_PORTMAP: return "port mapping refused";
  case P2PQ_ERR_NO_GATEWAY: return "no default gateway";
  case P2PQ_ERR_SPOOFED: return "reply did not match request";
  case P2PQ_ERR_AUTH: return "not authorised";
  default: return "unknown error";
  }
}
