/* QUIC frame codecs (RFC 9000 section 19, RFC 9221) and the extension frames:
 * round trips of every type, every truncation, malformed values, ACK ranges,
 * the frame table and the STREAM sizing helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "quic/frame.h"

static const uint8_t data[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static int addr_eq(const p2pq_addr *a, const p2pq_addr *b) { return p2pq_addr_equal(a, b); }

/* Field-by-field comparison of the members each type uses. */
static void assert_frame_eq(const p2pq_frame *a, const p2pq_frame *b) {
  assert_true(a->type == b->type);
  switch (a->type) {
  case P2PQ_FT_PADDING:
    assert_int_equal(a->u.padding_len, b->u.padding_len);
    break;
  case P2PQ_FT_ACK:
  case P2PQ_FT_ACK_ECN:
    assert_true(a->u.ack.largest == b->u.ack.largest);
    assert_true(a->u.ack.ack_delay == b->u.ack.ack_delay);
    assert_true(a->u.ack.first_range == b->u.ack.first_range);
    assert_true(a->u.ack.range_count == b->u.ack.range_count);
    assert_int_equal(a->u.ack.ranges_len, b->u.ack.ranges_len);
    if (a->u.ack.ranges_len)
      assert_memory_equal(a->u.ack.ranges, b->u.ack.ranges, a->u.ack.ranges_len);
    assert_int_equal(a->u.ack.has_ecn, b->u.ack.has_ecn);
    assert_true(a->u.ack.ect0 == b->u.ack.ect0 && a->u.ack.ect1 == b->u.ack.ect1 &&
                a->u.ack.ce == b->u.ack.ce);
    break;
  case P2PQ_FT_RESET_STREAM:
    assert_memory_equal(&a->u.reset_stream, &b->u.reset_stream, sizeof(a->u.reset_stream));
    break;
  case P2PQ_FT_STOP_SENDING:
    assert_memory_equal(&a->u.stop_sending, &b->u.stop_sending, sizeof(a->u.stop_sending));
    break;
  case P2PQ_FT_CRYPTO:
    assert_true(a->u.crypto.offset == b->u.crypto.offset);
    assert_int_equal(a->u.crypto.len, b->u.crypto.len);
    assert_memory_equal(a->u.crypto.data, b->u.crypto.data, a->u.crypto.len);
    break;
  case P2PQ_FT_NEW_TOKEN:
    assert_int_equal(a->u.new_token.len, b->u.new_token.len);
    assert_memory_equal(a->u.new_token.token, b->u.new_token.token, a->u.new_token.len);
    break;
  case P2PQ_FT_MAX_DATA:
  case P2PQ_FT_MAX_STREAMS_BIDI:
  case P2PQ_FT_MAX_STREAMS_UNI:
  case P2PQ_FT_DATA_BLOCKED:
  case P2PQ_FT_STREAMS_BLOCKED_BIDI:
  case P2PQ_FT_STREAMS_BLOCKED_UNI:
  case P2PQ_FT_RETIRE_CONNECTION_ID:
  case P2PQ_FT_REMOVE_ADDRESS:
    assert_true(a->u.max_data.max == b->u.max_data.max); /* one leading varint */
    break;
  case P2PQ_FT_MAX_STREAM_DATA:
  case P2PQ_FT_STREAM_DATA_BLOCKED:
    assert_memory_equal(&a->u.max_stream_data, &b->u.max_stream_data,
                        sizeof(a->u.max_stream_data));
    break;
  case P2PQ_FT_NEW_CONNECTION_ID:
    assert_true(a->u.new_cid.seq == b->u.new_cid.seq);
    assert_true(a->u.new_cid.retire_prior_to == b->u.new_cid.retire_prior_to);
    assert_true(p2pq_cid_equal(&a->u.new_cid.cid, &b->u.new_cid.cid));
    assert_memory_equal(a->u.new_cid.reset_token, b->u.new_cid.reset_token, 16);
    break;
  case P2PQ_FT_PATH_CHALLENGE:
  case P2PQ_FT_PATH_RESPONSE:
    assert_memory_equal(a->u.path.data, b->u.path.data, 8);
    break;
  case P2PQ_FT_CONNECTION_CLOSE:
  case P2PQ_FT_CONNECTION_CLOSE_APP:
    assert_true(a->u.close.error_code == b->u.close.error_code);
    assert_true(a->u.close.frame_type == b->u.close.frame_type);
    assert_int_equal(a->u.close.app, b->u.close.app);
    assert_int_equal(a->u.close.reason_len, b->u.close.reason_len);
    assert_memory_equal(a->u.close.reason, b->u.close.reason, a->u.close.reason_len);
    break;
  case P2PQ_FT_DATAGRAM:
  case P2PQ_FT_DATAGRAM_LEN:
    assert_int_equal(a->u.datagram.len, b->u.datagram.len);
    assert_memory_equal(a->u.datagram.data, b->u.datagram.data, a->u.datagram.len);
    break;
  case P2PQ_FT_OBSERVED_ADDRESS_V4:
  case P2PQ_FT_OBSERVED_ADDRESS_V6:
  case P2PQ_FT_ADD_ADDRESS_V4:
  case P2PQ_FT_ADD_ADDRESS_V6:
    assert_true(a->u.add_address.seq == b->u.add_address.seq);
    assert_true(addr_eq(&a->u.add_address.addr, &b->u.add_address.addr));
    break;
  case P2PQ_FT_PUNCH_ME_NOW_V4:
  case P2PQ_FT_PUNCH_ME_NOW_V6:
    assert_true(a->u.punch_me_now.round == b->u.punch_me_now.round);
    assert_true(a->u.punch_me_now.paired_seq == b->u.punch_me_now.paired_seq);
    assert_true(addr_eq(&a->u.punch_me_now.addr, &b->u.punch_me_now.addr));
    break;
  default:
    if (a->type >= 0x08 && a->type <= 0x0f) {
      assert_true(a->u.stream.stream_id == b->u.stream.stream_id);
      assert_true(a->u.stream.offset == b->u.stream.offset);
      assert_int_equal(a->u.stream.fin, b->u.stream.fin);
      assert_int_equal(a->u.stream.len, b->u.stream.len);
      assert_memory_equal(a->u.stream.data, b->u.stream.data, a->u.stream.len);
    }
    break;
  }
}

