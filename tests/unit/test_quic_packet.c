/* QUIC packet headers (RFC 9000 section 17, RFC 8999) and packet numbers
 * (RFC 9000 Appendix A), with the RFC 9001 Appendix A packets as vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "quic/packet.h"

static const uint8_t a2_dcid[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
static const uint8_t a3_scid[8] = {0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5};

/* RFC 9001 A.2: the client Initial's unprotected header (packet is 1200 bytes). */
static const uint8_t a2_hdr[] = {0xc3, 0x00, 0x00, 0x00, 0x01, 0x08, 0x83, 0x94,
                                 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08, 0x00, 0x00,
                                 0x44, 0x9e, 0x00, 0x00, 0x00, 0x02};
/* RFC 9001 A.3: the server Initial's unprotected header (Length 117). */
static const uint8_t a3_hdr[] = {0xc1, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0xf0, 0x67, 0xa5,
                                 0x50, 0x2a, 0x42, 0x62, 0xb5, 0x00, 0x40, 0x75, 0x00, 0x01};
/* RFC 9001 A.4: Retry. */
static const uint8_t a4_retry[] = {0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0xf0, 0x67, 0xa5,
                                   0x50, 0x2a, 0x42, 0x62, 0xb5, 0x74, 0x6f, 0x6b, 0x65, 0x6e,
                                   0x04, 0xa2, 0x65, 0xba, 0x2e, 0xff, 0x4d, 0x82, 0x90, 0x58,
                                   0xfb, 0x3f, 0x0f, 0x24, 0x96, 0xba};

static void test_rfc9001_client_initial(void **state) {
  uint8_t pkt[1200];
  p2pq_pkt_hdr h;
  p2pq_cid dcid;
  (void)state;
  memset(pkt, 0, sizeof(pkt));
  memcpy(pkt, a2_hdr, sizeof(a2_hdr));
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), 0);
  assert_int_equal(h.type, P2PQ_PKT_INITIAL);
  assert_int_equal(h.version, 1);
  assert_int_equal(h.dcid.len, 8);
  assert_memory_equal(h.dcid.data, a2_dcid, 8);
  assert_int_equal(h.scid.len, 0);
  assert_int_equal(h.token_len, 0);
  assert_int_equal(h.pn_offset, 18);
  assert_int_equal(h.pkt_len, 1200);
  assert_int_equal(p2pq_pkt_peek_dcid(pkt, sizeof(pkt), 8, &dcid), 0);
  assert_true(p2pq_cid_equal(&dcid, &h.dcid));
  /* one byte short: Length (1182) now runs past the datagram */
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt) - 1, 8, &h), P2PQ_ERR_MALFORMED);
}

static void test_rfc9001_client_initial_write(void **state) {
  uint8_t buf[64];
  p2pq_wr w;
  p2pq_cid dcid, scid;
  size_t loff, pnoff;
  (void)state;
  p2pq_cid_init(&dcid, a2_dcid, 8);
  p2pq_cid_init(&scid, NULL, 0);
  p2pq_wr_init(&w, buf, sizeof(buf));
  assert_int_equal(p2pq_pkt_write_long(&w, P2PQ_PKT_INITIAL, 1, &dcid, &scid, NULL, 0, 2, 4,
                                       &loff, &pnoff),
                   0);
  assert_int_equal(loff, 16);
  assert_int_equal(pnoff, 18);
  p2pq_pkt_patch_length(buf, loff, 1182);
  assert_int_equal((size_t)(w.p - buf), sizeof(a2_hdr));
  assert_memory_equal(buf, a2_hdr, sizeof(a2_hdr));
  assert_int_equal(p2pq_pkt_long_hdr_len(P2PQ_PKT_INITIAL, &dcid, &scid, 0, 4), sizeof(a2_hdr));
}

