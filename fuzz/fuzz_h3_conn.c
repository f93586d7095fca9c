/* An HTTP/3 server (and client) connection fed arbitrary stream data. Input:
 * records of [stream id byte][flags byte][length byte][bytes]; flags bit 0 =
 * FIN, bit 1 = reset instead of data, bit 3 = an
 * HTTP/3 Datagram, bit 2 = the server answers the stream. Invariants: once a connection error is
 * reported, input is refused; the output side stays consistent (every pending
 * stream can be drained). */
#include <stdint.h>
#include <stdlib.h>

#include "p2pq/error.h"
#include "p2pq/h3.h"

static void drain(p2pq_h3_conn *c) {
  p2pq_h3_event ev;
  uint8_t buf[512];
  int64_t sid;
  int fin, guard = 0;
  while (p2pq_h3_conn_poll_event(c, &ev)) {
    if (ev.type == P2PQ_H3_EV_HEADERS && ev.nfields && !ev.fields)
      abort();
  }
  while ((sid = p2pq_h3_conn_next_stream(c)) >= 0 && guard++ < 10000)
    if (p2pq_h3_conn_send(c, sid, buf, sizeof buf, &fin) < 0)
      abort();
}

static void run(int is_server, const uint8_t *data, size_t size) {
  p2pq_h3_config cfg;
  p2pq_h3_conn *c;
  size_t off = 0;
  p2pq_h3_config_default(&cfg, is_server);
  if (p2pq_h3_conn_new(&c, &cfg) < 0)
    return;
  if (!is_server) {
    static const p2pq_h3_field req[] = {{":method", 7, "GET", 3}, {":scheme", 7, "https", 5},
                                        {":authority", 10, "a", 1}, {":path", 5, "/", 1}};
    int64_t sid;
    p2pq_h3_conn_submit_request(c, req, 4, 0, &sid);
    p2pq_h3_conn_submit_request(c, req, 4, 1, &sid);
  }
  while (size - off >= 3) {
    int64_t sid = data[off];
    uint8_t flags = data[off + 1];
    size_t len = data[off + 2];
    int rc;
    off += 3;
    if (len > size - off)
      len = size - off;
    if (flags & 8) {
      const uint8_t *pl;
      size_t pll;
      int64_t dsid;
      rc = p2pq_h3_conn_recv_datagram(c, data + off, len, &dsid, &pl, &pll);
      if (rc == 0 && (pl < data + off || pl + pll != data + off + len))
        abort();
      if (rc == P2PQ_ERR_AGAIN)
        rc = 0;
    } else if (flags & 2)
      rc = p2pq_h3_conn_recv_reset(c, sid, P2PQ_H3_REQUEST_CANCELLED);
    else
      rc = p2pq_h3_conn_recv(c, sid, data + off, len, flags & 1);
    off += len;
    if (p2pq_h3_conn_error(c) && rc != P2PQ_ERR_H3 && rc != 0)
      abort();
    if (p2pq_h3_conn_error(c) && p2pq_h3_conn_recv(c, 0, data, 0, 0) != P2PQ_ERR_H3)
      abort();
    if (is_server && (flags & 4)) {
      static const p2pq_h3_field resp[] = {{":status", 7, "200", 3}};
      p2pq_h3_conn_submit_response(c, sid, resp, 1, 0);
      p2pq_h3_conn_send_data(c, sid, data, len, 1);
    }
    drain(c);
  }
  drain(c);
  p2pq_h3_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(1, data, size);
  run(0, data, size);
  return 0;
}