/* Encodes f, checks the size helpers and NOBUF, decodes it back, and checks
 * every truncation: an error, except inside the data of a frame that runs to
 * the end of the packet (open_hdr = its header length, else 0). */
static void round_trip(const p2pq_frame *f, size_t open_hdr) {
  uint8_t buf[512];
  p2pq_wr w;
  p2pq_rd r;
  p2pq_frame g;
  size_t n;
  p2pq_wr_init(&w, buf, sizeof(buf));
  assert_int_equal(p2pq_frame_encode(&w, f), 0);
  n = (size_t)(w.p - buf);
  assert_int_equal(p2pq_frame_encoded_len(f), n);
  /* one byte short: nothing written */
  p2pq_wr_init(&w, buf + 256, n - 1);
  assert_int_equal(p2pq_frame_encode(&w, f), P2PQ_ERR_NOBUF);
  assert_ptr_equal(w.p, buf + 256);
  p2pq_rd_init(&r, buf, n);
  assert_int_equal(p2pq_frame_decode(&r, &g), 0);
  assert_int_equal(p2pq_rd_left(&r), 0);
  assert_frame_eq(f, &g);
  for (size_t k = 0; k < n; k++) {
    int rc;
    p2pq_rd_init(&r, buf, k);
    rc = p2pq_frame_decode(&r, &g);
    if (open_hdr && k >= open_hdr) {
      assert_int_equal(rc, 0);
      continue;
    }
    assert_int_equal(rc, P2PQ_ERR_FRAME_ENCODING);
    assert_ptr_equal(r.p, buf); /* reader untouched on error */
  }
}

