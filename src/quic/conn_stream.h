/* The connection's stream glue: STREAM-family frames in and out, and the
 * public stream API, on top of quic/streammap.h. */
#ifndef P2PQ_QUIC_CONN_STREAM_H
#define P2PQ_QUIC_CONN_STREAM_H

#include "quic/conn_internal.h"

int p2pq_conn_on_stream(p2pq_conn *c, const p2pq_frame *f, p2pq_tstamp now);
int p2pq_conn_on_reset_stream(p2pq_conn *c, const p2pq_frame *f);
int p2pq_conn_on_stop_sending(p2pq_conn *c, const p2pq_frame *f);
int p2pq_conn_on_max_data(p2pq_conn *c, const p2pq_frame *f);
int p2pq_conn_on_max_stream_data(p2pq_conn *c, const p2pq_frame *f);
int p2pq_conn_on_max_streams(p2pq_conn *c, const p2pq_frame *f);
int p2pq_conn_on_stream_data_blocked(p2pq_conn *c, const p2pq_frame *f);

/* Packet building: control frames of streams (RESET_STREAM, STOP_SENDING,
 * MAX_STREAM_DATA, STREAM_DATA_BLOCKED, MAX_STREAMS) and STREAM frames. */
int p2pq_conn_write_stream_ctrl(p2pq_conn *c, p2pq_wr *w, p2pq_frec **frecs, int *eliciting);
int p2pq_conn_write_streams(p2pq_conn *c, p2pq_wr *w, p2pq_frec **frecs, int *eliciting);
int p2pq_conn_streams_want_send(p2pq_conn *c);
int p2pq_conn_streams_have_data(p2pq_conn *c);

/* ACK / loss verdicts for stream frames. */
void p2pq_conn_stream_acked(p2pq_conn *c, const p2pq_frec *f);
void p2pq_conn_stream_lost(p2pq_conn *c, const p2pq_frec *f);
void p2pq_conn_stream_ctrl_acked(p2pq_conn *c, const p2pq_frec *f);
void p2pq_conn_stream_ctrl_lost(p2pq_conn *c, const p2pq_frec *f);

#endif
