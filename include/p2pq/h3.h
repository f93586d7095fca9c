/* HTTP/3 (RFC 9114) with QPACK (RFC 9204), extended CONNECT (RFC 9220), HTTP
 * Datagrams and the Capsule Protocol (RFC 9297). Transport-independent and
 * sans-I/O: the application moves stream bytes between this layer and its QUIC
 * connection. Stream IDs follow RFC 9000 numbering; the H3 layer allocates the
 * IDs of the streams it opens (its control and QPACK streams and client requests)
 * in increasing order, so it must be the only user of its connection's streams. */
#ifndef P2PQ_H3_H
#define P2PQ_H3_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/error.h"
#include "p2pq/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HTTP/3 application error codes (RFC 9114 8.1, RFC 9204 6, RFC 9297 5). */
enum {
  P2PQ_H3_NO_ERROR = 0x100,
  P2PQ_H3_GENERAL_PROTOCOL_ERROR = 0x101,
  P2PQ_H3_INTERNAL_ERROR = 0x102,
  P2PQ_H3_STREAM_CREATION_ERROR = 0x103,
  P2PQ_H3_CLOSED_CRITICAL_STREAM = 0x104,
  P2PQ_H3_FRAME_UNEXPECTED = 0x105,
  P2PQ_H3_FRAME_ERROR = 0x106,
  P2PQ_H3_EXCESSIVE_LOAD = 0x107,
  P2PQ_H3_ID_ERROR = 0x108,
  P2PQ_H3_SETTINGS_ERROR = 0x109,
  P2PQ_H3_MISSING_SETTINGS = 0x10a,
  P2PQ_H3_REQUEST_REJECTED = 0x10b,
  P2PQ_H3_REQUEST_CANCELLED = 0x10c,
  P2PQ_H3_REQUEST_INCOMPLETE = 0x10d,
  P2PQ_H3_MESSAGE_ERROR = 0x10e,
  P2PQ_H3_CONNECT_ERROR = 0x10f,
  P2PQ_H3_VERSION_FALLBACK = 0x110,
  P2PQ_H3_QPACK_DECOMPRESSION_FAILED = 0x200,
  P2PQ_H3_QPACK_ENCODER_STREAM_ERROR = 0x201,
  P2PQ_H3_QPACK_DECODER_STREAM_ERROR = 0x202,
  P2PQ_H3_DATAGRAM_ERROR = 0x33,
};
/* Name of an H3 error code ("H3_FRAME_ERROR"); "unknown" for others. */
const char *p2pq_h3_errname(uint64_t code);

/* Frame types (RFC 9114 7.2), unidirectional stream types (6.2), settings (7.2.4). */
enum {
  P2PQ_H3_FRAME_DATA = 0x00,
  P2PQ_H3_FRAME_HEADERS = 0x01,
  P2PQ_H3_FRAME_CANCEL_PUSH = 0x03,
  P2PQ_H3_FRAME_SETTINGS = 0x04,
  P2PQ_H3_FRAME_PUSH_PROMISE = 0x05,
  P2PQ_H3_FRAME_GOAWAY = 0x07,
  P2PQ_H3_FRAME_MAX_PUSH_ID = 0x0d,
};
enum {
  P2PQ_H3_STREAM_CONTROL = 0x00,
  P2PQ_H3_STREAM_PUSH = 0x01,
  P2PQ_H3_STREAM_QPACK_ENCODER = 0x02,
  P2PQ_H3_STREAM_QPACK_DECODER = 0x03,
};
enum {
  P2PQ_H3_SETTING_QPACK_MAX_TABLE_CAPACITY = 0x01,
  P2PQ_H3_SETTING_MAX_FIELD_SECTION_SIZE = 0x06,
  P2PQ_H3_SETTING_QPACK_BLOCKED_STREAMS = 0x07,
  P2PQ_H3_SETTING_ENABLE_CONNECT_PROTOCOL = 0x08,
  P2PQ_H3_SETTING_H3_DATAGRAM = 0x33,
};
/* Reserved ("grease") code points 0x1f * N + 0x21 for frame types, stream
 * types and settings; true if v is one. */
int p2pq_h3_is_grease(uint64_t v);