static void test_simple_frames(void **state) {
  p2pq_frame f;
  (void)state;
  memset(&f, 0, sizeof(f));
  f.type = P2PQ_FT_PING;
  round_trip(&f, 0);
  f.type = P2PQ_FT_HANDSHAKE_DONE;
  round_trip(&f, 0);
  f.type = P2PQ_FT_RESET_STREAM;
  f.u.reset_stream.stream_id = 4;
  f.u.reset_stream.error_code = 0x1234;
  f.u.reset_stream.final_size = P2PQ_VARINT_MAX;
  round_trip(&f, 0);
  memset(&f.u, 0, sizeof(f.u));
  f.type = P2PQ_FT_STOP_SENDING;
  f.u.stop_sending.stream_id = 1ull << 40;
  f.u.stop_sending.error_code = 77;
  round_trip(&f, 0);
  memset(&f.u, 0, sizeof(f.u));
  f.type = P2PQ_FT_MAX_DATA;
  f.u.max_data.max = 1000000;
  round_trip(&f, 0);
  f.type = P2PQ_FT_DATA_BLOCKED;
  f.u.data_blocked.limit = 63;
  round_trip(&f, 0);
  f.type = P2PQ_FT_RETIRE_CONNECTION_ID;
  f.u.retire_cid.seq = 16384;
  round_trip(&f, 0);
  for (uint64_t t = P2PQ_FT_MAX_STREAMS_BIDI; t <= P2PQ_FT_MAX_STREAMS_UNI; t++) {
    f.type = t;
    f.u.max_streams.max = P2PQ_MAX_STREAMS_LIMIT;
    round_trip(&f, 0);
  }
  for (uint64_t t = P2PQ_FT_STREAMS_BLOCKED_BIDI; t <= P2PQ_FT_STREAMS_BLOCKED_UNI; t++) {
    f.type = t;
    f.u.streams_blocked.limit = 100;
    round_trip(&f, 0);
  }
  f.type = P2PQ_FT_MAX_STREAM_DATA;
  f.u.max_stream_data.stream_id = 7;
  f.u.max_stream_data.max = 1 << 20;
  round_trip(&f, 0);
  f.type = P2PQ_FT_STREAM_DATA_BLOCKED;
  f.u.stream_data_blocked.stream_id = 11;
  f.u.stream_data_blocked.limit = 99999;
  round_trip(&f, 0);
  for (uint64_t t = P2PQ_FT_PATH_CHALLENGE; t <= P2PQ_FT_PATH_RESPONSE; t++) {
    f.type = t;
    memcpy(f.u.path.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    round_trip(&f, 0);
  }
}

static void test_data_frames(void **state) {
  p2pq_frame f;
  (void)state;
  memset(&f, 0, sizeof(f));
  f.type = P2PQ_FT_CRYPTO;
  f.u.crypto.offset = 1200;
  f.u.crypto.data = data;
  f.u.crypto.len = 20;
  round_trip(&f, 0);
  f.u.crypto.len = 0;
  round_trip(&f, 0);
  memset(&f.u, 0, sizeof(f.u));
  f.type = P2PQ_FT_NEW_TOKEN;
  f.u.new_token.token = data;
  f.u.new_token.len = 9;
  round_trip(&f, 0);
  memset(&f.u, 0, sizeof(f.u));
  f.type = P2PQ_FT_DATAGRAM_LEN;
  f.u.datagram.data = data;
  f.u.datagram.len = 30;
  round_trip(&f, 0);
  f.type = P2PQ_FT_DATAGRAM;
  round_trip(&f, 1);
  memset(&f.u, 0, sizeof(f.u));
  f.type = P2PQ_FT_CONNECTION_CLOSE;
  f.u.close.error_code = 0x0a;
  f.u.close.frame_type = 0x08;
  f.u.close.reason = data;
  f.u.close.reason_len = 11;
  round_trip(&f, 0);
  f.type = P2PQ_FT_CONNECTION_CLOSE_APP;
  f.u.close.app = 1;
  f.u.close.frame_type = 0;
  f.u.close.reason_len = 0;
  round_trip(&f, 0);
  memset(&f.u, 0, sizeof(f.u));
  f.type = P2PQ_FT_PADDING;
  f.u.padding_len = 1;
  round_trip(&f, 0);
  f.u.padding_len = 37;
  round_trip(&f, 1);
}

/* All eight STREAM types: OFF from a non-zero offset, LEN from the type, FIN. */
static void test_stream(void **state) {
  p2pq_frame f;
  (void)state;
  for (unsigned bits = 0; bits < 8; bits++) {
    memset(&f, 0, sizeof(f));
    f.type = P2PQ_FT_STREAM | bits;
    f.u.stream.stream_id = 0x3d;
    f.u.stream.offset = (bits & P2PQ_STREAM_OFF) ? 1000000 : 0;
    f.u.stream.fin = (bits & P2PQ_STREAM_FIN) != 0;
    f.u.stream.data = data;
    f.u.stream.len = 25;
    round_trip(&f, (bits & P2PQ_STREAM_LEN) ? 0 : p2pq_frame_stream_overhead(0x3d, f.u.stream.offset, 25, 0));
    /* the overhead helper agrees with the encoder */
    assert_int_equal(p2pq_frame_encoded_len(&f),
                     25 + p2pq_frame_stream_overhead(0x3d, f.u.stream.offset, 25,
                                                     (bits & P2PQ_STREAM_LEN) != 0));
    f.u.stream.len = 0; /* empty (FIN-only) frames too */
    round_trip(&f, (bits & P2PQ_STREAM_LEN) ? 0 : p2pq_frame_stream_overhead(0x3d, f.u.stream.offset, 0, 0));
  }
}

static void test_new_cid(void **state) {
  p2pq_frame f;
  (void)state;
  memset(&f, 0, sizeof(f));
  f.type = P2PQ_FT_NEW_CONNECTION_ID;
  f.u.new_cid.seq = 5;
  f.u.new_cid.retire_prior_to = 5;
  p2pq_cid_init(&f.u.new_cid.cid, data, 20);
  memcpy(f.u.new_cid.reset_token, data + 16, 16);
  round_trip(&f, 0);
  p2pq_cid_init(&f.u.new_cid.cid, data, 1);
  f.u.new_cid.retire_prior_to = 0;
  round_trip(&f, 0);
  /* not encodable: empty CID, retire_prior_to > seq */
  f.u.new_cid.cid.len = 0;
  assert_int_equal(p2pq_frame_encoded_len(&f), 0);
  f.u.new_cid.cid.len = 4;
  f.u.new_cid.retire_prior_to = 6;
  assert_int_equal(p2pq_frame_encoded_len(&f), 0);
}

static void test_ext_frames(void **state) {
  static const uint8_t ip4[4] = {203, 0, 113, 7};
  static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  uint8_t buf[64];
  p2pq_wr w;
  p2pq_frame f;
  (void)state;
  memset(&f, 0, sizeof(f));
  f.type = P2PQ_FT_OBSERVED_ADDRESS_V4;
  f.u.observed_address.seq = 3;
  p2pq_addr_v4(&f.u.observed_address.addr, ip4, 4433);
  round_trip(&f, 0);
  /* digest: 11 bytes for IPv4 with a 1-byte sequence number, port big-endian */
  p2pq_wr_init(&w, buf, sizeof(buf));
  assert_int_equal(p2pq_frame_encode(&w, &f), 0);
  assert_int_equal(w.p - buf, 11);
  assert_memory_equal(buf, "\x80\x9f\x81\xa6\x03\xcb\x00\x71\x07\x11\x51", 11);
  /* the family picks the type even if the caller named the other one */
  p2pq_addr_v6(&f.u.observed_address.addr, ip6, 443);
  p2pq_wr_init(&w, buf, sizeof(buf));
  assert_int_equal(p2pq_frame_encode(&w, &f), 0);
  assert_int_equal(w.p - buf, 23);
  assert_int_equal(buf[3], 0xa7);
  f.type = P2PQ_FT_OBSERVED_ADDRESS_V6;
  round_trip(&f, 0);
  f.u.observed_address.addr.family = 0;
  assert_int_equal(p2pq_frame_encoded_len(&f), 0);

  memset(&f, 0, sizeof(f));
  f.type = P2PQ_FT_ADD_ADDRESS_V4;
  f.u.add_address.seq = 70;
  p2pq_addr_v4(&f.u.add_address.addr, ip4, 1);
  round_trip(&f, 0);
  f.type = P2PQ_FT_ADD_ADDRESS_V6;
  p2pq_addr_v6(&f.u.add_address.addr, ip6, 65535);
  round_trip(&f, 0);

  memset(&f, 0, sizeof(f));
  f.type = P2PQ_FT_PUNCH_ME_NOW_V4;
  f.u.punch_me_now.round = 2;
  f.u.punch_me_now.paired_seq = 70;
  p2pq_addr_v4(&f.u.punch_me_now.addr, ip4, 5000);
  round_trip(&f, 0);
  f.type = P2PQ_FT_PUNCH_ME_NOW_V6;
  p2pq_addr_v6(&f.u.punch_me_now.addr, ip6, 5001);
  round_trip(&f, 0);

  memset(&f, 0, sizeof(f));
  f.type = P2PQ_FT_REMOVE_ADDRESS;
  f.u.remove_address.seq = 70;
  round_trip(&f, 0);
  p2pq_wr_init(&w, buf, sizeof(buf));
  assert_int_equal(p2pq_frame_encode(&w, &f), 0);
  assert_memory_equal(buf, "\x80\x3d\x7e\x94\x40\x46", 6);
}

static void test_ack_round_trip(void **state) {
  static const p2pq_ack_range rg[] = {{90, 100}, {80, 85}, {70, 70}, {0, 3}};
  static const uint64_t ecn[3] = {10, 0, 3};
  uint8_t buf[128];
  p2pq_wr w;
  p2pq_rd r;
  p2pq_frame f;
  p2pq_ack_iter it;
  uint64_t s, l;
  size_t i;
  (void)state;
  for (int e = 0; e < 2; e++) {
    p2pq_wr_init(&w, buf, sizeof(buf));
    assert_int_equal(p2pq_frame_encode_ack(&w, rg, 4, 1234, e ? ecn : NULL), 4);
    p2pq_rd_init(&r, buf, (size_t)(w.p - buf));
    assert_int_equal(p2pq_frame_decode(&r, &f), 0);
    assert_int_equal(p2pq_rd_left(&r), 0);
    assert_true(f.type == (e ? P2PQ_FT_ACK_ECN : P2PQ_FT_ACK));
    assert_true(f.u.ack.largest == 100 && f.u.ack.ack_delay == 1234);
    assert_true(f.u.ack.range_count == 3 && f.u.ack.first_range == 10);
    assert_int_equal(f.u.ack.has_ecn, e);
    if (e)
      assert_true(f.u.ack.ect0 == 10 && f.u.ack.ect1 == 0 && f.u.ack.ce == 3);
    p2pq_ack_iter_init(&it, &f);
    for (i = 0; p2pq_ack_iter_next(&it, &s, &l) == 1; i++) {
      assert_true(i < 4);
      assert_true(s == rg[i].smallest && l == rg[i].largest);
    }
    assert_int_equal(i, 4);
    assert_int_equal(p2pq_ack_iter_next(&it, &s, &l), 0);
    round_trip(&f, 0);
  }
}

/* Caps the range count to what fits; a single range still needs to fit. */
static void test_ack_cap(void **state) {
  p2pq_ack_range rg[40];
  uint8_t buf[256];
  p2pq_wr w;
  p2pq_rd r;
  p2pq_frame f;
  p2pq_ack_iter it;
  uint64_t s, l;
  int n;
  (void)state;
  for (int i = 0; i < 40; i++) {
    rg[i].largest = 1000 - 10 * (uint64_t)i;
    rg[i].smallest = rg[i].largest - 3;
  }
  /* type, largest(2), delay, count, first = 6 bytes; each pair 2 bytes */
  p2pq_wr_init(&w, buf, 20);
  n = p2pq_frame_encode_ack(&w, rg, 40, 0, NULL);
  assert_int_equal(n, 8);
  assert_int_equal(w.p - buf, 20);
  p2pq_rd_init(&r, buf, (size_t)(w.p - buf));
  assert_int_equal(p2pq_frame_decode(&r, &f), 0);
  p2pq_ack_iter_init(&it, &f);
  for (int i = 0; i < n; i++) {
    assert_int_equal(p2pq_ack_iter_next(&it, &s, &l), 1);
    assert_true(s == rg[i].smallest && l == rg[i].largest);
  }
  assert_int_equal(p2pq_ack_iter_next(&it, &s, &l), 0);
  p2pq_wr_init(&w, buf, 5);
  assert_int_equal(p2pq_frame_encode_ack(&w, rg, 40, 0, NULL), P2PQ_ERR_NOBUF);
  assert_ptr_equal(w.p, buf);
  p2pq_wr_init(&w, buf, 6);
  assert_int_equal(p2pq_frame_encode_ack(&w, rg, 40, 0, NULL), 1);
  /* unsorted, adjacent (gap of zero missing packets), inverted, empty */
  p2pq_wr_init(&w, buf, sizeof(buf));
  {
    p2pq_ack_range bad[2] = {{10, 20}, {15, 30}};
    assert_int_equal(p2pq_frame_encode_ack(&w, bad, 2, 0, NULL), P2PQ_ERR_INVALID_ARG);
    bad[1].smallest = 5;
    bad[1].largest = 9;
    assert_int_equal(p2pq_frame_encode_ack(&w, bad, 2, 0, NULL), P2PQ_ERR_INVALID_ARG);
    bad[1].largest = 8;
    assert_int_equal(p2pq_frame_encode_ack(&w, bad, 2, 0, NULL), 2);
    bad[0].smallest = 21;
    assert_int_equal(p2pq_frame_encode_ack(&w, bad, 2, 0, NULL), P2PQ_ERR_INVALID_ARG);
    assert_int_equal(p2pq_frame_encode_ack(&w, bad, 0, 0, NULL), P2PQ_ERR_INVALID_ARG);
  }
}

static int decode_bytes(const uint8_t *p, size_t n) {
  p2pq_rd r;
  p2pq_frame f;
  int rc;
  p2pq_rd_init(&r, p, n);
  rc = p2pq_frame_decode(&r, &f);
  if (rc)
    assert_ptr_equal(r.p, p);
  return rc;
}
#define DEC(...)                                                                             \
  decode_bytes((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static void test_ack_malformed(void **state) {
  (void)state;
  /* largest 5, first range 6: below zero */
  assert_int_equal(DEC(0x02, 5, 0, 0, 6), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x02, 5, 0, 0, 5), 0);
  /* largest 10, first 2 -> smallest 8; gap 6 -> next largest 0; len 0 ok */
  assert_int_equal(DEC(0x02, 10, 0, 1, 2, 6, 0), 0);
  /* gap 7 would put the next largest at -1 */
  assert_int_equal(DEC(0x02, 10, 0, 1, 2, 7, 0), P2PQ_ERR_FRAME_ENCODING);
  /* gap 5 -> next largest 1, length 2 -> -1 */
  assert_int_equal(DEC(0x02, 10, 0, 1, 2, 5, 2), P2PQ_ERR_FRAME_ENCODING);
  /* smallest 1: no room for any further range */
  assert_int_equal(DEC(0x02, 10, 0, 1, 9, 0, 0), P2PQ_ERR_FRAME_ENCODING);
  /* huge range count with no ranges */
  assert_int_equal(DEC(0x02, 10, 0, 0xbf, 0xff, 0xff, 0xff, 2), P2PQ_ERR_FRAME_ENCODING);
  /* ACK_ECN missing its counts */
  assert_int_equal(DEC(0x03, 10, 0, 0, 2, 1, 1), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x03, 10, 0, 0, 2, 1, 1, 1), 0);
}

static void test_iter_rejects_bad_frames(void **state) {
  /* a hand-built frame (not from the decoder) with an underflowing range */
  static const uint8_t pairs[] = {0, 0, 50, 0};
  p2pq_frame f;
  p2pq_ack_iter it;
  uint64_t s, l;
  (void)state;
  memset(&f, 0, sizeof(f));
  f.type = P2PQ_FT_ACK;
  f.u.ack.largest = 20;
  f.u.ack.first_range = 0;
  f.u.ack.range_count = 2;
  f.u.ack.ranges = pairs;
  f.u.ack.ranges_len = sizeof(pairs);
  p2pq_ack_iter_init(&it, &f);
  assert_int_equal(p2pq_ack_iter_next(&it, &s, &l), 1);
  assert_true(s == 20 && l == 20);
  assert_int_equal(p2pq_ack_iter_next(&it, &s, &l), 1);
  assert_true(s == 18 && l == 18);
  assert_true(p2pq_ack_iter_next(&it, &s, &l) < 0);
  f.u.ack.first_range = 21;
  p2pq_ack_iter_init(&it, &f);
  assert_true(p2pq_ack_iter_next(&it, &s, &l) < 0);
  /* no ranges at all */
  f.u.ack.first_range = 0;
  f.u.ack.range_count = 0;
  f.u.ack.ranges = NULL;
  f.u.ack.ranges_len = 0;
  p2pq_ack_iter_init(&it, &f);
  assert_int_equal(p2pq_ack_iter_next(&it, &s, &l), 1);
  assert_int_equal(p2pq_ack_iter_next(&it, &s, &l), 0);
}

static void test_malformed(void **state) {
  (void)state;
  /* unknown types, in 1, 2 and 4 bytes */
  assert_int_equal(DEC(0x1f), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x21), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x40, 0x40), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x80, 0x9f, 0x81, 0xa5, 0, 0, 0, 0, 0, 0, 0), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x80, 0x3d, 0x7e, 0x95, 0), P2PQ_ERR_FRAME_ENCODING);
  /* a known type in a longer encoding than needed */
  assert_int_equal(DEC(0x40, 0x01), P2PQ_ERR_PROTOCOL);
  assert_int_equal(DEC(0x80, 0x00, 0x00, 0x1e), P2PQ_ERR_PROTOCOL);
  /* STREAM / CRYPTO past 2^62-1 */
  assert_int_equal(DEC(0x0e, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 'x'),
                   P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x0e, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0), 0);
  assert_int_equal(DEC(0x0c, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 'x', 'y'),
                   P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 'x'),
                   P2PQ_ERR_FRAME_ENCODING);
  /* STREAM / CRYPTO / DATAGRAM / NEW_TOKEN / CLOSE length past the end */
  assert_int_equal(DEC(0x0a, 0, 3, 'a', 'b'), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x06, 0, 3, 'a', 'b'), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x31, 3, 'a', 'b'), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x07, 3, 'a', 'b'), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x1c, 0, 0, 5, 'a'), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x1d, 0, 5, 'a'), P2PQ_ERR_FRAME_ENCODING);
  /* empty NEW_TOKEN */
  assert_int_equal(DEC(0x07, 0), P2PQ_ERR_FRAME_ENCODING);
  /* NEW_CONNECTION_ID: length 0, length 21, retire_prior_to > seq */
  assert_int_equal(DEC(0x18, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
                   P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x18, 1, 0, 21, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                       18, 19, 20, 21, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
                   P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x18, 1, 2, 1, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
                   P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x18, 2, 2, 1, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
                   0);
  /* MAX_STREAMS / STREAMS_BLOCKED over 2^60 */
  assert_int_equal(DEC(0x12, 0xd0, 0, 0, 0, 0, 0, 0, 1), P2PQ_ERR_FRAME_ENCODING);
  assert_int_equal(DEC(0x13, 0xd0, 0, 0, 0, 0, 0, 0, 0), 0);
  assert_int_equal(DEC(0x17, 0xd0, 0, 0, 0, 0, 0, 0, 1), P2PQ_ERR_FRAME_ENCODING);
  {
    static const uint8_t none[1];
    assert_int_equal(decode_bytes(none, 0), P2PQ_ERR_FRAME_ENCODING);
  }
}