static void test_rfc9001_server_initial(void **state) {
  uint8_t pkt[20 + 115 + 30]; /* header + rest of Length + a coalesced tail */
  uint8_t buf[64];
  p2pq_pkt_hdr h;
  p2pq_wr w;
  p2pq_cid dcid, scid;
  size_t loff, pnoff;
  (void)state;
  memset(pkt, 0xaa, sizeof(pkt));
  memcpy(pkt, a3_hdr, sizeof(a3_hdr));
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), 0);
  assert_int_equal(h.type, P2PQ_PKT_INITIAL);
  assert_int_equal(h.dcid.len, 0);
  assert_int_equal(h.scid.len, 8);
  assert_memory_equal(h.scid.data, a3_scid, 8);
  assert_int_equal(h.pn_offset, 18);
  assert_int_equal(h.pkt_len, 18 + 117); /* the coalesced tail is not ours */
  p2pq_cid_init(&dcid, NULL, 0);
  p2pq_cid_init(&scid, a3_scid, 8);
  p2pq_wr_init(&w, buf, sizeof(buf));
  assert_int_equal(p2pq_pkt_write_long(&w, P2PQ_PKT_INITIAL, 1, &dcid, &scid, NULL, 0, 1, 2,
                                       &loff, &pnoff),
                   0);
  p2pq_pkt_patch_length(buf, loff, 117);
  assert_memory_equal(buf, a3_hdr, sizeof(a3_hdr));
}

static void test_rfc9001_retry(void **state) {
  p2pq_pkt_hdr h;
  uint8_t buf[64];
  p2pq_wr w;
  p2pq_cid dcid, scid;
  (void)state;
  assert_int_equal(p2pq_pkt_parse(a4_retry, sizeof(a4_retry), 8, &h), 0);
  assert_int_equal(h.type, P2PQ_PKT_RETRY);
  assert_int_equal(h.scid.len, 8);
  assert_int_equal(h.token_len, 5);
  assert_memory_equal(h.token, "token", 5);
  assert_ptr_equal(h.retry_tag, a4_retry + sizeof(a4_retry) - 16);
  assert_int_equal(h.pkt_len, sizeof(a4_retry));
  /* the writer reproduces everything but the tag (and the unused bits) */
  p2pq_cid_init(&dcid, NULL, 0);
  p2pq_cid_init(&scid, a3_scid, 8);
  p2pq_wr_init(&w, buf, sizeof(buf));
  assert_int_equal(p2pq_pkt_write_retry(&w, 1, &dcid, &scid, (const uint8_t *)"token", 5), 0);
  assert_int_equal((size_t)(w.p - buf), sizeof(a4_retry) - 16);
  assert_int_equal(buf[0] & 0xf0, 0xf0);
  assert_memory_equal(buf + 1, a4_retry + 1, sizeof(a4_retry) - 17);
  /* no token (only the tag) or a short tag */
  assert_int_equal(p2pq_pkt_parse(a4_retry, sizeof(a4_retry) - 5, 8, &h), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_pkt_parse(a4_retry, 15 + 15, 8, &h), P2PQ_ERR_TRUNCATED);
  /* empty token is not writable */
  p2pq_wr_init(&w, buf, sizeof(buf));
  assert_int_equal(p2pq_pkt_write_retry(&w, 1, &dcid, &scid, NULL, 0), P2PQ_ERR_INVALID_ARG);
}

/* RFC 9001 A.5: short header 0x42, empty DCID, 3-byte packet number. */
static void test_rfc9001_short(void **state) {
  static const uint8_t pkt[] = {0x42, 0x00, 0xbf, 0xf4, 0x01};
  p2pq_pkt_hdr h;
  (void)state;
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 0, &h), 0);
  assert_int_equal(h.type, P2PQ_PKT_1RTT);
  assert_int_equal(h.dcid.len, 0);
  assert_int_equal(h.pn_offset, 1);
  assert_int_equal(h.pkt_len, sizeof(pkt));
}