typedef struct p2pq_h3_settings {
  uint64_t qpack_max_table_capacity;
  uint64_t max_field_section_size; /* UINT64_MAX = unlimited (the default) */
  uint64_t qpack_blocked_streams;
  uint8_t enable_connect_protocol; /* 0 or 1 */
  uint8_t h3_datagram;             /* 0 or 1 */
} p2pq_h3_settings;

/* The defaults RFC 9114 7.2.4.2 assumes before SETTINGS arrive. */
void p2pq_h3_settings_default(p2pq_h3_settings *s);

/* A header or trailer field. Names must be lowercase. Decoded fields are also
 * NUL-terminated. */
typedef struct p2pq_h3_field {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} p2pq_h3_field;

/* ---- frame codec (stateless) ---- */

/* A decoded frame. For DATA, HEADERS, PUSH_PROMISE and unknown types the raw
 * payload is in payload/payload_len; for SETTINGS the settings (plus the count
 * of unknown ones skipped); for CANCEL_PUSH, GOAWAY, MAX_PUSH_ID the varint in id. */
typedef struct p2pq_h3_frame {
  uint64_t type;
  const uint8_t *payload;
  size_t payload_len;
  p2pq_h3_settings settings;
  size_t unknown_settings;
  uint64_t id;
} p2pq_h3_frame;

/* Reads a frame header: *hdr_len bytes of type and length. P2PQ_ERR_TRUNCATED
 * if p does not yet hold the whole header. */
int p2pq_h3_frame_header_decode(const uint8_t *p, size_t len, uint64_t *type,
                                uint64_t *payload_len, size_t *hdr_len);
/* Decodes one whole frame from p; *consumed = its size. Errors:
 * P2PQ_ERR_TRUNCATED (need more bytes), P2PQ_ERR_H3 with *h3_err set (a frame
 * that is malformed: H3_FRAME_ERROR, H3_SETTINGS_ERROR). */
int p2pq_h3_frame_decode(const uint8_t *p, size_t len, p2pq_h3_frame *f, size_t *consumed,
                         uint64_t *h3_err);
/* Decodes a SETTINGS payload. P2PQ_ERR_H3 with *h3_err: H3_FRAME_ERROR for a
 * truncated payload, H3_SETTINGS_ERROR for duplicates, HTTP/2-reserved ids or
 * bad values. */
int p2pq_h3_settings_decode(const uint8_t *p, size_t len, p2pq_h3_settings *s,
                            size_t *unknown, uint64_t *h3_err);
/* Encoders write into out[0..cap) and return the length or P2PQ_ERR_NOBUF. */
int p2pq_h3_frame_encode_header(uint8_t *out, size_t cap, uint64_t type, uint64_t payload_len);
/* SETTINGS frame; values equal to the RFC defaults are omitted. grease_id, if
 * non-zero, adds one reserved setting (grease_id, grease_value). */
int p2pq_h3_settings_encode(uint8_t *out, size_t cap, const p2pq_h3_settings *s,
                            uint64_t grease_id, uint64_t grease_value);
/* CANCEL_PUSH, GOAWAY, MAX_PUSH_ID: a frame whose payload is one varint. */
int p2pq_h3_frame_encode_varint(uint8_t *out, size_t cap, uint64_t type, uint64_t v);

/* ---- Capsule Protocol and HTTP Datagrams (RFC 9297) ---- */

enum { P2PQ_H3_CAPSULE_DATAGRAM = 0x00 };

typedef struct p2pq_h3_capsule {
  uint64_t type;
  const uint8_t *value;
  size_t len;
} p2pq_h3_capsule;

/* Decodes one capsule; *consumed its size. P2PQ_ERR_TRUNCATED if incomplete
 * (a malformed message if the stream ended there). */
int p2pq_h3_capsule_decode(const uint8_t *p, size_t len, p2pq_h3_capsule *c, size_t *consumed);
/* Encodes a capsule; returns its length or P2PQ_ERR_NOBUF / INVALID_ARG. */
int p2pq_h3_capsule_encode(uint8_t *out, size_t cap, uint64_t type, const uint8_t *value,
                           size_t len);
/* Scans p for the next DATAGRAM capsule, skipping unknown ones. Returns 1 and
 * sets *payload, *payload_len and *consumed (bytes used, including skipped
 * capsules), 0 with *consumed if only skippable capsules were complete, or
 * P2PQ_ERR_TRUNCATED. */
int p2pq_h3_capsule_next_datagram(const uint8_t *p, size_t len, const uint8_t **payload,
                                  size_t *payload_len, size_t *consumed);
