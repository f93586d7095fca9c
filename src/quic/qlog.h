/* qlog events of a connection (JSON-SEQ through p2pq_config.qlog). Each call is
 * a no-op unless qlog is on for the connection. */
#ifndef P2PQ_QUIC_QLOG_H
#define P2PQ_QUIC_QLOG_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/quic.h"

void p2pq_qlog_start(p2pq_conn *c, p2pq_tstamp now);
/* payload: the plaintext frames of the packet */
void p2pq_qlog_packet(p2pq_conn *c, int sent, int space, uint64_t pn, size_t size,
                      const uint8_t *payload, size_t payload_len, p2pq_tstamp now);
void p2pq_qlog_metrics(p2pq_conn *c, p2pq_tstamp now);
void p2pq_qlog_packet_lost(p2pq_conn *c, int space, uint64_t pn, p2pq_tstamp now);
/* An event with preformatted JSON members (without braces), e.g. "\"a\":1". */
void p2pq_qlog_note(p2pq_conn *c, const char *name, const char *json_fields, p2pq_tstamp now);
void p2pq_qlog_path(p2pq_conn *c, const char *name, const p2pq_addr *local,
                    const p2pq_addr *remote, p2pq_tstamp now);

#endif
