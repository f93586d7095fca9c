/* Glue between one QUIC connection (p2pq/quic.h) and one HTTP/3 connection
 * (p2pq/h3.h): QUIC stream bytes go into the H3 layer, its output goes out on
 * QUIC streams (opened in the order the H3 layer numbered them), and H3 errors
 * become stream resets or a connection close. The H3 layer owns every stream of
 * the connection. Sans-I/O like both layers: time is passed in. */
#ifndef P2PQ_IO_H3APP_H
#define P2PQ_IO_H3APP_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/h3.h"
#include "p2pq/quic.h"

typedef struct p2pq_h3app p2pq_h3app;

/* Creates the H3 connection for conn (its control and QPACK streams are
 * queued; call p2pq_h3app_flush to send them). */
int p2pq_h3app_new(p2pq_h3app **out, p2pq_conn *conn, const p2pq_h3_config *cfg);
void p2pq_h3app_free(p2pq_h3app *a);

p2pq_h3_conn *p2pq_h3app_h3(p2pq_h3app *a);
p2pq_conn *p2pq_h3app_conn(p2pq_h3app *a);

/* Feeds a QUIC event of this connection: reads a readable stream into the H3
 * layer, passes resets on, answers STOP_SENDING with a reset, and flushes.
 * Other events are ignored. Returns 0 or the first error (P2PQ_ERR_H3 once the
 * H3 connection failed; the QUIC connection is then being closed). */
int p2pq_h3app_on_event(p2pq_h3app *a, const p2pq_event *ev, p2pq_tstamp now);

/* Moves pending H3 output into QUIC streams, opening new ones in order. What a
 * stream's send buffer (or the peer's stream limit) does not take waits here
 * for the next call. Returns 0 or an error from the QUIC layer. */
int p2pq_h3app_flush(p2pq_h3app *a, p2pq_tstamp now);

/* Next H3 event (valid until the next call); returns 1 with *ev, 0 when none.
 * STREAM_ERROR, STOP_READING and CONN_ERROR are acted on here (reset and
 * STOP_SENDING, STOP_SENDING, CONNECTION_CLOSE) before they are returned. */
int p2pq_h3app_poll(p2pq_h3app *a, p2pq_h3_event *ev, p2pq_tstamp now);

/* Bytes written for stream_id that QUIC has not taken yet (in the H3 layer or
 * waiting here): lets a sender bound what it queues. */
size_t p2pq_h3app_buffered(const p2pq_h3app *a, int64_t stream_id);

/* Resets stream_id (and STOP_SENDING if we read from it) with an H3 error
 * code, and forgets it in the H3 layer. */
int p2pq_h3app_cancel(p2pq_h3app *a, int64_t stream_id, uint64_t h3_code);

/* Closes the QUIC connection with an H3 application error code. */
int p2pq_h3app_close(p2pq_h3app *a, uint64_t h3_code, const char *reason, p2pq_tstamp now);

#endif
