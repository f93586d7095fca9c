/* QPACK (RFC 9204) through src/h3/qpack.c: Appendix B examples, Huffman strings
 * from RFC 7541 C.4, dynamic-table round trips, and decoder errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h3/qpack.h"
#include "p2pq/error.h"

#define F(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static void assert_field(const p2pq_h3_field *f, const char *n, const char *v) {
  assert_int_equal(f->name_len, strlen(n));
  assert_memory_equal(f->name, n, f->name_len);
  assert_int_equal(f->value_len, strlen(v));
  assert_memory_equal(f->value, v, f->value_len);
}

static void assert_decoder_stream(p2pq_h3_qdec *d, const uint8_t *want, size_t n) {
  p2pq_h3_bytes b = {0};
  assert_int_equal(p2pq_h3_qdec_flush(d, &b), 0);
  assert_int_equal(p2pq_h3_bytes_avail(&b), n);
  if (n)
    assert_memory_equal(p2pq_h3_bytes_head(&b), want, n);
  p2pq_h3_bytes_clear(&b);
}

static int decode(p2pq_h3_qdec *d, int64_t sid, const uint8_t *p, size_t len,
                  p2pq_h3_fields *out, uint64_t *err) {
  p2pq_h3_qsec *sec = NULL;
  int rc = p2pq_h3_qdec_decode(d, sid, &sec, p, len, UINT64_MAX, out, err);
  p2pq_h3_qsec_free(sec);
  return rc;
}

/* RFC 9204 B.1: a literal with a static name reference, no dynamic table. */
static void test_b1(void **st) {
  static const uint8_t s0[] = {0x00, 0x00, 0x51, 0x0b, '/', 'i', 'n', 'd',
                               'e',  'x',  '.',  'h',  't', 'm', 'l'};
  p2pq_h3_qdec *d;
  p2pq_h3_fields f = {0};
  uint64_t err = 0;
  size_t i;
  (void)st;
  assert_int_equal(p2pq_h3_qdec_new(&d, 0, 0), 0);
  assert_int_equal(decode(d, 0, s0, sizeof s0, &f, &err), 0);
  assert_int_equal(f.n, 1);
  assert_field(&f.v[0], ":path", "/index.html");
  assert_int_equal(f.size, 5 + 11 + 32);
  p2pq_h3_fields_clear(&f);
  assert_decoder_stream(d, NULL, 0); /* no dynamic references, no acknowledgment */
  /* every truncation of the section is malformed */
  for (i = 0; i < sizeof s0; i++) {
    err = 0;
    assert_int_equal(decode(d, 4 * (int64_t)i, s0, i, &f, &err), P2PQ_ERR_H3);
    assert_int_equal(err, P2PQ_H3_QPACK_DECOMPRESSION_FAILED);
    p2pq_h3_fields_clear(&f);
  }
  p2pq_h3_qdec_free(d);
}

/* RFC 9204 B.2 to B.5 on one decoder: dynamic table, acknowledgment,
 * speculative insert, duplicate with a blocked stream and its cancellation,
 * eviction. */