static void make_cids(p2pq_cid *d, p2pq_cid *s) {
  static const uint8_t dd[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  static const uint8_t ss[5] = {0xa, 0xb, 0xc, 0xd, 0xe};
  p2pq_cid_init(d, dd, 20);
  p2pq_cid_init(s, ss, 5);
}

/* Writes a long header packet with a payload of plen bytes and parses it back;
 * every truncation must fail. */
static void long_round_trip(p2pq_pkt_type type, const uint8_t *token, size_t tlen) {
  uint8_t pkt[256];
  p2pq_wr w;
  p2pq_cid d, s, peek;
  p2pq_pkt_hdr h;
  size_t loff, pnoff, total, plen = 40;
  make_cids(&d, &s);
  p2pq_wr_init(&w, pkt, sizeof(pkt));
  assert_int_equal(
      p2pq_pkt_write_long(&w, type, 1, &d, &s, token, tlen, 0x1234, 2, &loff, &pnoff), 0);
  memset(w.p, 0x5c, plen);
  total = (size_t)(w.p - pkt) + plen;
  p2pq_pkt_patch_length(pkt, loff, 2 + plen);
  assert_int_equal(p2pq_pkt_parse(pkt, total, 8, &h), 0);
  assert_int_equal(h.type, type);
  assert_int_equal(h.version, 1);
  assert_true(p2pq_cid_equal(&h.dcid, &d));
  assert_true(p2pq_cid_equal(&h.scid, &s));
  assert_int_equal(h.token_len, tlen);
  if (tlen)
    assert_memory_equal(h.token, token, tlen);
  assert_int_equal(h.pn_offset, pnoff);
  assert_int_equal(pkt[pnoff], 0x12);
  assert_int_equal(pkt[pnoff + 1], 0x34);
  assert_int_equal(pkt[0] & 3, 1); /* pn_len - 1 */
  assert_int_equal(h.pkt_len, total);
  assert_int_equal(p2pq_pkt_peek_dcid(pkt, total, 8, &peek), 0);
  assert_true(p2pq_cid_equal(&peek, &d));
  for (size_t n = 0; n < total; n++)
    assert_true(p2pq_pkt_parse(pkt, n, 8, &h) < 0);
}

static void test_long_round_trips(void **state) {
  static const uint8_t tok[] = "a retry token";
  (void)state;
  long_round_trip(P2PQ_PKT_INITIAL, NULL, 0);
  long_round_trip(P2PQ_PKT_INITIAL, tok, sizeof(tok));
  long_round_trip(P2PQ_PKT_0RTT, NULL, 0);
  long_round_trip(P2PQ_PKT_HANDSHAKE, NULL, 0);
}

static void test_short_round_trip(void **state) {
  uint8_t pkt[64];
  p2pq_wr w;
  p2pq_cid d, s, peek;
  p2pq_pkt_hdr h;
  size_t pnoff;
  (void)state;
  make_cids(&d, &s);
  for (int spin = 0; spin < 2; spin++)
    for (int kp = 0; kp < 2; kp++)
      for (size_t pl = 1; pl <= 4; pl++) {
        p2pq_wr_init(&w, pkt, sizeof(pkt));
        assert_int_equal(p2pq_pkt_write_short(&w, &s, spin, kp, 0xa1b2c3d4, pl, &pnoff), 0);
        assert_int_equal(pnoff, 6);
        assert_int_equal((size_t)(w.p - pkt), 6 + pl);
        assert_int_equal(pkt[0], 0x40 | (spin << 5) | (kp << 2) | (int)(pl - 1));
        assert_int_equal(pkt[pnoff + pl - 1], 0xd4);
        assert_int_equal(p2pq_pkt_parse(pkt, 6 + pl, 5, &h), 0);
        assert_int_equal(h.type, P2PQ_PKT_1RTT);
        assert_true(p2pq_cid_equal(&h.dcid, &s));
        assert_int_equal(h.pn_offset, 6);
        assert_int_equal(h.pkt_len, 6 + pl);
        assert_int_equal(p2pq_pkt_peek_dcid(pkt, 6 + pl, 5, &peek), 0);
        assert_true(p2pq_cid_equal(&peek, &s));
        for (size_t n = 0; n <= 6; n++)
          assert_int_equal(p2pq_pkt_parse(pkt, n, 5, &h), P2PQ_ERR_TRUNCATED);
      }
  /* we cannot have CIDs over 20 bytes */
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 21, &h), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pkt_peek_dcid(pkt, 3, 5, &peek), P2PQ_ERR_TRUNCATED);
}

