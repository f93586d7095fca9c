/* p2pquic QUIC v1 API: a sans-I/O endpoint that owns many connections.
 *
 * The endpoint never reads a clock, a socket or a random source. The caller
 * (the runtime in src/io/, or the simulator in tests/sim/) does:
 *   - datagrams in:  p2pq_endpoint_recv(ep, data, len, &local, &remote, ecn, now)
 *   - datagrams out: p2pq_endpoint_send(ep, buf, cap, &out, now) until it returns 0
 *   - timers:        p2pq_endpoint_next_timeout(ep), p2pq_endpoint_on_timeout(ep, now)
 *   - events:        p2pq_endpoint_poll_event(ep, &ev) after each of the above
 * and randomness comes from config.rand. */
#ifndef P2PQ_QUIC_H
#define P2PQ_QUIC_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/error.h"
#include "p2pq/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct p2pq_endpoint p2pq_endpoint;
typedef struct p2pq_conn p2pq_conn;
struct p2pq_creds;

/* Transport settings for every connection of an endpoint. Zero fields take the
 * defaults given in comments (p2pq_settings_default fills them in). */
typedef struct p2pq_settings {
  uint64_t initial_max_data;          /* 1 MiB; auto-tuned up to max_data_window */
  uint64_t initial_max_stream_data;   /* 256 KiB; auto-tuned up to max_stream_window */
  uint64_t max_data_window;           /* 24 MiB */
  uint64_t max_stream_window;         /* 16 MiB */
  uint64_t initial_max_streams_bidi;  /* 100 */
  uint64_t initial_max_streams_uni;   /* 100 */
  uint64_t idle_timeout_ms;           /* 30000 */
  uint64_t handshake_timeout_ms;      /* 10000 */
  uint64_t max_datagram_frame_size;   /* 0: DATAGRAM off; else RFC 9221 limit */
  uint64_t max_ack_delay_ms;          /* 25 */
  uint64_t active_cid_limit;          /* 4 */
  uint64_t initial_rtt_ms;            /* 333 */
  size_t max_udp_payload;             /* 1452: largest datagram we will probe for */
  const char *cc;                     /* "cubic" (default) or "newreno" */
  int disable_active_migration;
  int address_discovery;              /* -1 off, else draft mode 0/1/2 (see quic/tparams.h) */
  int retry;                          /* server: require address validation (Retry) */
  int disable_pmtud;
} p2pq_settings;

void p2pq_settings_default(p2pq_settings *s);

typedef struct p2pq_config {
  int is_server;
  p2pq_rand_fn rand;
  void *rand_user;
  const struct p2pq_creds *creds; /* see src/crypto/cert.h */
  const char *const *alpn;        /* ALPN list (client: offered; server: accepted) */
  size_t n_alpn;
  p2pq_settings settings;
  size_t cid_len;                 /* length of our connection IDs: 8 if 0 */
  uint64_t max_connections;       /* server: refuse new beyond this (default 1024) */
  /* Observability hooks (may be NULL). keylog gets NSS key-log lines; qlog gets
   * one JSON-SEQ record (RS ... LF included) per call for the given connection. */
  void (*keylog)(void *user, const char *line);
  void (*qlog)(void *user, p2pq_conn *c, const char *record, size_t len);
  void *hook_user;
  int qlog_enabled;
  /* Datagrams that are not QUIC (first byte 0..63: STUN and the like, RFC 9443
   * demultiplexing) go here instead of being dropped; the hook may answer with
   * p2pq_endpoint_queue_raw. */
  void (*on_other)(void *user, p2pq_endpoint *ep, const uint8_t *data, size_t len,
                   const p2pq_addr *local, const p2pq_addr *remote, p2pq_tstamp now);
  void *other_user;
} p2pq_config;

int p2pq_endpoint_new(p2pq_endpoint **out, const p2pq_config *cfg);
void p2pq_endpoint_free(p2pq_endpoint *ep);

/* The same without a copy: data is decrypted in place and its contents are
 * unspecified afterwards (the runtime's receive buffers). */
int p2pq_endpoint_recv_inplace(p2pq_endpoint *ep, uint8_t *data, size_t len,
                               const p2pq_addr *local, const p2pq_addr *remote, int ecn,
                               p2pq_tstamp now);

/* Queues a datagram that is not QUIC (e.g. a STUN response) to go out through
 * p2pq_endpoint_send; bounded, P2PQ_ERR_AGAIN when full. */
int p2pq_endpoint_queue_raw(p2pq_endpoint *ep, const uint8_t *data, size_t len,
                            const p2pq_addr *local, const p2pq_addr *remote);

/* ECN codepoint of a received / to-be-sent datagram (IP TOS low two bits). */
enum { P2PQ_ECN_NOT = 0, P2PQ_ECN_ECT1 = 1, P2PQ_ECN_ECT0 = 2, P2PQ_ECN_CE = 3 };

/* Feeds one received UDP datagram. Returns 0 or an error for datagrams that were
 * dropped as a whole (the endpoint keeps running either way). */
int p2pq_endpoint_recv(p2pq_endpoint *ep, const uint8_t *data, size_t len,
                       const p2pq_addr *local, const p2pq_addr *remote, int ecn,
                       p2pq_tstamp now);

typedef struct p2pq_tx {
  p2pq_addr local;   /* source address to send from (family 0: any) */
  p2pq_addr remote;  /* destination */
  int ecn;           /* codepoint to set */
  size_t segment;    /* GSO: buf holds segments of this size (last may be shorter) */
} p2pq_tx;

/* Writes the next datagram(s) to send into buf: returns its length, 0 when
 * nothing is to be sent now, or an error. With gso_max > 1 several datagrams of
 * equal size to the same destination may be returned at once (tx->segment). */
