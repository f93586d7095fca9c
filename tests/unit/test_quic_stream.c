/* Streams and the stream map: ID rules, send/receive state machines including
 * resets both ways, STOP_SENDING, stream and connection flow control, stream
 * limits and direction errors, MAX_STREAMS credit, scheduling, 10k streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "p2pq/error.h"
#include "quic/stream.h"
#include "quic/streammap.h"

static const p2pq_stream_limits LIM = {1000, 1000, 4000, 0};

static void test_ids(void **state) {
  (void)state;
  /* RFC 9000 2.1 table: 0x0 client bidi, 0x1 server bidi, 0x2 client uni, 0x3 server uni */
  assert_true(p2pq_stream_id_is_local(0, 0) && !p2pq_stream_id_is_local(0, 1));
  assert_true(p2pq_stream_id_is_local(1, 1) && p2pq_stream_id_is_server(1));
  assert_true(p2pq_stream_id_is_uni(2) && p2pq_stream_id_is_uni(3) && !p2pq_stream_id_is_uni(1));
  assert_true(p2pq_stream_id_can_send(2, 0) && !p2pq_stream_id_can_recv(2, 0));
  assert_true(!p2pq_stream_id_can_send(2, 1) && p2pq_stream_id_can_recv(2, 1));
  assert_true(p2pq_stream_id_can_send(4, 1) && p2pq_stream_id_can_recv(4, 1));
  assert_true(p2pq_stream_id_make(5, 1, 1) == 23);
  assert_true(p2pq_stream_id_make(0, 0, 0) == 0);
}

/* Sends everything sendable, acking each frame at once when ack is set. */
static size_t pump(p2pq_stream *st, p2pq_fc_send *conn, int ack) {
  p2pq_sendbuf_range r;
  size_t total = 0;
  while (p2pq_stream_next_data(st, conn, 300, &r) == 0) {
    assert_int_equal(p2pq_stream_on_data_sent(st, conn, r.off, r.len, r.fin), 0);
    if (ack)
      assert_int_equal(p2pq_stream_on_data_acked(st, r.off, r.len, r.fin), 0);
    total += r.len;
  }
  return total;
}

static void test_send_states(void **state) {
  p2pq_stream st;
  p2pq_sendbuf_range r;
  uint8_t d[500];
  (void)state;
  memset(d, 'x', sizeof(d));
  assert_int_equal(p2pq_stream_init(&st, 2, 0, &LIM), 0); /* client uni: send only */
  assert_int_equal(st.send_state, P2PQ_SEND_READY);
  assert_int_equal(st.recv_state, P2PQ_RECV_NONE);
  assert_int_equal(p2pq_stream_wants(&st, NULL), 0);
  assert_int_equal(p2pq_stream_app_write(&st, d, 500, 0), 500);
  assert_int_equal(p2pq_stream_wants(&st, NULL), P2PQ_STREAM_WANT_DATA);
  assert_int_equal(p2pq_stream_next_data(&st, NULL, 300, &r), 0);
  assert_int_equal(p2pq_stream_on_data_sent(&st, NULL, r.off, r.len, r.fin), 0);
  assert_int_equal(st.send_state, P2PQ_SEND_SEND);
  assert_int_equal(p2pq_stream_app_write(&st, d, 0, 1), 0);
  assert_int_equal(p2pq_stream_app_write(&st, d, 1, 0), P2PQ_ERR_STATE);
  assert_int_equal(p2pq_stream_next_data(&st, NULL, 300, &r), 0);
  assert_true(r.off == 300 && r.len == 200 && r.fin);
  assert_int_equal(p2pq_stream_on_data_sent(&st, NULL, r.off, r.len, r.fin), 0);
  assert_int_equal(st.send_state, P2PQ_SEND_DATA_SENT);
  assert_int_equal(p2pq_stream_on_data_lost(&st, 300, 200, 1), 0);
  assert_int_equal(p2pq_stream_wants(&st, NULL), P2PQ_STREAM_WANT_DATA);
  assert_int_equal(p2pq_stream_next_data(&st, NULL, 1000, &r), 0);
  assert_true(r.retrans && r.off == 300 && r.fin);
  assert_int_equal(p2pq_stream_on_data_sent(&st, NULL, r.off, r.len, r.fin), 0);
  assert_int_equal(p2pq_stream_on_data_acked(&st, 300, 200, 1), 0);
  assert_false(p2pq_stream_is_done(&st));
  assert_int_equal(p2pq_stream_on_data_acked(&st, 0, 300, 0), 0);
  assert_int_equal(st.send_state, P2PQ_SEND_DATA_RECVD);
  assert_true(p2pq_stream_is_done(&st));
  /* receive-side frames on a send-only stream */
  assert_int_equal(p2pq_stream_on_stream(&st, NULL, 0, d, 1, 0), P2PQ_ERR_STREAM_STATE);
  assert_int_equal(p2pq_stream_on_reset(&st, NULL, 0, 0), P2PQ_ERR_STREAM_STATE);
  assert_int_equal(p2pq_stream_on_data_blocked(&st, 0), P2PQ_ERR_STREAM_STATE);
  p2pq_stream_clear(&st);
}

