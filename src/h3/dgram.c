/* HTTP/3 Datagrams on a connection (RFC 9297 2.1 and 3.1): whether they may be
 * sent, and the checks on one received in a QUIC DATAGRAM frame. */
#include "h3/conn_int.h"

int p2pq_h3_conn_datagrams_ok(const p2pq_h3_conn *c) {
  /* both endpoints must have sent SETTINGS_H3_DATAGRAM = 1 */
  return c->cfg.local.h3_datagram && c->got_settings && c->peer.h3_datagram;
}

int p2pq_h3_conn_recv_datagram(p2pq_h3_conn *c, const uint8_t *p, size_t len,
                               int64_t *stream_id, const uint8_t **payload, size_t *payload_len) {
  uint64_t err = 0;
  h3_stream *s;
  if (!c || (!p && len))
    return P2PQ_ERR_INVALID_ARG;
  if (c->conn_err)
    return P2PQ_ERR_H3;
  if (!c->cfg.local.h3_datagram) /* we never offered them: not HTTP datagrams */
    return P2PQ_ERR_AGAIN;
  if (p2pq_h3_datagram_decode(p, len, stream_id, payload, payload_len, &err) < 0)
    return p2pq_h3_conn_fail(c, err);
  /* an unknown or finished request (or one not yet open): drop it */
  s = p2pq_h3_stream_find(c, *stream_id);
  if (!s || s->kind != K_REQUEST || s->recv_done)
    return P2PQ_ERR_AGAIN;
  return 0;
}

int p2pq_h3_conn_make_datagram(const p2pq_h3_conn *c, int64_t stream_id, const uint8_t *payload,
                               size_t len, uint8_t *out, size_t cap) {
  h3_stream *s;
  if (!c || (!payload && len) || !out)
    return P2PQ_ERR_INVALID_ARG;
  if (!p2pq_h3_conn_datagrams_ok(c))
    return P2PQ_ERR_STATE;
  /* only while the stream's send side is open (RFC 9297 2.1) */
  s = p2pq_h3_stream_find((p2pq_h3_conn *)c, stream_id);
  if (!s || s->kind != K_REQUEST || s->out_fin)
    return P2PQ_ERR_STATE;
  return p2pq_h3_datagram_encode(out, cap, stream_id, payload, len);
}