int p2pq_endpoint_send(p2pq_endpoint *ep, uint8_t *buf, size_t cap, size_t gso_max,
                       p2pq_tx *tx, p2pq_tstamp now);

/* The earliest time at which p2pq_endpoint_on_timeout must be called, or
 * P2PQ_TSTAMP_MAX. */
p2pq_tstamp p2pq_endpoint_next_timeout(p2pq_endpoint *ep);
void p2pq_endpoint_on_timeout(p2pq_endpoint *ep, p2pq_tstamp now);

/* Client: starts a connection. sni may be NULL. */
int p2pq_endpoint_connect(p2pq_endpoint *ep, p2pq_conn **out, const p2pq_addr *local,
                          const p2pq_addr *remote, const char *sni, p2pq_tstamp now);

typedef enum p2pq_event_type {
  P2PQ_EV_NONE = 0,
  P2PQ_EV_CONN_NEW,        /* server: a peer started a connection */
  P2PQ_EV_CONNECTED,       /* handshake complete (1-RTT keys, peer verified) */
  P2PQ_EV_STREAM_OPENED,   /* peer opened stream_id */
  P2PQ_EV_STREAM_READABLE, /* data (or FIN) is ready on stream_id */
  P2PQ_EV_STREAM_WRITABLE, /* send window opened again on stream_id */
  P2PQ_EV_STREAM_RESET,    /* peer reset stream_id (error_code) */
  P2PQ_EV_STREAM_STOP,     /* peer asked us to stop sending on stream_id */
  P2PQ_EV_DATAGRAM,        /* a DATAGRAM frame arrived: read with p2pq_conn_recv_datagram */
  P2PQ_EV_PATH_VALIDATED,  /* a new path passed validation */
  P2PQ_EV_MIGRATED,        /* the active path changed */
  P2PQ_EV_OBSERVED_ADDRESS,/* the peer told us how our address looks (addr) */
  P2PQ_EV_CLOSED,          /* connection is gone; error holds why; free after */
  P2PQ_EV_STREAMS_AVAILABLE, /* the peer raised MAX_STREAMS: open_stream may work again
                                (stream_id: 0 bidi, 1 uni) */
} p2pq_event_type;

typedef struct p2pq_event {
  p2pq_event_type type;
  p2pq_conn *conn;
  uint64_t stream_id;
  uint64_t error_code; /* application / transport error code on the wire */
  int error;           /* P2PQ_ERR_* for CLOSED */
  p2pq_addr addr;
} p2pq_event;

/* Pops one event; returns 1 if ev was filled, 0 if the queue is empty. */
int p2pq_endpoint_poll_event(p2pq_endpoint *ep, p2pq_event *ev);

/* Connection. */
void p2pq_conn_set_user(p2pq_conn *c, void *user);
void *p2pq_conn_user(const p2pq_conn *c);
int p2pq_conn_is_established(const p2pq_conn *c);
const char *p2pq_conn_alpn(const p2pq_conn *c);
int p2pq_conn_peer_fingerprint(const p2pq_conn *c, uint8_t out[32]);
/* Closes with an application error code (or transport error when app == 0). */
int p2pq_conn_close(p2pq_conn *c, int app, uint64_t error_code, const char *reason,
                    p2pq_tstamp now);
/* Releases a connection after P2PQ_EV_CLOSED (or aborts it silently). */
void p2pq_conn_free(p2pq_conn *c);
/* Starts a key update (RFC 9001 section 6). */
int p2pq_conn_key_update(p2pq_conn *c, p2pq_tstamp now);
/* Client: migrates to a new local address (active migration, RFC 9000 9). */
int p2pq_conn_migrate(p2pq_conn *c, const p2pq_addr *new_local, p2pq_tstamp now);

typedef struct p2pq_conn_stats {
  uint64_t bytes_sent, bytes_recv, pkts_sent, pkts_recv, pkts_lost, pkts_dropped;
  uint64_t srtt_ns, min_rtt_ns, cwnd, key_updates, paths_validated;
  uint64_t pmtu;
} p2pq_conn_stats;
void p2pq_conn_get_stats(const p2pq_conn *c, p2pq_conn_stats *st);

/* Streams. */
int p2pq_conn_open_stream(p2pq_conn *c, int bidi, uint64_t *stream_id);
/* Queues up to len bytes; returns the number accepted (may be less than len
 * when the send buffer limit is reached) or an error. fin ends the stream
 * after these bytes (only if all were accepted). */
int64_t p2pq_stream_write(p2pq_conn *c, uint64_t stream_id, const uint8_t *data, size_t len,
                          int fin);
/* Reads up to cap bytes; *fin set when the end of stream was reached. Returns
 * bytes read (0 when nothing is ready) or an error. */
int64_t p2pq_stream_read(p2pq_conn *c, uint64_t stream_id, uint8_t *buf, size_t cap,
                         int *fin);
int p2pq_stream_reset(p2pq_conn *c, uint64_t stream_id, uint64_t error_code);
int p2pq_stream_stop_sending(p2pq_conn *c, uint64_t stream_id, uint64_t error_code);

/* DATAGRAM (RFC 9221). */
int p2pq_conn_send_datagram(p2pq_conn *c, const uint8_t *data, size_t len);
int64_t p2pq_conn_recv_datagram(p2pq_conn *c, uint8_t *buf, size_t cap);

/* Address discovery: the address the peer observed for our active path. */
int p2pq_conn_observed_address(const p2pq_conn *c, p2pq_addr *out);

#ifdef __cplusplus
}
#endif
#endif