static void test_recv_states(void **state) {
  p2pq_stream st;
  p2pq_fc_recv conn;
  uint8_t d[100], out[200];
  int fin;
  (void)state;
  for (int i = 0; i < 100; i++)
    d[i] = (uint8_t)i;
  p2pq_fc_recv_init(&conn, 10000, 10000);
  assert_int_equal(p2pq_stream_init(&st, 3, 0, &LIM), 0); /* server uni at a client */
  assert_int_equal(st.send_state, P2PQ_SEND_NONE);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 50, d + 50, 50, 1), 0);
  assert_int_equal(st.recv_state, P2PQ_RECV_SIZE_KNOWN);
  assert_false(p2pq_stream_readable(&st));
  assert_true(conn.highest == 100);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 0, d, 50, 0), 0);
  assert_int_equal(st.recv_state, P2PQ_RECV_DATA_RECVD);
  assert_true(p2pq_stream_readable(&st));
  assert_true(conn.highest == 100);
  assert_int_equal(p2pq_stream_app_read(&st, &conn, out, 60, &fin), 60);
  assert_false(fin);
  assert_int_equal(p2pq_stream_app_read(&st, &conn, out + 60, 100, &fin), 40);
  assert_true(fin);
  assert_memory_equal(out, d, 100);
  assert_int_equal(st.recv_state, P2PQ_RECV_DATA_READ);
  assert_true(conn.consumed == 100);
  assert_true(p2pq_stream_is_done(&st));
  /* late duplicates are fine, a different final size is not */
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 10, d, 10, 0), 0);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 90, d, 20, 1), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_stream_on_reset(&st, &conn, 1, 100), 0);
  assert_int_equal(p2pq_stream_on_reset(&st, &conn, 1, 101), P2PQ_ERR_FINAL_SIZE);
  /* send-side frames on a receive-only stream */
  assert_int_equal(p2pq_stream_on_max_stream_data(&st, 5000), P2PQ_ERR_STREAM_STATE);
  assert_int_equal(p2pq_stream_on_stop_sending(&st, 0), P2PQ_ERR_STREAM_STATE);
  assert_int_equal(p2pq_stream_app_write(&st, d, 1, 0), P2PQ_ERR_STATE);
  p2pq_stream_clear(&st);

  /* zero-copy reads across a chunk boundary, FIN seen with the last piece */
  {
    size_t total = P2PQ_RECVBUF_CHUNK + 500, seen = 0, n;
    uint8_t *big = malloc(total);
    const uint8_t *p;
    for (size_t i = 0; i < total; i++)
      big[i] = (uint8_t)(i * 13);
    assert_int_equal(p2pq_stream_init(&st, 3, 0, &(p2pq_stream_limits){0, 1 << 20, 1 << 20, 0}), 0);
    assert_int_equal(p2pq_stream_on_stream(&st, NULL, 0, big, total, 1), 0);
    do {
      p2pq_stream_app_peek(&st, &p, &n, &fin);
      assert_true(n > 0);
      assert_memory_equal(p, big + seen, n);
      assert_int_equal(fin, seen + n == total);
      p2pq_stream_app_consume(&st, NULL, n);
      seen += n;
    } while (!fin);
    assert_int_equal(seen, total);
    assert_int_equal(st.recv_state, P2PQ_RECV_DATA_READ);
    assert_true(st.rfc.consumed == total);
    p2pq_stream_clear(&st);
    free(big);
  }

  /* an empty stream: FIN only, reported once to the reader */
  assert_int_equal(p2pq_stream_init(&st, 3, 0, &LIM), 0);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 0, NULL, 0, 1), 0);
  assert_int_equal(st.recv_state, P2PQ_RECV_DATA_RECVD);
  assert_true(p2pq_stream_readable(&st));
  assert_int_equal(p2pq_stream_app_read(&st, &conn, out, sizeof(out), &fin), 0);
  assert_true(fin);
  assert_int_equal(st.recv_state, P2PQ_RECV_DATA_READ);
  p2pq_stream_clear(&st);
}

static void test_local_reset(void **state) {
  p2pq_stream st;
  uint8_t d[1000] = {0};
  (void)state;
  assert_int_equal(p2pq_stream_init(&st, 0, 0, &LIM), 0); /* client bidi */
  assert_int_equal(p2pq_stream_app_write(&st, d, 1000, 0), 1000);
  assert_int_equal(p2pq_stream_next_data(&st, NULL, 300, &(p2pq_sendbuf_range){0}), 0);
  assert_int_equal(p2pq_stream_on_data_sent(&st, NULL, 0, 300, 0), 0);
  assert_int_equal(p2pq_stream_app_reset(&st, 77), 0);
  assert_int_equal(st.send_state, P2PQ_SEND_RESET_SENT);
  assert_true(st.reset_code == 77 && st.reset_final == 300);
  assert_int_equal(p2pq_stream_wants(&st, NULL), P2PQ_STREAM_WANT_RESET);
  assert_int_equal(p2pq_stream_app_write(&st, d, 1, 0), P2PQ_ERR_STATE);
  assert_int_equal(p2pq_stream_app_reset(&st, 78), 0); /* idempotent */
  assert_true(st.reset_code == 77);
  p2pq_stream_on_reset_sent(&st);
  assert_int_equal(p2pq_stream_wants(&st, NULL), 0);
  assert_int_equal(p2pq_stream_on_data_acked(&st, 0, 300, 0), 0); /* ignored now */
  p2pq_stream_on_reset_lost(&st);
  assert_int_equal(p2pq_stream_wants(&st, NULL), P2PQ_STREAM_WANT_RESET);
  p2pq_stream_on_reset_sent(&st);
  p2pq_stream_on_reset_acked(&st);
  assert_int_equal(st.send_state, P2PQ_SEND_RESET_RECVD);
  assert_false(p2pq_stream_is_done(&st)); /* receive side still open */
  assert_int_equal(p2pq_stream_on_stream(&st, NULL, 0, d, 10, 1), 0);
  assert_int_equal(p2pq_stream_app_read(&st, NULL, d, 100, &(int){0}), 10);
  assert_true(p2pq_stream_is_done(&st));
  p2pq_stream_clear(&st);
}