/* HTTP/3 Datagram (QUIC DATAGRAM payload) = Quarter Stream ID + payload. */
int p2pq_h3_datagram_encode(uint8_t *out, size_t cap, int64_t stream_id, const uint8_t *payload,
                            size_t len);
/* Returns 0 with the request stream id and payload, or P2PQ_ERR_H3 with
 * *h3_err = H3_DATAGRAM_ERROR (too short, or quarter stream id > 2^60-1). */
int p2pq_h3_datagram_decode(const uint8_t *p, size_t len, int64_t *stream_id,
                            const uint8_t **payload, size_t *payload_len, uint64_t *h3_err);

/* ---- the connection ---- */

typedef struct p2pq_h3_config {
  int is_server;
  p2pq_h3_settings local;         /* what we advertise */
  uint64_t encoder_table_capacity; /* our QPACK encoder's dynamic table (0 = static only);
                                      used up to the peer's advertised capacity */
  size_t max_frame_size;           /* bound on buffered control-type frames (default 16 KiB) */
  int grease;                      /* send reserved setting and frame (default 1) */
  p2pq_rand_fn rand;               /* optional: picks the grease values */
  void *rand_user;
} p2pq_h3_config;

/* Defaults: blocked streams 16, table capacity 4096 both ways, field section
 * limit 64 KiB, ENABLE_CONNECT_PROTOCOL on a server, H3_DATAGRAM 1, grease on. */
void p2pq_h3_config_default(p2pq_h3_config *cfg, int is_server);

typedef enum p2pq_h3_event_type {
  P2PQ_H3_EV_SETTINGS = 1, /* peer SETTINGS arrived: ev.settings */
  P2PQ_H3_EV_HEADERS,      /* request (server) or response (client) header section */
  P2PQ_H3_EV_DATA,         /* body bytes: ev.data/ev.len */
  P2PQ_H3_EV_TRAILERS,     /* trailer section */
  P2PQ_H3_EV_FIN,          /* the message on ev.stream_id is complete */
  P2PQ_H3_EV_GOAWAY,       /* peer GOAWAY: ev.id; at a client, requests with stream
                              id >= ev.id were not processed and may be retried */
  P2PQ_H3_EV_STREAM_RESET, /* peer reset the stream: ev.error_code */
  P2PQ_H3_EV_STREAM_ERROR, /* stream error: the application must reset ev.stream_id
                              and send STOP_SENDING, both with ev.error_code */
  P2PQ_H3_EV_STOP_READING, /* ignore this unidirectional stream: STOP_SENDING with
                              ev.error_code (unknown stream type) */
  P2PQ_H3_EV_CONN_ERROR,   /* connection error: close QUIC with ev.error_code */
} p2pq_h3_event_type;

typedef struct p2pq_h3_event {
  p2pq_h3_event_type type;
  int64_t stream_id;
  const p2pq_h3_field *fields; /* HEADERS, TRAILERS */
  size_t nfields;
  const uint8_t *data;         /* DATA */
  size_t len;
  uint64_t error_code;         /* H3 code: STREAM_RESET, STREAM_ERROR, STOP_READING, CONN_ERROR */
  uint64_t id;                 /* GOAWAY */
  const p2pq_h3_settings *settings;
} p2pq_h3_event;

typedef struct p2pq_h3_conn p2pq_h3_conn;

/* Creates the connection and queues the control stream (SETTINGS) and the
 * QPACK encoder and decoder streams for sending. */
int p2pq_h3_conn_new(p2pq_h3_conn **out, const p2pq_h3_config *cfg);
void p2pq_h3_conn_free(p2pq_h3_conn *c);

/* Input from the transport. Streams are created on first data; peer-opened
 * unidirectional streams are typed by their first varint. Returns 0, or
 * P2PQ_ERR_H3 once a connection error happened (also reported as an event),
 * P2PQ_ERR_NOMEM, P2PQ_ERR_INVALID_ARG. */
int p2pq_h3_conn_recv(p2pq_h3_conn *c, int64_t stream_id, const uint8_t *data, size_t len,
                      int fin);
/* The peer reset stream_id (RESET_STREAM) with an H3 error code. */
int p2pq_h3_conn_recv_reset(p2pq_h3_conn *c, int64_t stream_id, uint64_t error_code);