/* A packet payload decodes frame after frame, padding collapsed. */
static void test_sequence(void **state) {
  static const uint8_t pkt[] = {0x01, 0x06, 0x00, 0x02, 'h', 'i', 0x00, 0x00, 0x00,
                                0x1e, 0x0d, 0x04, 0x41, 0x00, 'a', 'b', 'c'};
  static const uint64_t types[] = {0x01, 0x06, 0x00, 0x1e, 0x0d};
  p2pq_rd r;
  p2pq_frame f;
  size_t i = 0;
  (void)state;
  p2pq_rd_init(&r, pkt, sizeof(pkt));
  while (p2pq_rd_left(&r)) {
    assert_int_equal(p2pq_frame_decode(&r, &f), 0);
    assert_true(i < 5);
    assert_true(f.type == types[i]);
    if (f.type == 0x00)
      assert_int_equal(f.u.padding_len, 3);
    if (f.type == 0x06)
      assert_memory_equal(f.u.crypto.data, "hi", 2);
    i++;
  }
  assert_int_equal(i, 5);
  assert_true(f.u.stream.stream_id == 4 && f.u.stream.offset == 0x100 && f.u.stream.fin);
  assert_int_equal(f.u.stream.len, 3);
  assert_ptr_equal(f.u.stream.data, pkt + 14); /* zero-copy */
}