static void test_peer_stop_sending(void **state) {
  p2pq_stream st;
  uint8_t d[100] = {0};
  (void)state;
  assert_int_equal(p2pq_stream_init(&st, 1, 1, &LIM), 0); /* server bidi at the server */
  assert_int_equal(p2pq_stream_app_write(&st, d, 100, 0), 100);
  assert_int_equal(pump(&st, NULL, 0), 100);
  assert_int_equal(p2pq_stream_on_stop_sending(&st, 9), 0);
  assert_true(st.peer_stopped && st.peer_stop_code == 9);
  assert_int_equal(st.send_state, P2PQ_SEND_RESET_SENT);
  assert_true(st.reset_code == 9 && st.reset_final == 100);
  assert_true(p2pq_stream_wants(&st, NULL) & P2PQ_STREAM_WANT_RESET);
  assert_false(p2pq_stream_wants(&st, NULL) & P2PQ_STREAM_WANT_DATA);
  assert_int_equal(p2pq_stream_on_stop_sending(&st, 10), 0); /* repeated: nothing new */
  assert_true(st.peer_stop_code == 9 && st.reset_code == 9);
  /* STOP_SENDING after everything was acked: no reset */
  p2pq_stream_clear(&st);
  assert_int_equal(p2pq_stream_init(&st, 1, 1, &LIM), 0);
  assert_int_equal(p2pq_stream_app_write(&st, d, 10, 1), 10);
  pump(&st, NULL, 1);
  assert_int_equal(st.send_state, P2PQ_SEND_DATA_RECVD);
  assert_int_equal(p2pq_stream_on_stop_sending(&st, 3), 0);
  assert_int_equal(st.send_state, P2PQ_SEND_DATA_RECVD);
  assert_false(st.reset_pending);
  p2pq_stream_clear(&st);
}

static void test_peer_reset(void **state) {
  p2pq_stream st;
  p2pq_fc_recv conn;
  uint8_t d[300] = {0};
  int fin;
  (void)state;
  p2pq_fc_recv_init(&conn, 10000, 10000);
  assert_int_equal(p2pq_stream_init(&st, 0, 1, &LIM), 0); /* client bidi at the server */
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 0, d, 100, 0), 0);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 200, d, 50, 0), 0);
  assert_int_equal(p2pq_stream_app_read(&st, &conn, d, 40, &fin), 40);
  assert_int_equal(p2pq_stream_on_reset(&st, &conn, 5, 249), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_stream_on_reset(&st, &conn, 5, 1001), P2PQ_ERR_FLOW_CONTROL);
  assert_int_equal(p2pq_stream_on_reset(&st, &conn, 5, 400), 0);
  assert_int_equal(st.recv_state, P2PQ_RECV_RESET_RECVD);
  assert_true(st.peer_reset_code == 5);
  /* the connection counts all 400 bytes as received and consumed */
  assert_true(conn.highest == 400 && conn.consumed == 400);
  assert_int_equal(p2pq_stream_on_reset(&st, &conn, 5, 400), 0);
  assert_int_equal(p2pq_stream_on_reset(&st, &conn, 5, 401), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 300, d, 100, 1), 0);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 300, d, 101, 0), P2PQ_ERR_FINAL_SIZE);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 300, d, 50, 1), P2PQ_ERR_FINAL_SIZE);
  assert_true(conn.highest == 400);
  assert_true(p2pq_stream_readable(&st));
  assert_int_equal(p2pq_stream_app_read(&st, &conn, d, 10, &fin), P2PQ_ERR_STATE);
  assert_int_equal(st.recv_state, P2PQ_RECV_RESET_READ);
  assert_false(p2pq_stream_readable(&st));
  assert_false(p2pq_stream_is_done(&st)); /* our send side is still Ready */
  assert_int_equal(p2pq_stream_app_reset(&st, 1), 0);
  p2pq_stream_on_reset_sent(&st);
  p2pq_stream_on_reset_acked(&st);
  assert_true(p2pq_stream_is_done(&st));
  p2pq_stream_clear(&st);
}

static void test_app_stop(void **state) {
  p2pq_stream st;
  p2pq_fc_recv conn;
  uint8_t d[300] = {0};
  (void)state;
  p2pq_fc_recv_init(&conn, 10000, 10000);
  assert_int_equal(p2pq_stream_init(&st, 3, 0, &LIM), 0);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 0, d, 100, 0), 0);
  assert_int_equal(p2pq_stream_app_stop(&st, &conn, 42), 0);
  assert_true(conn.consumed == 100); /* readable data dropped and credited */
  assert_int_equal(p2pq_stream_wants(&st, NULL), P2PQ_STREAM_WANT_STOP);
  assert_true(st.stop_code == 42);
  p2pq_stream_on_stop_sent(&st);
  assert_int_equal(p2pq_stream_wants(&st, NULL), 0);
  p2pq_stream_on_stop_lost(&st);
  assert_int_equal(p2pq_stream_wants(&st, NULL), P2PQ_STREAM_WANT_STOP);
  assert_int_equal(p2pq_stream_on_stream(&st, &conn, 100, d, 200, 0), 0);
  assert_true(conn.consumed == 300 && !p2pq_stream_readable(&st));
  /* the peer answers with RESET_STREAM: no more STOP_SENDING needed */
  assert_int_equal(p2pq_stream_on_reset(&st, &conn, 42, 300), 0);
  assert_int_equal(p2pq_stream_wants(&st, NULL), 0);
  assert_int_equal(p2pq_stream_app_stop(&st, &conn, 1), 0);
  assert_int_equal(p2pq_stream_wants(&st, NULL), 0);
  assert_int_equal(p2pq_stream_app_stop(&(p2pq_stream){.recv_state = P2PQ_RECV_NONE}, &conn, 1),
                   P2PQ_ERR_STATE);
  p2pq_stream_clear(&st);
}