/* Next event, valid until the next call; returns 1 with *ev, 0 when none. */
int p2pq_h3_conn_poll_event(p2pq_h3_conn *c, p2pq_h3_event *ev);

/* Output to the transport: a stream with bytes (or a FIN) pending, or -1. */
int64_t p2pq_h3_conn_next_stream(p2pq_h3_conn *c);
/* Copies up to cap pending bytes of stream_id into buf and consumes them;
 * *fin = 1 when these are the last (the stream then ends). Returns the count
 * (0 is possible with *fin = 1) or P2PQ_ERR_AGAIN if nothing is pending. */
int p2pq_h3_conn_send(p2pq_h3_conn *c, int64_t stream_id, uint8_t *buf, size_t cap, int *fin);
/* Bytes still queued on stream_id. */
size_t p2pq_h3_conn_pending(const p2pq_h3_conn *c, int64_t stream_id);

/* Client: opens a request stream with a header section (pseudo-headers first).
 * For extended CONNECT (:protocol) the peer's SETTINGS must have enabled it
 * (else P2PQ_ERR_STATE). end_stream = no body. After a GOAWAY: P2PQ_ERR_CLOSED. */
int p2pq_h3_conn_submit_request(p2pq_h3_conn *c, const p2pq_h3_field *fields, size_t n,
                                int end_stream, int64_t *stream_id);
/* Server: response header section (also 1xx, call again for the final one). */
int p2pq_h3_conn_submit_response(p2pq_h3_conn *c, int64_t stream_id,
                                 const p2pq_h3_field *fields, size_t n, int end_stream);
/* A DATA frame of body (or capsule) bytes; end_stream ends the message. */
int p2pq_h3_conn_send_data(p2pq_h3_conn *c, int64_t stream_id, const uint8_t *data, size_t len,
                           int end_stream);
/* A trailer section; ends the message. */
int p2pq_h3_conn_submit_trailers(p2pq_h3_conn *c, int64_t stream_id,
                                 const p2pq_h3_field *fields, size_t n);
/* Ends the message with no more data. */
int p2pq_h3_conn_end_stream(p2pq_h3_conn *c, int64_t stream_id);
/* The application reset/abandoned stream_id: forget it (and cancel its QPACK state). */
int p2pq_h3_conn_stream_close(p2pq_h3_conn *c, int64_t stream_id);
/* Sends GOAWAY. Server: id = first request stream it will not process
 * (P2PQ_H3_GOAWAY_AUTO: one past the last request seen); client: a push ID
 * (AUTO: 0). Later GOAWAYs must not increase the id. */
#define P2PQ_H3_GOAWAY_AUTO UINT64_MAX
int p2pq_h3_conn_goaway(p2pq_h3_conn *c, uint64_t id);

/* HTTP Datagrams on this connection (RFC 9297). The application carries them
 * in QUIC DATAGRAM frames and must itself check the peer's
 * max_datagram_frame_size transport parameter. */
/* True once both sides sent SETTINGS_H3_DATAGRAM = 1. */
int p2pq_h3_conn_datagrams_ok(const p2pq_h3_conn *c);
/* Frames payload for stream_id into out (quarter stream ID + payload); returns
 * the length, P2PQ_ERR_STATE if datagrams are not negotiated or the stream's
 * send side is closed, P2PQ_ERR_NOBUF. */
int p2pq_h3_conn_make_datagram(const p2pq_h3_conn *c, int64_t stream_id, const uint8_t *payload,
                               size_t len, uint8_t *out, size_t cap);
/* A received QUIC DATAGRAM payload: 0 with the request stream and payload;
 * P2PQ_ERR_AGAIN to drop it silently (unknown or finished stream, datagrams not
 * offered); P2PQ_ERR_H3 after the connection error H3_DATAGRAM_ERROR
 * (malformed). */
int p2pq_h3_conn_recv_datagram(p2pq_h3_conn *c, const uint8_t *p, size_t len,
                               int64_t *stream_id, const uint8_t **payload, size_t *payload_len);

/* Peer's SETTINGS, or NULL before they arrived. */
const p2pq_h3_settings *p2pq_h3_conn_peer_settings(const p2pq_h3_conn *c);
/* The H3 connection error (0 if none). */
uint64_t p2pq_h3_conn_error(const p2pq_h3_conn *c);

#ifdef __cplusplus
}
#endif
#endif