static void test_b2_to_b5(void **st) {
  static const uint8_t enc2[] = {0x3f, 0xbd, 0x01, 0xc0, 0x0f, 'w', 'w', 'w', '.', 'e', 'x',
                                 'a',  'm',  'p',  'l',  'e',  '.', 'c', 'o', 'm', 0xc1, 0x0c,
                                 '/',  's',  'a',  'm',  'p',  'l', 'e', '/', 'p', 'a', 't', 'h'};
  static const uint8_t s4[] = {0x03, 0x81, 0x10, 0x11};
  static const uint8_t ack4[] = {0x84};
  static const uint8_t enc3[] = {0x4a, 'c', 'u', 's', 't', 'o', 'm', '-', 'k', 'e', 'y', 0x0c,
                                 'c',  'u', 's', 't', 'o', 'm', '-', 'v', 'a', 'l', 'u', 'e'};
  static const uint8_t inc1[] = {0x01};
  static const uint8_t enc4[] = {0x02};
  static const uint8_t s8[] = {0x05, 0x00, 0x80, 0xc1, 0x81};
  static const uint8_t cancel8[] = {0x48};
  static const uint8_t enc5[] = {0x81, 0x0d, 'c', 'u', 's', 't', 'o', 'm', '-',
                                 'v',  'a',  'l', 'u', 'e', '2'};
  p2pq_h3_qdec *d;
  p2pq_h3_fields f = {0};
  p2pq_h3_qsec *sec = NULL;
  uint64_t err = 0;
  (void)st;
  assert_int_equal(p2pq_h3_qdec_new(&d, 220, 1), 0);
  /* B.2 */
  assert_int_equal(p2pq_h3_qdec_read_encoder(d, enc2, sizeof enc2, &err), 0);
  assert_int_equal(p2pq_h3_qdec_insert_count(d), 2);
  assert_int_equal(decode(d, 4, s4, sizeof s4, &f, &err), 0);
  assert_int_equal(f.n, 2);
  assert_field(&f.v[0], ":authority", "www.example.com");
  assert_field(&f.v[1], ":path", "/sample/path");
  p2pq_h3_fields_clear(&f);
  assert_decoder_stream(d, ack4, sizeof ack4);
  /* B.3 */
  assert_int_equal(p2pq_h3_qdec_read_encoder(d, enc3, sizeof enc3, &err), 0);
  assert_int_equal(p2pq_h3_qdec_insert_count(d), 3);
  assert_decoder_stream(d, inc1, sizeof inc1);
  /* B.4: the section for stream 8 arrives before the Duplicate: blocked */
  assert_int_equal(p2pq_h3_qdec_decode(d, 8, &sec, s8, sizeof s8, UINT64_MAX, &f, &err), 1);
  assert_int_equal(f.n, 0);
  p2pq_h3_qsec_free(sec);
  p2pq_h3_qdec_cancel(d, 8);
  assert_decoder_stream(d, cancel8, sizeof cancel8);
  assert_int_equal(p2pq_h3_qdec_read_encoder(d, enc4, sizeof enc4, &err), 0);
  assert_int_equal(p2pq_h3_qdec_insert_count(d), 4);
  /* the same section now decodes (as a fresh stream) */
  assert_int_equal(decode(d, 12, s8, sizeof s8, &f, &err), 0);
  assert_int_equal(f.n, 3);
  assert_field(&f.v[0], ":authority", "www.example.com");
  assert_field(&f.v[1], ":path", "/");
  assert_field(&f.v[2], "custom-key", "custom-value");
  p2pq_h3_fields_clear(&f);
  /* B.5: the insert evicts entry 0 (capacity 220) */
  assert_int_equal(p2pq_h3_qdec_read_encoder(d, enc5, sizeof enc5, &err), 0);
  assert_int_equal(p2pq_h3_qdec_insert_count(d), 5);
  p2pq_h3_qdec_free(d);
}

/* A blocked section completes once the encoder stream catches up. */
static void test_blocked_then_unblocked(void **st) {
  static const uint8_t enc2[] = {0x3f, 0xbd, 0x01, 0xc0, 0x0f, 'w', 'w', 'w', '.', 'e', 'x',
                                 'a',  'm',  'p',  'l',  'e',  '.', 'c', 'o', 'm', 0xc1, 0x0c,
                                 '/',  's',  'a',  'm',  'p',  'l', 'e', '/', 'p', 'a', 't', 'h'};
  static const uint8_t s4[] = {0x03, 0x81, 0x10, 0x11};
  p2pq_h3_qdec *d;
  p2pq_h3_fields f = {0};
  p2pq_h3_qsec *sec = NULL;
  uint64_t err = 0;
  (void)st;
  assert_int_equal(p2pq_h3_qdec_new(&d, 220, 1), 0);
  assert_int_equal(p2pq_h3_qdec_decode(d, 4, &sec, s4, sizeof s4, UINT64_MAX, &f, &err), 1);
  assert_int_equal(p2pq_h3_qdec_read_encoder(d, enc2, 20, &err), 0); /* first insert only */
  assert_int_equal(p2pq_h3_qdec_insert_count(d), 1);
  assert_int_equal(p2pq_h3_qdec_read_encoder(d, enc2 + 20, sizeof enc2 - 20, &err), 0);
  assert_int_equal(p2pq_h3_qdec_decode(d, 4, &sec, s4, sizeof s4, UINT64_MAX, &f, &err), 0);
  assert_null(sec);
  assert_int_equal(f.n, 2);
  assert_field(&f.v[1], ":path", "/sample/path");
  p2pq_h3_fields_clear(&f);
  p2pq_h3_qdec_free(d);
}

