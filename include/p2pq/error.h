/* p2pquic error codes: negative ints, 0 is success. */
#ifndef P2PQ_ERROR_H
#define P2PQ_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  P2PQ_OK = 0,
  /* generic */
  P2PQ_ERR_NOMEM = -1,          /* allocation failed */
  P2PQ_ERR_INVALID_ARG = -2,    /* caller passed a bad argument */
  P2PQ_ERR_NOBUF = -3,          /* output buffer too small */
  P2PQ_ERR_TRUNCATED = -4,      /* input ends before the structure does */
  P2PQ_ERR_MALFORMED = -5,      /* input is syntactically invalid */
  P2PQ_ERR_UNSUPPORTED = -6,    /* valid but not supported (version, type, ...) */
  P2PQ_ERR_NOT_FOUND = -7,      /* no such object */
  P2PQ_ERR_EXISTS = -8,         /* object already exists */
  P2PQ_ERR_AGAIN = -9,          /* nothing to do now; retry later */
  P2PQ_ERR_TIMEOUT = -10,       /* gave up waiting */
  P2PQ_ERR_IO = -11,            /* operating-system I/O error (runtime only) */
  P2PQ_ERR_STATE = -12,         /* operation not valid in the current state */
  P2PQ_ERR_LIMIT = -13,         /* a configured bound was reached */
  P2PQ_ERR_CONFIG = -14,        /* invalid configuration */
  /* crypto / TLS */
  P2PQ_ERR_CRYPTO = -20,        /* crypto library failure */
  P2PQ_ERR_DECRYPT = -21,       /* AEAD authentication failed */
  P2PQ_ERR_TLS = -22,           /* TLS handshake failed */
  P2PQ_ERR_TLS_ALERT = -23,     /* peer or local TLS alert */
  P2PQ_ERR_PEER_AUTH = -24,     /* peer identity did not verify */
  /* QUIC transport (map to RFC 9000 error codes on the wire) */
  P2PQ_ERR_PROTOCOL = -30,          /* PROTOCOL_VIOLATION */
  P2PQ_ERR_FRAME_ENCODING = -31,    /* FRAME_ENCODING_ERROR */
  P2PQ_ERR_TRANSPORT_PARAM = -32,   /* TRANSPORT_PARAMETER_ERROR */
  P2PQ_ERR_FLOW_CONTROL = -33,      /* FLOW_CONTROL_ERROR */
  P2PQ_ERR_STREAM_LIMIT = -34,      /* STREAM_LIMIT_ERROR */
  P2PQ_ERR_STREAM_STATE = -35,      /* STREAM_STATE_ERROR */
  P2PQ_ERR_FINAL_SIZE = -36,        /* FINAL_SIZE_ERROR */
  P2PQ_ERR_CONNECTION_ID_LIMIT = -37, /* CONNECTION_ID_LIMIT_ERROR */
  P2PQ_ERR_KEY_UPDATE = -38,        /* KEY_UPDATE_ERROR */
  P2PQ_ERR_AEAD_LIMIT = -39,        /* AEAD_LIMIT_REACHED */
  P2PQ_ERR_CRYPTO_BUFFER = -40,     /* CRYPTO_BUFFER_EXCEEDED */
  P2PQ_ERR_INVALID_TOKEN = -41,     /* INVALID_TOKEN */
  P2PQ_ERR_NO_VIABLE_PATH = -42,    /* NO_VIABLE_PATH */
  P2PQ_ERR_VERSION_NEGOTIATION = -43, /* no common version */
  /* connection life */
  P2PQ_ERR_CLOSED = -50,        /* connection closed locally */
  P2PQ_ERR_PEER_CLOSED = -51,   /* peer closed the connection */
  P2PQ_ERR_IDLE_TIMEOUT = -52,  /* idle timeout expired */
  P2PQ_ERR_STATELESS_RESET = -53, /* peer sent a stateless reset */
  P2PQ_ERR_HANDSHAKE_TIMEOUT = -54,
  P2PQ_ERR_DRAINING = -55,      /* connection is draining */
  /* application protocols */
  P2PQ_ERR_H3 = -60,            /* HTTP/3 error (detail in the H3 layer) */
  P2PQ_ERR_STUN = -61,          /* STUN error response or bad message */
  P2PQ_ERR_PORTMAP = -62,       /* router refused the port mapping */
  P2PQ_ERR_NO_GATEWAY = -63,    /* no default gateway found */
  P2PQ_ERR_SPOOFED = -64,       /* reply from wrong source / transaction / nonce */
  P2PQ_ERR_AUTH = -65,          /* request not authorised */
};

/* Human-readable text for an error code; never NULL. */
const char *p2pq_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