static void test_flow_control(void **state) {
  p2pq_stream st;
  p2pq_fc_send conn;
  p2pq_fc_recv cr;
  p2pq_sendbuf_range r;
  p2pq_stream_limits lim = {100, 1000, 4000, 150};
  uint8_t d[2000] = {0};
  (void)state;
  p2pq_fc_send_init(&conn, 60);
  assert_int_equal(p2pq_stream_init(&st, 0, 0, &lim), 0);
  /* send buffer cap */
  assert_int_equal(p2pq_stream_app_write(&st, d, 200, 1), 150);
  assert_int_equal(p2pq_stream_app_write(&st, d, 50, 0), 0);
  assert_true(p2pq_stream_send_credit(&st, &conn) == 60);
  assert_int_equal(pump(&st, &conn, 0), 60);
  assert_true(conn.sent == 60 && st.sfc.sent == 60);
  /* connection-blocked: no DATA, no STREAM_DATA_BLOCKED (that is the conn's DATA_BLOCKED) */
  assert_int_equal(p2pq_stream_wants(&st, &conn), 0);
  assert_int_equal(p2pq_stream_wants(&st, NULL), P2PQ_STREAM_WANT_DATA);
  assert_int_equal(p2pq_stream_on_data_sent(&st, &conn, 60, 10, 0), P2PQ_ERR_FLOW_CONTROL);
  p2pq_fc_send_update(&conn, 1000);
  assert_int_equal(pump(&st, &conn, 1), 40); /* now the stream limit (100) binds */
  assert_int_equal(p2pq_stream_wants(&st, &conn), P2PQ_STREAM_WANT_BLOCKED);
  p2pq_stream_on_blocked_sent(&st);
  assert_int_equal(p2pq_stream_wants(&st, &conn), 0);
  p2pq_stream_on_blocked_lost(&st, 100);
  assert_int_equal(p2pq_stream_wants(&st, &conn), P2PQ_STREAM_WANT_BLOCKED);
  assert_int_equal(p2pq_stream_on_max_stream_data(&st, 90), 0);
  assert_int_equal(p2pq_stream_on_max_stream_data(&st, 1000), 1);
  assert_int_equal(p2pq_stream_wants(&st, &conn), P2PQ_STREAM_WANT_DATA);
  assert_int_equal(p2pq_stream_next_data(&st, &conn, 1000, &r), 0);
  assert_true(r.off == 100 && r.len == 50 && !r.fin); /* FIN was refused with the excess */
  p2pq_stream_clear(&st);

  /* receive: stream window 1000, connection window 500 */
  p2pq_fc_recv_init(&cr, 500, 500);
  assert_int_equal(p2pq_stream_init(&st, 3, 0, &lim), 0);
  assert_int_equal(p2pq_stream_on_stream(&st, &cr, 0, d, 501, 0), P2PQ_ERR_FLOW_CONTROL);
  assert_int_equal(p2pq_stream_on_stream(&st, &cr, 0, d, 500, 0), 0);
  assert_int_equal(p2pq_stream_wants(&st, NULL), 0);
  p2pq_fc_recv_init(&cr, 5000, 5000);
  assert_int_equal(p2pq_stream_on_stream(&st, NULL, 500, d, 501, 0), P2PQ_ERR_FLOW_CONTROL);
  assert_int_equal(p2pq_stream_on_stream(&st, NULL, 500, d, 500, 0), 0);
  assert_int_equal(p2pq_stream_app_read(&st, NULL, d, 600, &(int){0}), 600);
  assert_int_equal(p2pq_stream_wants(&st, NULL), P2PQ_STREAM_WANT_MAX_DATA);
  assert_true(p2pq_stream_max_data_update(&st, 10 * P2PQ_MS, P2PQ_S) == 1600);
  assert_int_equal(p2pq_stream_wants(&st, NULL), 0);
  assert_int_equal(p2pq_stream_on_stream(&st, NULL, 1000, d, 600, 0), 0);
  assert_int_equal(p2pq_stream_on_stream(&st, NULL, 1600, d, 1, 0), P2PQ_ERR_FLOW_CONTROL);
  p2pq_stream_on_max_data_lost(&st, 1600);
  assert_int_equal(p2pq_stream_wants(&st, NULL), P2PQ_STREAM_WANT_MAX_DATA);
  p2pq_stream_clear(&st);
}

/* ---- stream map ------------------------------------------------------------------ */

static void map_init(p2pq_streammap *m, int is_server, uint64_t max_streams) {
  p2pq_streammap_config cfg = {0};
  p2pq_streammap_peer peer = {0};
  cfg.is_server = is_server;
  cfg.max_streams_bidi = cfg.max_streams_uni = max_streams;
  cfg.stream_window_bidi_local = cfg.stream_window_bidi_remote = cfg.stream_window_uni = 1000;
  cfg.stream_max_window = 8000;
  cfg.conn_window = cfg.conn_max_window = 1 << 30;
  assert_int_equal(p2pq_streammap_init(m, &cfg), 0);
  peer.max_streams_bidi = peer.max_streams_uni = max_streams;
  peer.max_data = 1 << 30;
  peer.max_stream_data_bidi_local = peer.max_stream_data_bidi_remote = 1000;
  peer.max_stream_data_uni = 1000;
  p2pq_streammap_set_peer(m, &peer);
}