/* RFC 7541 C.4.1 and C.4.3 Huffman strings, produced by our encoder. */
static void test_huffman_encode(void **st) {
  static const uint8_t want1[] = {0x00, 0x00, 0x50, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5,
                                  0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff};
  static const uint8_t want2[] = {0x00, 0x00, 0x2f, 0x01, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9,
                                  0x7d, 0x7f, 0x89, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8,
                                  0xb4, 0xbf};
  const p2pq_h3_field f1[] = {F(":authority", "www.example.com")};
  const p2pq_h3_field f2[] = {F("custom-key", "custom-value")};
  p2pq_h3_qenc *e;
  p2pq_h3_bytes sec = {0}, es = {0};
  (void)st;
  assert_int_equal(p2pq_h3_qenc_new(&e, 0), 0); /* static table only */
  assert_int_equal(p2pq_h3_qenc_encode(e, 0, f1, 1, &sec, &es), 0);
  assert_int_equal(p2pq_h3_bytes_avail(&sec), sizeof want1);
  assert_memory_equal(p2pq_h3_bytes_head(&sec), want1, sizeof want1);
  assert_int_equal(p2pq_h3_bytes_avail(&es), 0);
  p2pq_h3_bytes_clear(&sec);
  assert_int_equal(p2pq_h3_qenc_encode(e, 4, f2, 1, &sec, &es), 0);
  assert_int_equal(p2pq_h3_bytes_avail(&sec), sizeof want2);
  assert_memory_equal(p2pq_h3_bytes_head(&sec), want2, sizeof want2);
  p2pq_h3_bytes_clear(&sec);
  p2pq_h3_bytes_clear(&es);
  p2pq_h3_qenc_free(e);
}