static void test_table(void **state) {
  unsigned fl;
  (void)state;
  fl = p2pq_frame_flags(P2PQ_FT_PING);
  assert_true((fl & P2PQ_FF_ACK_ELICITING) && (fl & P2PQ_FF_IN_INITIAL) && (fl & P2PQ_FF_IN_0RTT));
  fl = p2pq_frame_flags(P2PQ_FT_ACK_ECN);
  assert_false(fl & (P2PQ_FF_ACK_ELICITING | P2PQ_FF_IN_0RTT | P2PQ_FF_CONGESTION_CONTROLLED));
  assert_true(fl & P2PQ_FF_IN_HANDSHAKE);
  fl = p2pq_frame_flags(P2PQ_FT_PADDING);
  assert_true((fl & P2PQ_FF_PROBING) && (fl & P2PQ_FF_CONGESTION_CONTROLLED));
  assert_false(fl & P2PQ_FF_ACK_ELICITING);
  fl = p2pq_frame_flags(P2PQ_FT_PATH_RESPONSE);
  assert_true(fl == (P2PQ_FF_ACK_ELICITING | P2PQ_FF_PROBING | P2PQ_FF_IN_1RTT |
                     P2PQ_FF_CONGESTION_CONTROLLED));
  assert_true(p2pq_frame_flags(P2PQ_FT_CONNECTION_CLOSE) & P2PQ_FF_IN_INITIAL);
  assert_false(p2pq_frame_flags(P2PQ_FT_CONNECTION_CLOSE_APP) & P2PQ_FF_IN_INITIAL);
  assert_false(p2pq_frame_flags(P2PQ_FT_CONNECTION_CLOSE) & P2PQ_FF_ACK_ELICITING);
  assert_false(p2pq_frame_flags(P2PQ_FT_STREAM | 7) & P2PQ_FF_IN_HANDSHAKE);
  assert_false(p2pq_frame_flags(P2PQ_FT_NEW_TOKEN) & P2PQ_FF_IN_0RTT);
  fl = p2pq_frame_flags(P2PQ_FT_OBSERVED_ADDRESS_V6);
  assert_true((fl & P2PQ_FF_PROBING) && (fl & P2PQ_FF_IN_0RTT) && (fl & P2PQ_FF_ACK_ELICITING));
  assert_false(fl & (P2PQ_FF_IN_INITIAL | P2PQ_FF_IN_HANDSHAKE));
  assert_false(p2pq_frame_flags(P2PQ_FT_PUNCH_ME_NOW_V4) & P2PQ_FF_PROBING);
  assert_true(p2pq_frame_flags(P2PQ_FT_DATAGRAM) & P2PQ_FF_IN_0RTT);
  assert_int_equal(p2pq_frame_flags(0x1f), 0);
  assert_string_equal(p2pq_frame_name(0x0f), "stream");
  assert_string_equal(p2pq_frame_name(0x13), "max_streams");
  assert_string_equal(p2pq_frame_name(P2PQ_FT_OBSERVED_ADDRESS_V4), "observed_address");
  assert_string_equal(p2pq_frame_name(P2PQ_FT_REMOVE_ADDRESS), "remove_address");
  assert_string_equal(p2pq_frame_name(0x20), "unknown");
}