static void test_vn(void **state) {
  static const uint32_t vers[] = {0x00000001, 0x6b3343cf, 0x1a2a3a4a};
  uint8_t pkt[64];
  p2pq_wr w;
  p2pq_cid d, s;
  p2pq_pkt_hdr h;
  size_t total;
  (void)state;
  make_cids(&d, &s);
  p2pq_wr_init(&w, pkt, sizeof(pkt));
  assert_int_equal(p2pq_pkt_write_vn(&w, &s, &d, vers, 3, 0x3f), 0);
  total = (size_t)(w.p - pkt);
  assert_int_equal(total, 7 + 5 + 20 + 12);
  assert_int_equal(pkt[0], 0x80 | 0x3f);
  assert_int_equal(p2pq_pkt_parse(pkt, total, 8, &h), 0);
  assert_int_equal(h.type, P2PQ_PKT_VN);
  assert_int_equal(h.version, 0);
  assert_true(p2pq_cid_equal(&h.dcid, &s));
  assert_true(p2pq_cid_equal(&h.scid, &d));
  assert_int_equal(h.vn_count, 3);
  assert_memory_equal(h.vn_versions + 4, "\x6b\x33\x43\xcf", 4);
  /* VN ignores the fixed bit */
  pkt[0] = 0x80;
  assert_int_equal(p2pq_pkt_parse(pkt, total, 8, &h), 0);
  /* partial version, empty list, truncated header */
  assert_int_equal(p2pq_pkt_parse(pkt, total - 1, 8, &h), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_pkt_parse(pkt, total - 12, 8, &h), P2PQ_ERR_MALFORMED);
  for (size_t n = 0; n < total - 12; n++)
    assert_true(p2pq_pkt_parse(pkt, n, 8, &h) < 0);
  /* too small a buffer: nothing written */
  p2pq_wr_init(&w, pkt, total - 1);
  assert_int_equal(p2pq_pkt_write_vn(&w, &s, &d, vers, 3, 0), P2PQ_ERR_NOBUF);
  assert_ptr_equal(w.p, pkt);
  assert_int_equal(p2pq_pkt_write_vn(&w, &s, &d, vers, 0, 0), P2PQ_ERR_INVALID_ARG);
}

static void test_malformed(void **state) {
  uint8_t pkt[64];
  p2pq_pkt_hdr h;
  (void)state;
  memset(pkt, 0, sizeof(pkt));
  memcpy(pkt, a3_hdr, sizeof(a3_hdr));
  pkt[17] = 10; /* Length 10: fits in 64 */
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), 0);
  /* fixed bit clear in a v1 long header and in a short header */
  pkt[0] &= (uint8_t)~0x40;
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), P2PQ_ERR_MALFORMED);
  pkt[0] |= 0x40;
  /* Length zero, Length past the datagram */
  pkt[17] = 0;
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), P2PQ_ERR_MALFORMED);
  pkt[16] = 0x41;
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), P2PQ_ERR_MALFORMED);
  pkt[16] = 0x40;
  pkt[17] = 10;
  /* DCID length 21 */
  pkt[5] = 21;
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_pkt_peek_dcid(pkt, sizeof(pkt), 8, &h.dcid), P2PQ_ERR_MALFORMED);
  pkt[5] = 0;
  /* SCID length 21 */
  pkt[6] = 21;
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), P2PQ_ERR_MALFORMED);
  pkt[6] = 8;
  /* Initial token length past the end */
  pkt[15] = 0x7f;
  assert_true(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h) < 0);
  pkt[15] = 0;
  /* short header with the fixed bit clear */
  pkt[0] = 0x01;
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), P2PQ_ERR_MALFORMED);
  assert_int_equal(p2pq_pkt_parse(pkt, 0, 8, &h), P2PQ_ERR_TRUNCATED);
}