/* RFC 7541 C.4.2/C.4.3 Huffman strings decoded from a crafted section. */
static void test_huffman_decode(void **st) {
  /* literal name "custom-key" (Huffman), value "no-cache" (Huffman) */
  static const uint8_t s[] = {0x00, 0x00, 0x2f, 0x01, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d,
                              0x7f, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf};
  /* an invalid Huffman string: padding longer than 7 bits (RFC 7541 5.2) */
  static const uint8_t bad[] = {0x00, 0x00, 0x50, 0x82, 0xff, 0xff};
  p2pq_h3_qdec *d;
  p2pq_h3_fields f = {0};
  uint64_t err = 0;
  (void)st;
  assert_int_equal(p2pq_h3_qdec_new(&d, 0, 0), 0);
  assert_int_equal(decode(d, 0, s, sizeof s, &f, &err), 0);
  assert_int_equal(f.n, 1);
  assert_field(&f.v[0], "custom-key", "no-cache");
  p2pq_h3_fields_clear(&f);
  assert_int_equal(decode(d, 4, bad, sizeof bad, &f, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_QPACK_DECOMPRESSION_FAILED);
  p2pq_h3_fields_clear(&f);
  p2pq_h3_qdec_free(d);
}

static void test_missing_entries(void **st) {
  static const uint8_t dyn_ric0[] = {0x00, 0x00, 0x80};     /* dynamic ref, RIC 0 */
  static const uint8_t static_oob[] = {0x00, 0x00, 0xff, 0x24}; /* static index 99 */
  static const uint8_t postbase_ric0[] = {0x00, 0x00, 0x10};
  static const uint8_t cap_dup[] = {0x3f, 0xbd, 0x01, 0x00}; /* Duplicate on empty table */
  static const uint8_t cap_ref[] = {0x3f, 0xbd, 0x01, 0x80, 0x01, 'x'}; /* dyn name ref 0 */
  static const uint8_t cap_big[] = {0x3f, 0xe1, 0x1f}; /* capacity 4032 > 220 */
  static const uint8_t static_ins[] = {0x3f, 0xbd, 0x01, 0xff, 0x24, 0x00}; /* static 99 */
  const uint8_t *encs[] = {cap_dup, cap_ref, cap_big, static_ins};
  const size_t enclens[] = {sizeof cap_dup, sizeof cap_ref, sizeof cap_big, sizeof static_ins};
  p2pq_h3_qdec *d;
  p2pq_h3_fields f = {0};
  uint64_t err = 0;
  size_t i;
  (void)st;
  assert_int_equal(p2pq_h3_qdec_new(&d, 220, 4), 0);
  assert_int_equal(decode(d, 0, dyn_ric0, sizeof dyn_ric0, &f, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_QPACK_DECOMPRESSION_FAILED);
  p2pq_h3_fields_clear(&f);
  p2pq_h3_qdec_free(d);
  assert_int_equal(p2pq_h3_qdec_new(&d, 220, 4), 0);
  err = 0;
  assert_int_equal(decode(d, 0, static_oob, sizeof static_oob, &f, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_QPACK_DECOMPRESSION_FAILED);
  p2pq_h3_fields_clear(&f);
  p2pq_h3_qdec_free(d);
  assert_int_equal(p2pq_h3_qdec_new(&d, 220, 4), 0);
  err = 0;
  assert_int_equal(decode(d, 0, postbase_ric0, sizeof postbase_ric0, &f, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_QPACK_DECOMPRESSION_FAILED);
  p2pq_h3_fields_clear(&f);
  p2pq_h3_qdec_free(d);
  for (i = 0; i < 4; i++) {
    assert_int_equal(p2pq_h3_qdec_new(&d, 220, 4), 0);
    err = 0;
    assert_int_equal(p2pq_h3_qdec_read_encoder(d, encs[i], enclens[i], &err), P2PQ_ERR_H3);
    assert_int_equal(err, P2PQ_H3_QPACK_ENCODER_STREAM_ERROR);
    p2pq_h3_qdec_free(d);
  }
}

static void test_decoded_size_limit(void **st) {
  static const uint8_t s0[] = {0x00, 0x00, 0x51, 0x0b, '/', 'i', 'n', 'd',
                               'e',  'x',  '.',  'h',  't', 'm', 'l'};
  p2pq_h3_qdec *d;
  p2pq_h3_fields f = {0};
  p2pq_h3_qsec *sec = NULL;
  uint64_t err = 0;
  (void)st;
  assert_int_equal(p2pq_h3_qdec_new(&d, 0, 0), 0);
  assert_int_equal(p2pq_h3_qdec_decode(d, 0, &sec, s0, sizeof s0, 47, &f, &err), P2PQ_ERR_H3);
  assert_int_equal(err, P2PQ_H3_EXCESSIVE_LOAD);
  assert_null(sec);
  p2pq_h3_fields_clear(&f);
  assert_int_equal(p2pq_h3_qdec_decode(d, 4, &sec, s0, sizeof s0, 48, &f, &err), 0);
  p2pq_h3_fields_clear(&f);
  p2pq_h3_qdec_free(d);
}

/* Our encoder and decoder, dynamic table on, many sections both ways. */
static void test_round_trip_dynamic(void **st) {
  const p2pq_h3_field req[] = {F(":method", "GET"), F(":scheme", "https"),
                               F(":authority", "relay.example.net"), F(":path", "/a/b/c"),
                               F("user-agent", "p2pquic/0.1"), F("x-custom", "value-1")};
  p2pq_h3_qenc *e;
  p2pq_h3_qdec *d;
  p2pq_h3_bytes sec = {0}, es = {0}, ds = {0};
  size_t lens[8], i, j;
  uint64_t err = 0;
  (void)st;
  assert_int_equal(p2pq_h3_qenc_new(&e, 4096), 0);
  assert_int_equal(p2pq_h3_qdec_new(&d, 4096, 16), 0);
  p2pq_h3_qenc_set_peer(e, 4096, 16);
  for (i = 0; i < 8; i++) {
    p2pq_h3_fields f = {0};
    assert_int_equal(p2pq_h3_qenc_encode(e, 4 * (int64_t)i, req, 6, &sec, &es), 0);
    lens[i] = p2pq_h3_bytes_avail(&sec);
    if (i == 0)
      assert_true(p2pq_h3_bytes_avail(&es) > 0); /* inserts on the encoder stream */
    assert_int_equal(
        p2pq_h3_qdec_read_encoder(d, p2pq_h3_bytes_head(&es), p2pq_h3_bytes_avail(&es), &err), 0);
    p2pq_h3_bytes_consume(&es, p2pq_h3_bytes_avail(&es));
    assert_int_equal(decode(d, 4 * (int64_t)i, p2pq_h3_bytes_head(&sec), lens[i], &f, &err), 0);
    p2pq_h3_bytes_consume(&sec, lens[i]);
    assert_int_equal(f.n, 6);
    for (j = 0; j < 6; j++)
      assert_field(&f.v[j], req[j].name, req[j].value);
    p2pq_h3_fields_clear(&f);
    assert_int_equal(p2pq_h3_qdec_flush(d, &ds), 0);
    assert_int_equal(
        p2pq_h3_qenc_read_decoder(e, p2pq_h3_bytes_head(&ds), p2pq_h3_bytes_avail(&ds), &err), 0);
    p2pq_h3_bytes_consume(&ds, p2pq_h3_bytes_avail(&ds));
  }
  assert_true(p2pq_h3_qdec_insert_count(d) > 0);
  { /* sections that reference the dynamic table beat static-only ones */
    p2pq_h3_qenc *e0;
    assert_int_equal(p2pq_h3_qenc_new(&e0, 0), 0);
    assert_int_equal(p2pq_h3_qenc_encode(e0, 0, req, 6, &sec, &es), 0);
    assert_int_equal(p2pq_h3_bytes_avail(&es), 0);
    assert_true(lens[7] < p2pq_h3_bytes_avail(&sec));
    p2pq_h3_qenc_free(e0);
  }
  /* garbage on the decoder stream: an acknowledgment for a stream with nothing outstanding */
  {
    static const uint8_t bogus_ack[] = {0xff, 0x80, 0x10};
    assert_int_equal(p2pq_h3_qenc_read_decoder(e, bogus_ack, sizeof bogus_ack, &err), P2PQ_ERR_H3);
    assert_int_equal(err, P2PQ_H3_QPACK_DECODER_STREAM_ERROR);
  }
  p2pq_h3_bytes_clear(&sec);
  p2pq_h3_bytes_clear(&es);
  p2pq_h3_bytes_clear(&ds);
  p2pq_h3_qenc_free(e);
  p2pq_h3_qdec_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_b1),
      cmocka_unit_test(test_b2_to_b5),
      cmocka_unit_test(test_blocked_then_unblocked),
      cmocka_unit_test(test_huffman_encode),
      cmocka_unit_test(test_huffman_decode),
      cmocka_unit_test(test_missing_entries),
      cmocka_unit_test(test_decoded_size_limit),
      cmocka_unit_test(test_round_trip_dynamic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