/* The max-data helpers fill the space exactly (or leave 1 byte when a varint
 * length step makes an exact fit impossible). */
static void test_stream_sizing(void **state) {
  p2pq_frame f;
  static uint8_t big[20000];
  (void)state;
  memset(&f, 0, sizeof(f));
  f.type = P2PQ_FT_STREAM | P2PQ_STREAM_LEN;
  f.u.stream.stream_id = 8;
  f.u.stream.offset = 70000;
  f.u.stream.data = big;
  for (size_t space = 0; space < 17000; space += (space < 100 ? 1 : 37)) {
    size_t d = p2pq_frame_stream_max_data(8, 70000, space, 1);
    if (d == 0)
      continue;
    f.u.stream.len = d;
    assert_true(p2pq_frame_encoded_len(&f) <= space);
    f.u.stream.len = d + 1;
    assert_true(p2pq_frame_encoded_len(&f) > space);
  }
  assert_int_equal(p2pq_frame_stream_max_data(8, 70000, 5, 1), 0);
  assert_int_equal(p2pq_frame_stream_max_data(8, 70000, 6, 0), 0);
  assert_int_equal(p2pq_frame_stream_max_data(8, 70000, 7, 0), 1);
  assert_int_equal(p2pq_frame_stream_max_data(8, 0, 1000, 0), 998);
  assert_int_equal(p2pq_frame_crypto_max_data(0, 1000), 1000 - 4);
  assert_int_equal(p2pq_frame_crypto_overhead(0, 996), 4);
  assert_int_equal(p2pq_frame_crypto_max_data(0, 66), 63);
  assert_int_equal(p2pq_frame_crypto_max_data(0, 67), 63);
  assert_int_equal(p2pq_frame_crypto_max_data(0, 68), 64);
  assert_int_equal(p2pq_frame_datagram_overhead(100, 1), 3);
  assert_int_equal(p2pq_frame_datagram_overhead(100, 0), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_simple_frames),
      cmocka_unit_test(test_data_frames),
      cmocka_unit_test(test_stream),
      cmocka_unit_test(test_new_cid),
      cmocka_unit_test(test_ext_frames),
      cmocka_unit_test(test_ack_round_trip),
      cmocka_unit_test(test_ack_cap),
      cmocka_unit_test(test_ack_malformed),
      cmocka_unit_test(test_iter_rejects_bad_frames),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_sequence),
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_stream_sizing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