static void test_map_limits_and_directions(void **state) {
  p2pq_streammap m;
  p2pq_stream *st;
  uint64_t id, lim;
  (void)state;
  map_init(&m, 0, 10); /* a client */
  /* the server opens bidi stream index 5: indexes 0..5 open implicitly */
  assert_int_equal(p2pq_streammap_get(&m, 21, P2PQ_DIR_RECV, &st), 0);
  assert_true(st && st->id == 21);
  assert_int_equal(m.count, 6);
  for (uint64_t i = 0; i < 6; i++) {
    assert_int_equal(p2pq_streammap_take_opened(&m, &id), 1);
    assert_true(id == 4 * i + 1);
  }
  assert_int_equal(p2pq_streammap_take_opened(&m, &id), 0);
  assert_int_equal(p2pq_streammap_get(&m, 9, P2PQ_DIR_SEND, &st), 0); /* already open */
  assert_true(st && st->id == 9);
  assert_int_equal(p2pq_streammap_get(&m, 37, P2PQ_DIR_RECV, &st), 0); /* index 9: last allowed */
  assert_int_equal(p2pq_streammap_get(&m, 41, P2PQ_DIR_RECV, &st), P2PQ_ERR_STREAM_LIMIT);
  assert_int_equal(p2pq_streammap_get(&m, 43, P2PQ_DIR_RECV, &st), P2PQ_ERR_STREAM_LIMIT);
  /* our own streams that we never opened */
  assert_int_equal(p2pq_streammap_get(&m, 0, P2PQ_DIR_RECV, &st), P2PQ_ERR_STREAM_STATE);
  assert_int_equal(p2pq_streammap_get(&m, 2, P2PQ_DIR_SEND, &st), P2PQ_ERR_STREAM_STATE);
  /* wrong directions of unidirectional streams */
  assert_int_equal(p2pq_streammap_open(&m, 1, &st), 0); /* client uni 2 */
  assert_int_equal(p2pq_streammap_get(&m, 2, P2PQ_DIR_RECV, &st), P2PQ_ERR_STREAM_STATE);
  assert_int_equal(p2pq_streammap_get(&m, 2, P2PQ_DIR_SEND, &st), 0);
  assert_true(st && st->id == 2);
  assert_int_equal(p2pq_streammap_get(&m, 3, P2PQ_DIR_SEND, &st), P2PQ_ERR_STREAM_STATE);
  assert_int_equal(p2pq_streammap_get(&m, 3, P2PQ_DIR_RECV, &st), 0);
  assert_true(st && st->id == 3 && st->send_state == P2PQ_SEND_NONE);
  /* our opening limit */
  p2pq_streammap_clear(&m);
  map_init(&m, 1, 2); /* a server; the client allows 2 of each */
  assert_int_equal(p2pq_streammap_open(&m, 0, &st), 0);
  assert_true(st->id == 1);
  assert_int_equal(p2pq_streammap_open(&m, 0, &st), 0);
  assert_true(st->id == 5);
  assert_int_equal(p2pq_streammap_streams_blocked_due(&m, 0, &lim), 0);
  assert_int_equal(p2pq_streammap_open(&m, 0, &st), P2PQ_ERR_STREAM_LIMIT);
  assert_int_equal(p2pq_streammap_streams_blocked_due(&m, 0, &lim), 1);
  assert_true(lim == 2);
  p2pq_streammap_streams_blocked_sent(&m, 0);
  assert_int_equal(p2pq_streammap_streams_blocked_due(&m, 0, &lim), 0);
  assert_int_equal(p2pq_streammap_on_max_streams(&m, 0, (1ull << 60) + 1),
                   P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(p2pq_streammap_on_max_streams(&m, 0, 1), 0);
  assert_int_equal(p2pq_streammap_on_max_streams(&m, 0, 3), 1);
  assert_int_equal(p2pq_streammap_open(&m, 0, &st), 0);
  assert_true(st->id == 9);
  assert_int_equal(p2pq_streammap_open(&m, 1, &st), 0);
  assert_true(st->id == 3);
  p2pq_streammap_clear(&m);
}

/* Peer uni streams that finish give MAX_STREAMS credit back once freed. */
static void test_map_max_streams_credit(void **state) {
  p2pq_streammap m;
  p2pq_stream *st;
  uint64_t max;
  uint8_t b[8];
  int fin;
  (void)state;
  map_init(&m, 1, 10); /* a server */
  assert_int_equal(p2pq_streammap_get(&m, p2pq_stream_id_make(9, 1, 0), P2PQ_DIR_RECV, &st), 0);
  assert_int_equal(m.count, 10);
  assert_int_equal(p2pq_streammap_max_streams_due(&m, 1, &max), 0);
  for (uint64_t i = 0; i < 10; i++) {
    uint64_t id = p2pq_stream_id_make(i, 1, 0);
    assert_int_equal(p2pq_streammap_get(&m, id, P2PQ_DIR_RECV, &st), 0);
    assert_int_equal(p2pq_stream_on_stream(st, &m.fc_recv, 0, (const uint8_t *)"hi", 2, 1), 0);
    assert_int_equal(p2pq_stream_app_read(st, &m.fc_recv, b, sizeof(b), &fin), 2);
    assert_true(fin);
    if (i == 3) {
      assert_int_equal(p2pq_streammap_gc(&m), 4);
      assert_int_equal(p2pq_streammap_max_streams_due(&m, 1, &max), 0); /* batching */
    }
  }
  assert_int_equal(p2pq_streammap_gc(&m), 6);
  assert_int_equal(m.count, 0);
  assert_int_equal(p2pq_streammap_max_streams_due(&m, 1, &max), 1);
  assert_true(max == 20);
  p2pq_streammap_max_streams_sent(&m, 1, max);
  assert_int_equal(p2pq_streammap_max_streams_due(&m, 1, &max), 0);
  p2pq_streammap_max_streams_lost(&m, 1, 20);
  assert_int_equal(p2pq_streammap_max_streams_due(&m, 1, &max), 1);
  assert_true(max == 20);
  p2pq_streammap_max_streams_sent(&m, 1, max);
  /* frames for a closed stream are ignored; new streams up to 20 open */
  assert_int_equal(p2pq_streammap_get(&m, p2pq_stream_id_make(4, 1, 0), P2PQ_DIR_RECV, &st), 0);
  assert_null(st);
  assert_int_equal(p2pq_streammap_get(&m, p2pq_stream_id_make(19, 1, 0), P2PQ_DIR_RECV, &st), 0);
  assert_non_null(st);
  assert_int_equal(p2pq_streammap_get(&m, p2pq_stream_id_make(20, 1, 0), P2PQ_DIR_RECV, &st),
                   P2PQ_ERR_STREAM_LIMIT);
  p2pq_streammap_clear(&m);
}

/* 10k streams: lookup, round-robin fairness, completion and removal. */
static void test_map_10k(void **state) {
  enum { N = 10000 };
  p2pq_streammap m;
  p2pq_stream *st, *s2;
  uint8_t d[600] = {0};
  uint16_t *sends = calloc(N, sizeof(*sends));
  (void)state;
  map_init(&m, 0, N);
  assert_int_equal(p2pq_streammap_get(&m, p2pq_stream_id_make(N - 1, 0, 1), P2PQ_DIR_RECV, &st), 0);
  for (uint64_t i = 0; i < N; i++) {
    assert_int_equal(p2pq_streammap_open(&m, 0, &st), 0);
    assert_int_equal(p2pq_stream_app_write(st, d, 600, 1), 600);
  }
  assert_int_equal(m.count, 2 * N);
  for (uint64_t i = 0; i < N; i++) {
    s2 = p2pq_streammap_find(&m, p2pq_stream_id_make(i, 0, 0));
    assert_non_null(s2);
    assert_true(s2->id == p2pq_stream_id_make(i, 0, 0));
  }
  /* one 300-byte frame per turn: every stream gets its first turn before any
   * gets a second (round robin) */
  for (size_t turn = 0; turn < 2 * N; turn++) {
    p2pq_sendbuf_range r;
    st = p2pq_streammap_next_data(&m);
    assert_non_null(st);
    assert_int_equal(sends[st->id >> 2], turn / N);
    sends[st->id >> 2]++;
    assert_int_equal(p2pq_stream_next_data(st, &m.fc_send, 300, &r), 0);
    assert_int_equal(p2pq_stream_on_data_sent(st, &m.fc_send, r.off, r.len, r.fin), 0);
    assert_int_equal(p2pq_stream_on_data_acked(st, r.off, r.len, r.fin), 0);
    p2pq_streammap_rotate(&m, st);
  }
  assert_null(p2pq_streammap_next_data(&m));
  /* our streams' send sides are done; the receive sides finish on FIN */
  for (uint64_t i = 0; i < N; i += 2) {
    st = p2pq_streammap_find(&m, p2pq_stream_id_make(i, 0, 0));
    assert_int_equal(p2pq_stream_on_stream(st, &m.fc_recv, 0, NULL, 0, 1), 0);
    assert_int_equal(p2pq_stream_app_read(st, &m.fc_recv, d, 1, &(int){0}), 0);
  }
  assert_int_equal(p2pq_streammap_gc(&m), N / 2);
  assert_int_equal(m.count, N + N / 2);
  assert_null(p2pq_streammap_find(&m, 0));
  assert_non_null(p2pq_streammap_find(&m, 4));
  p2pq_streammap_clear(&m);
  free(sends);
}

/* Urgency classes, connection-credit parking, and control-frame queueing. */
static void test_map_scheduling(void **state) {
  p2pq_streammap m;
  p2pq_stream *a, *b, *c, *st;
  uint8_t d[100] = {0};
  p2pq_sendbuf_range r;
  (void)state;
  map_init(&m, 0, 10);
  assert_int_equal(p2pq_streammap_open(&m, 0, &a), 0);
  assert_int_equal(p2pq_streammap_open(&m, 0, &b), 0);
  assert_int_equal(p2pq_streammap_open(&m, 0, &c), 0);
  p2pq_stream_set_urgency(c, 0);
  assert_int_equal(p2pq_stream_app_write(a, d, 100, 0), 100);
  assert_int_equal(p2pq_stream_app_write(b, d, 100, 0), 100);
  assert_int_equal(p2pq_stream_app_write(c, d, 100, 0), 100);
  assert_ptr_equal(p2pq_streammap_next_data(&m), c); /* most urgent first */
  p2pq_stream_set_urgency(c, 7);
  assert_ptr_equal(p2pq_streammap_next_data(&m), a);
  /* no connection credit: everyone parks; MAX_DATA brings them back */
  m.fc_send.sent = m.fc_send.limit;
  assert_null(p2pq_streammap_next_data(&m));
  assert_int_equal(p2pq_streammap_on_max_data(&m, m.fc_send.limit + 50), 1);
  st = p2pq_streammap_next_data(&m);
  assert_ptr_equal(st, a);
  assert_int_equal(p2pq_stream_next_data(st, &m.fc_send, 1000, &r), 0);
  assert_int_equal(r.len, 50);
  assert_int_equal(p2pq_stream_on_data_sent(st, &m.fc_send, r.off, r.len, r.fin), 0);
  p2pq_streammap_rotate(&m, st);
  assert_null(p2pq_streammap_next_data(&m));
  /* a parked stream whose data was lost comes back at once (no credit needed) */
  assert_int_equal(p2pq_stream_on_data_lost(a, 0, 50, 0), 0);
  assert_ptr_equal(p2pq_streammap_next_data(&m), a);
  assert_int_equal(p2pq_stream_next_data(a, &m.fc_send, 1000, &r), 0);
  assert_true(r.retrans && r.off == 0 && r.len == 50);
  assert_int_equal(p2pq_stream_on_data_sent(a, &m.fc_send, r.off, r.len, r.fin), 0);
  p2pq_streammap_rotate(&m, a);
  assert_null(p2pq_streammap_next_data(&m));
  /* control frames: a reset and a STOP_SENDING queue the streams once */
  assert_null(p2pq_streammap_next_ctrl(&m));
  assert_int_equal(p2pq_stream_app_reset(b, 1), 0);
  assert_int_equal(p2pq_stream_app_stop(b, &m.fc_recv, 2), 0);
  assert_int_equal(p2pq_stream_app_stop(c, &m.fc_recv, 2), 0);
  assert_ptr_equal(p2pq_streammap_next_ctrl(&m), b);
  assert_true(p2pq_stream_wants(b, NULL) == (P2PQ_STREAM_WANT_RESET | P2PQ_STREAM_WANT_STOP));
  p2pq_stream_on_reset_sent(b);
  p2pq_stream_on_stop_sent(b);
  assert_ptr_equal(p2pq_streammap_next_ctrl(&m), c);
  assert_null(p2pq_streammap_next_ctrl(&m));
  p2pq_streammap_clear(&m);
}

/* ---- end to end over a lossy, reordering channel -------------------------------- */

enum { F_STREAM, F_MSD, F_MAXDATA, F_SDB };
typedef struct sframe {
  int type;
  uint64_t id, off, v;
  size_t len;
  int fin;
  uint8_t *data;
} sframe;
typedef struct spkt {
  sframe f[16];
  int n;
} spkt;

static uint64_t srng = 99;
static uint64_t srnd(void) {
  srng ^= srng >> 12;
  srng ^= srng << 25;
  srng ^= srng >> 27;
  return srng * 2685821657736338717ull;
}

/* Fills one packet of about 1200 bytes the way a connection would. */
static int build(p2pq_streammap *m, spkt *p, p2pq_tstamp now) {
  p2pq_stream *st;
  size_t room = 1200;
  p->n = 0;
  if (p2pq_fc_recv_update_due(&m->fc_recv)) {
    p->f[p->n++] = (sframe){F_MAXDATA, 0, 0, p2pq_fc_recv_update(&m->fc_recv, 10 * P2PQ_MS, now),
                            0, 0, NULL};
    room -= 9;
  }
  while (p->n < 14 && (st = p2pq_streammap_next_ctrl(m))) {
    unsigned w = p2pq_stream_wants(st, &m->fc_send);
    if (w & P2PQ_STREAM_WANT_MAX_DATA) {
      p->f[p->n++] = (sframe){F_MSD, st->id, 0, p2pq_stream_max_data_update(st, 10 * P2PQ_MS, now),
                              0, 0, NULL};
      room -= 17;
    }
    if (w & P2PQ_STREAM_WANT_BLOCKED) {
      p->f[p->n++] = (sframe){F_SDB, st->id, 0, st->sfc.limit, 0, 0, NULL};
      p2pq_stream_on_blocked_sent(st);
      room -= 17;
    }
  }
  while (p->n < 16 && room > 30 && (st = p2pq_streammap_next_data(m))) {
    p2pq_sendbuf_range r;
    sframe *f = &p->f[p->n];
    assert_int_equal(p2pq_stream_next_data(st, &m->fc_send, room - 25, &r), 0);
    *f = (sframe){F_STREAM, st->id, r.off, 0, r.len, r.fin, malloc(r.len + 1)};
    memcpy(f->data, r.data, r.len);
    assert_int_equal(p2pq_stream_on_data_sent(st, &m->fc_send, r.off, r.len, r.fin), 0);
    p2pq_streammap_rotate(m, st);
    room -= 25 + r.len;
    p->n++;
  }
  return p->n;
}

static void deliver(p2pq_streammap *m, const spkt *p) {
  for (int i = 0; i < p->n; i++) {
    const sframe *f = &p->f[i];
    p2pq_stream *st;
    switch (f->type) {
    case F_STREAM:
      assert_int_equal(p2pq_streammap_get(m, f->id, P2PQ_DIR_RECV, &st), 0);
      if (st)
        assert_int_equal(p2pq_stream_on_stream(st, &m->fc_recv, f->off, f->data, f->len, f->fin), 0);
      break;
    case F_MSD:
      assert_int_equal(p2pq_streammap_get(m, f->id, P2PQ_DIR_SEND, &st), 0);
      if (st)
        assert_true(p2pq_stream_on_max_stream_data(st, f->v) >= 0);
      break;
    case F_SDB:
      assert_int_equal(p2pq_streammap_get(m, f->id, P2PQ_DIR_RECV, &st), 0);
      if (st)
        assert_int_equal(p2pq_stream_on_data_blocked(st, f->v), 0);
      break;
    default:
      p2pq_streammap_on_max_data(m, f->v);
    }
  }
}

static void verdict(p2pq_streammap *m, spkt *p, int acked) {
  for (int i = 0; i < p->n; i++) {
    sframe *f = &p->f[i];
    p2pq_stream *st = f->type == F_MAXDATA ? NULL : p2pq_streammap_find(m, f->id);
    if (f->type == F_MAXDATA && !acked)
      p2pq_fc_recv_update_lost(&m->fc_recv, f->v);
    if (st && f->type == F_STREAM)
      assert_int_equal(acked ? p2pq_stream_on_data_acked(st, f->off, f->len, f->fin)
                             : p2pq_stream_on_data_lost(st, f->off, f->len, f->fin), 0);
    if (st && f->type == F_MSD && !acked)
      p2pq_stream_on_max_data_lost(st, f->v);
    if (st && f->type == F_SDB && !acked)
      p2pq_stream_on_blocked_lost(st, f->v);
    free(f->data);
    f->data = NULL;
  }
}

static void sim_map(p2pq_streammap *m, int is_server) {
  p2pq_streammap_config cfg = {0};
  p2pq_streammap_peer peer = {0};
  cfg.is_server = is_server;
  cfg.max_streams_bidi = cfg.max_streams_uni = 4;
  cfg.stream_window_bidi_local = cfg.stream_window_bidi_remote = cfg.stream_window_uni = 16384;
  cfg.stream_max_window = 1 << 20;
  cfg.conn_window = 32768;
  cfg.conn_max_window = 2 << 20;
  assert_int_equal(p2pq_streammap_init(m, &cfg), 0);
  peer.max_streams_bidi = peer.max_streams_uni = 4;
  peer.max_data = 32768;
  peer.max_stream_data_bidi_local = peer.max_stream_data_bidi_remote = 16384;
  peer.max_stream_data_uni = 16384;
  p2pq_streammap_set_peer(m, &peer);
}

/* A client uploads 1 MB on each of 3 streams (one with a higher urgency) to a
 * server that answers each, over a channel losing 10% and reordering, with
 * small initial windows that must auto-tune. Every byte must arrive in order,
 * every stream must finish and be freed. */
static void test_lossy_transfer(void **state) {
  enum { LEN = 1000000, NS = 3 };
  p2pq_streammap cm, sm;
  p2pq_stream *st;
  uint8_t *src = malloc(LEN), buf[4096];
  uint64_t got[NS] = {0}, resp[NS] = {0};
  int srv_fin[NS] = {0}, cli_fin[NS] = {0}, done = 0;
  spkt *pk = malloc(64 * sizeof(*pk));
  p2pq_tstamp now = 0;
  (void)state;
  for (size_t i = 0; i < LEN; i++)
    src[i] = (uint8_t)(i * 7 + (i >> 8));
  sim_map(&cm, 0);
  sim_map(&sm, 1);
  for (int k = 0; k < NS; k++) {
    assert_int_equal(p2pq_streammap_open(&cm, 0, &st), 0);
    if (k == 2)
      p2pq_stream_set_urgency(st, 1);
  }
  for (int round = 0; !done; round++) {
    assert_true(round < 200000);
    now += P2PQ_MS;
    /* client app: keep each upload buffer topped up */
    for (int k = 0; k < NS; k++) {
      st = p2pq_streammap_find(&cm, (uint64_t)k * 4);
      if (st && st->send_state <= P2PQ_SEND_SEND && !st->sb.fin) {
        uint64_t off = st->sb.len;
        size_t n = LEN - off > 20000 ? 20000 : (size_t)(LEN - off);
        if (p2pq_sendbuf_buffered(&st->sb) < 200000)
          assert_true(p2pq_stream_app_write(st, src + off, n, off + n == LEN) == (int64_t)n);
      }
    }
    /* both directions: build, then lose / reorder / deliver, then ack */
    for (int dir = 0; dir < 2; dir++) {
      p2pq_streammap *from = dir ? &sm : &cm, *to = dir ? &cm : &sm;
      int n = 0;
      while (n < 64 && build(from, &pk[n], now))
        n++;
      for (int i = n - 1; i > 0; i--) {
        int j = (int)(srnd() % (uint64_t)(i + 1));
        spkt t = pk[i];
        pk[i] = pk[j];
        pk[j] = t;
      }
      for (int i = 0; i < n; i++) {
        int lost = srnd() % 10 == 0;
        if (!lost)
          deliver(to, &pk[i]);
        verdict(from, &pk[i], !lost);
      }
    }
    /* server app: read uploads, answer after the FIN; client reads answers */
    for (int k = 0; k < NS; k++) {
      int fin = 0;
      int64_t r;
      st = p2pq_streammap_find(&sm, (uint64_t)k * 4);
      while (st && !srv_fin[k] && (r = p2pq_stream_app_read(st, &sm.fc_recv, buf, sizeof(buf), &fin)) > 0) {
        assert_memory_equal(buf, src + got[k], (size_t)r);
        got[k] += (uint64_t)r;
      }
      if (st && fin && !srv_fin[k]) {
        srv_fin[k] = 1;
        assert_true(got[k] == LEN);
        assert_int_equal(p2pq_stream_app_write(st, (const uint8_t *)"done", 4, 1), 4);
      }
      st = p2pq_streammap_find(&cm, (uint64_t)k * 4);
      if (st && !cli_fin[k] && p2pq_stream_readable(st)) {
        r = p2pq_stream_app_read(st, &cm.fc_recv, buf, sizeof(buf), &fin);
        assert_true(r >= 0);
        resp[k] += (uint64_t)r;
        cli_fin[k] = fin;
      }
    }
    p2pq_streammap_gc(&cm);
    p2pq_streammap_gc(&sm);
    done = cm.count == 0 && sm.count == 0;
  }
  for (int k = 0; k < NS; k++)
    assert_true(resp[k] == 4 && cli_fin[k] && srv_fin[k]);
  /* auto-tuning grew the connection window past its 32 KiB start */
  assert_true(sm.fc_recv.window > 32768);
  /* the server returned stream credit: 3 of 4 closed is >= half the window */
  {
    uint64_t max;
    assert_int_equal(p2pq_streammap_max_streams_due(&sm, 0, &max), 1);
    assert_true(max == 7);
  }
  p2pq_streammap_clear(&cm);
  p2pq_streammap_clear(&sm);
  free(pk);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids),
      cmocka_unit_test(test_send_states),
      cmocka_unit_test(test_recv_states),
      cmocka_unit_test(test_local_reset),
      cmocka_unit_test(test_peer_stop_sending),
      cmocka_unit_test(test_peer_reset),
      cmocka_unit_test(test_app_stop),
      cmocka_unit_test(test_flow_control),
      cmocka_unit_test(test_map_limits_and_directions),
      cmocka_unit_test(test_map_max_streams_credit),
      cmocka_unit_test(test_map_10k),
      cmocka_unit_test(test_map_scheduling),
      cmocka_unit_test(test_lossy_transfer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
