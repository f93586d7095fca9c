/* HTTP message checks on decoded header sections (RFC 9114 4.1.2, 4.2, 4.3;
 * RFC 9220 for extended CONNECT). Each returns 0 or -1 (malformed: the caller
 * raises the stream error H3_MESSAGE_ERROR). */
#ifndef P2PQ_H3_MESSAGE_H
#define P2PQ_H3_MESSAGE_H

#include "p2pq/h3.h"

typedef struct p2pq_h3_msginfo {
  int is_connect;         /* CONNECT or extended CONNECT */
  int is_head;            /* :method HEAD */
  int has_protocol;       /* extended CONNECT */
  int status;             /* responses */
  int64_t content_length; /* -1 when absent */
} p2pq_h3_msginfo;

/* connect_protocol: whether we (the receiver) enabled extended CONNECT. */
int p2pq_h3_check_request(const p2pq_h3_field *f, size_t n, int connect_protocol,
                          p2pq_h3_msginfo *mi);
int p2pq_h3_check_response(const p2pq_h3_field *f, size_t n, p2pq_h3_msginfo *mi);
int p2pq_h3_check_trailers(const p2pq_h3_field *f, size_t n);

#endif