static void test_unknown_version(void **state) {
  uint8_t pkt[64];
  p2pq_pkt_hdr h;
  (void)state;
  memset(pkt, 0x11, sizeof(pkt));
  memcpy(pkt, a2_hdr, sizeof(a2_hdr));
  pkt[1] = 0xff; /* version 0xff000001 */
  pkt[0] = 0x80; /* other versions need not set the fixed bit */
  pkt[14] = 3;   /* SCID of 3 bytes */
  assert_int_equal(p2pq_pkt_parse(pkt, sizeof(pkt), 8, &h), P2PQ_ERR_UNSUPPORTED);
  assert_int_equal(h.version, 0xff000001u);
  assert_int_equal(h.dcid.len, 8);
  assert_memory_equal(h.dcid.data, a2_dcid, 8);
  assert_int_equal(h.scid.len, 3);
  assert_int_equal(h.scid.data[0], 0x00);
  assert_int_equal(h.scid.data[2], 0x9e);
}

static void test_writer_errors(void **state) {
  uint8_t buf[64];
  p2pq_wr w;
  p2pq_cid d, s;
  size_t need, loff, pnoff;
  static const uint8_t tok[4] = {1, 2, 3, 4};
  (void)state;
  make_cids(&d, &s);
  need = p2pq_pkt_long_hdr_len(P2PQ_PKT_INITIAL, &d, &s, 4, 3);
  p2pq_wr_init(&w, buf, need - 1);
  assert_int_equal(p2pq_pkt_write_long(&w, P2PQ_PKT_INITIAL, 1, &d, &s, tok, 4, 7, 3, &loff,
                                       &pnoff),
                   P2PQ_ERR_NOBUF);
  assert_ptr_equal(w.p, buf);
  p2pq_wr_init(&w, buf, need);
  assert_int_equal(p2pq_pkt_write_long(&w, P2PQ_PKT_INITIAL, 1, &d, &s, tok, 4, 7, 3, &loff,
                                       &pnoff),
                   0);
  assert_int_equal(p2pq_wr_left(&w), 0);
  p2pq_wr_init(&w, buf, sizeof(buf));
  /* token only in Initial; pn_len 1..4; Retry/VN/1-RTT not long-writable */
  assert_int_equal(p2pq_pkt_write_long(&w, P2PQ_PKT_HANDSHAKE, 1, &d, &s, tok, 4, 7, 3, &loff,
                                       &pnoff),
                   P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pkt_write_long(&w, P2PQ_PKT_HANDSHAKE, 1, &d, &s, NULL, 0, 7, 5, &loff,
                                       &pnoff),
                   P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pkt_write_long(&w, P2PQ_PKT_RETRY, 1, &d, &s, NULL, 0, 7, 1, &loff,
                                       &pnoff),
                   P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pkt_write_short(&w, &d, 0, 0, 1, 0, &pnoff), P2PQ_ERR_INVALID_ARG);
  p2pq_wr_init(&w, buf, 1 + 20 + 1);
  assert_int_equal(p2pq_pkt_write_short(&w, &d, 0, 0, 1, 2, &pnoff), P2PQ_ERR_NOBUF);
  assert_ptr_equal(w.p, buf);
  p2pq_wr_init(&w, buf, 7 + 20 + 5 + 3);
  assert_int_equal(p2pq_pkt_write_retry(&w, 1, &d, &s, tok, 4), P2PQ_ERR_NOBUF);
  assert_ptr_equal(w.p, buf);
  assert_int_equal(p2pq_cid_init(&d, buf, 21), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(d.len, 0);
}

static void test_pn_decode(void **state) {
  (void)state;
  /* RFC 9000 A.3 */
  assert_true(p2pq_pkt_decode_pn(0xa82f30ea, 0x9b32, 16) == 0xa82f9b32);
  /* nothing received yet */
  assert_true(p2pq_pkt_decode_pn(UINT64_MAX, 0, 8) == 0);
  assert_true(p2pq_pkt_decode_pn(UINT64_MAX, 5, 8) == 5);
  /* wrap forward: expected 0x100, truncated 0x01 -> 0x101 */
  assert_true(p2pq_pkt_decode_pn(0xff, 0x01, 8) == 0x101);
  /* stays in the current window */
  assert_true(p2pq_pkt_decode_pn(0x1fe, 0xff, 8) == 0x1ff);
  /* wrap backward: expected 0x201, truncated 0xf0 -> 0x1f0 */
  assert_true(p2pq_pkt_decode_pn(0x200, 0xf0, 8) == 0x1f0);
  /* at the half-window edge (candidate == expected - hwin moves up) */
  assert_true(p2pq_pkt_decode_pn(0x17f, 0x80, 8) == 0x180);
  assert_true(p2pq_pkt_decode_pn(0x180, 0x01, 8) == 0x201);
  /* no window below zero */
  assert_true(p2pq_pkt_decode_pn(2, 0xfe, 8) == 0xfe);
  /* no wrap past 2^62 */
  assert_true(p2pq_pkt_decode_pn((1ull << 62) - 2, 0x00, 8) == (1ull << 62) - 256);
  /* 32-bit packet numbers */
  assert_true(p2pq_pkt_decode_pn(0x1ffffffffull, 0x00000005, 32) == 0x200000005ull);
}

static void test_pn_len(void **state) {
  (void)state;
  /* RFC 9000 A.2 */
  assert_int_equal(p2pq_pkt_pn_len(0xac5c02, 0xabe8b3), 2);
  assert_int_equal(p2pq_pkt_pn_len(0xace8fe, 0xabe8b3), 3);
  assert_int_equal(p2pq_pkt_pn_len(0, UINT64_MAX), 1);
  assert_int_equal(p2pq_pkt_pn_len(127, UINT64_MAX), 1); /* 128 unacked */
  assert_int_equal(p2pq_pkt_pn_len(128, UINT64_MAX), 2);
  assert_int_equal(p2pq_pkt_pn_len(1000, 872), 1);
  assert_int_equal(p2pq_pkt_pn_len(1000, 871), 2);
  assert_int_equal(p2pq_pkt_pn_len(1ull << 40, 0), 4);
  assert_int_equal(p2pq_pkt_pn_len(5, 10), 4); /* acked ahead of pn: widest */
  assert_int_equal(p2pq_pkt_pn_len((1ull << 31) - 1, UINT64_MAX), 4);
  assert_int_equal(p2pq_pkt_pn_len((1ull << 23) - 1, UINT64_MAX), 3);
  /* the chosen length decodes back for every distance */
  for (uint64_t acked = 0; acked < 3; acked++)
    for (uint64_t pn = acked + 1; pn < acked + 70000; pn += 7) {
      size_t n = p2pq_pkt_pn_len(pn, acked);
      uint64_t mask = (1ull << (8 * n)) - 1;
      assert_true(p2pq_pkt_decode_pn(acked, pn & mask, 8 * n) == pn);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc9001_client_initial),
      cmocka_unit_test(test_rfc9001_client_initial_write),
      cmocka_unit_test(test_rfc9001_server_initial),
      cmocka_unit_test(test_rfc9001_retry),
      cmocka_unit_test(test_rfc9001_short),
      cmocka_unit_test(test_long_round_trips),
      cmocka_unit_test(test_short_round_trip),
      cmocka_unit_test(test_vn),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_unknown_version),
      cmocka_unit_test(test_writer_errors),
      cmocka_unit_test(test_pn_decode),
      cmocka_unit_test(test_pn_len),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
