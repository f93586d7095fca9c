/* Packet protection: RFC 9001 A.5 (ChaCha20-Poly1305 short header, key update),
 * round trips for all three AEADs, tampering, truncation, header protection
 * bounds, packet number decoding (RFC 9000 A.3) and AEAD limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "crypto/hkdf.h"
#include "crypto/pp.h"
#include "p2pq/error.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  int hi = -1;
  for (; *s; s++) {
    int v;
    if (*s >= '0' && *s <= '9')
      v = *s - '0';
    else if (*s >= 'a' && *s <= 'f')
      v = *s - 'a' + 10;
    else
      continue;
    if (hi < 0) {
      hi = v;
      continue;
    }
    assert_true(n < cap);
    out[n++] = (uint8_t)(hi << 4 | v);
    hi = -1;
  }
  assert_int_equal(hi, -1);
  return n;
}

static void assert_hex(const uint8_t *got, size_t len, const char *want) {
  uint8_t buf[256];
  size_t n = unhex(want, buf, sizeof(buf));
  assert_int_equal(n, len);
  assert_memory_equal(got, buf, len);
}

static const char *a5_secret = "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b";

/* RFC 9001 A.5 */
static void test_a5_chacha20(void **state) {
  uint8_t secret[32], key[32], pkt[64], sample[16], mask[5];
  p2pq_pp_key k, ku;
  uint64_t pn = 0;
  size_t pn_len = 0;
  (void)state;
  unhex(a5_secret, secret, sizeof(secret));
  assert_int_equal(p2pq_pp_key_init(&k, P2PQ_AEAD_CHACHA20_POLY1305, secret, 32), 0);
  assert_int_equal(p2pq_hkdf_expand_label(GNUTLS_MAC_SHA256, secret, 32, "quic key", key, 32), 0);
  assert_hex(key, 32, "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8");
  assert_hex(k.iv, 12, "e0459b3474bdd0e44a41c144");
  assert_hex(k.hp_key, 32, "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4");

  /* key update: "quic ku" */
  assert_int_equal(p2pq_pp_key_update(&ku, &k), 0);
  assert_hex(ku.secret, 32, "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9");
  assert_memory_equal(ku.hp_key, k.hp_key, 32);
  p2pq_pp_key_clear(&ku);

  /* header protection mask from the published sample */
  unhex("5e5cd55c41f69080575d7999c25a5bfb", sample, sizeof(sample));
  assert_int_equal(p2pq_pp_hp_mask(&k, sample, mask), 0);
  assert_hex(mask, 5, "aefefe7d03");

  /* the packet: short header 42 00bff4 (pn 654360564 in 3 bytes), payload 01 (PING) */
  memset(pkt, 0, sizeof(pkt));
  unhex("4200bff401", pkt, sizeof(pkt));
  assert_int_equal(p2pq_pp_protect(&k, pkt, 1, 3, 654360564, 5), 21);
  assert_hex(pkt, 21, "4cfe4189655e5cd55c41f69080575d7999c25a5bfb");

  assert_int_equal(p2pq_pp_unprotect(&k, pkt, 21, 1, 654360563, &pn, &pn_len), 1);
  assert_true(pn == 654360564);
  assert_int_equal(pn_len, 3);
  assert_hex(pkt, 5, "4200bff401");
  p2pq_pp_key_clear(&k);
}

static void fill_secret(uint8_t *s, size_t len, uint8_t seed) {
  size_t i;
  for (i = 0; i < len; i++)
    s[i] = (uint8_t)(seed + i * 31);
}

static const p2pq_aead_alg algs[] = {P2PQ_AEAD_AES_128_GCM, P2PQ_AEAD_AES_256_GCM,
                                     P2PQ_AEAD_CHACHA20_POLY1305};

/* A long (Handshake-like) or short header with the pn at the end; returns pn_offset. */
static size_t make_header(uint8_t *pkt, int long_hdr) {
  size_t i;
  if (long_hdr) {
    pkt[0] = 0xe0; /* long, fixed, Handshake */
    for (i = 1; i < 20; i++)
      pkt[i] = (uint8_t)(i * 3);
    return 20;
  }
  pkt[0] = 0x40; /* short, fixed */
  for (i = 1; i < 9; i++)
    pkt[i] = (uint8_t)(0x90 + i); /* 8-byte DCID */
  return 9;
}

static void test_round_trip_all_algs(void **state) {
  uint8_t secret[48], pkt[512], orig[512];
  p2pq_pp_key tx, rx;
  size_t a, pn_len, plen;
  int lh;
  (void)state;
  for (a = 0; a < 3; a++) {
    size_t slen = p2pq_pp_secret_len(algs[a]);
    fill_secret(secret, slen, (uint8_t)a);
    assert_int_equal(p2pq_pp_key_init(&tx, algs[a], secret, slen), 0);
    assert_int_equal(p2pq_pp_key_init(&rx, algs[a], secret, slen), 0);
    for (lh = 0; lh < 2; lh++) {
      for (pn_len = 1; pn_len <= 4; pn_len++) {
        for (plen = 4 - pn_len; plen < 300; plen += 97) {
          uint64_t pn = 0x123456789aull + plen, got = 0;
          size_t off = make_header(pkt, lh), i, got_len = 0, total = off + pn_len + plen;
          for (i = 0; i < plen; i++)
            pkt[off + pn_len + i] = (uint8_t)(i ^ 0x5a);
          assert_int_equal(p2pq_pp_protect(&tx, pkt, off, pn_len, pn, total),
                           (int)(total + 16));
          memcpy(orig, pkt, total + 16);
          /* header protection changed the pn bytes (mask of 5 random bytes) */
          assert_int_equal(p2pq_pp_unprotect(&rx, pkt, total + 16, off, pn - 1, &got, &got_len),
                           (int)plen);
          assert_true(got == pn);
          assert_int_equal(got_len, pn_len);
          assert_int_equal(pkt[0] & 3, pn_len - 1);
          for (i = 0; i < plen; i++)
            assert_int_equal(pkt[off + pn_len + i], (uint8_t)(i ^ 0x5a));
          /* protecting the restored packet again gives the same bytes */
          assert_int_equal(p2pq_pp_protect(&tx, pkt, off, pn_len, pn, total),
                           (int)(total + 16));
          assert_memory_equal(pkt, orig, total + 16);
        }
      }
    }
    p2pq_pp_key_clear(&tx);
    p2pq_pp_key_clear(&rx);
  }
}

/* Flipping any bit of any byte of a protected packet makes it fail to open. */
static void test_tamper(void **state) {
  uint8_t secret[48], pkt[128], work[128];
  p2pq_pp_key k;
  size_t a, i, off, total;
  int bit, lh;
  (void)state;
  for (a = 0; a < 3; a++) {
    size_t slen = p2pq_pp_secret_len(algs[a]);
    fill_secret(secret, slen, (uint8_t)(a + 40));
    assert_int_equal(p2pq_pp_key_init(&k, algs[a], secret, slen), 0);
    for (lh = 0; lh < 2; lh++) {
      off = make_header(pkt, lh);
      memset(pkt + off, 0x01, 40);
      total = (size_t)p2pq_pp_protect(&k, pkt, off, 2, 77, off + 2 + 30);
      for (i = 0; i < total; i++) {
        for (bit = 0; bit < 8; bit += 3) {
          uint64_t pn;
          memcpy(work, pkt, total);
          work[i] ^= (uint8_t)(1u << bit);
          assert_true(p2pq_pp_unprotect(&k, work, total, off, 76, &pn, NULL) < 0);
          /* the tail stays as received (Stateless Reset detection needs it) */
          if (i < total - 16)
            assert_memory_equal(work + total - 16, pkt + total - 16, 16);
        }
      }
      memcpy(work, pkt, total);
      assert_int_equal(p2pq_pp_unprotect(&k, work, total, off, 76, NULL, NULL), 30);
    }
    p2pq_pp_key_clear(&k);
  }
}

/* Every truncation of a protected packet is rejected; the header ones with
 * P2PQ_ERR_TRUNCATED exactly below pn_offset + 4 + 16. */
static void test_truncation(void **state) {
  uint8_t secret[32], pkt[128], work[128];
  p2pq_pp_key k;
  size_t off, total, n;
  uint32_t tpn;
  (void)state;
  fill_secret(secret, 32, 9);
  assert_int_equal(p2pq_pp_key_init(&k, P2PQ_AEAD_AES_128_GCM, secret, 32), 0);
  off = make_header(pkt, 0);
  memset(pkt + off, 0, 40);
  total = (size_t)p2pq_pp_protect(&k, pkt, off, 1, 5, off + 1 + 3);
  assert_int_equal(total, off + 4 + 16); /* minimal packet: sample ends at the end */
  for (n = 0; n < total; n++) {
    memcpy(work, pkt, total);
    assert_int_equal(p2pq_pp_unprotect_header(&k, work, n, off, &tpn), P2PQ_ERR_TRUNCATED);
    assert_memory_equal(work, pkt, total); /* nothing touched */
    assert_true(p2pq_pp_unprotect(&k, work, n, off, 4, NULL, NULL) < 0);
  }
  memcpy(work, pkt, total);
  assert_int_equal(p2pq_pp_unprotect_header(&k, work, total, off, &tpn), 1);
  assert_int_equal(tpn, 5);
  /* a huge pn_offset must not overflow */
  assert_int_equal(p2pq_pp_unprotect_header(&k, work, total, SIZE_MAX - 2, &tpn),
                   P2PQ_ERR_TRUNCATED);
  /* open: shorter than a tag */
  for (n = 0; n < 16; n++)
    assert_int_equal(p2pq_pp_open(&k, 0, NULL, 0, work, n), P2PQ_ERR_DECRYPT);
  p2pq_pp_key_clear(&k);
}

static void test_protect_bad_args(void **state) {
  uint8_t secret[32], pkt[64] = {0x40};
  p2pq_pp_key k;
  (void)state;
  fill_secret(secret, 32, 3);
  assert_int_equal(p2pq_pp_key_init(&k, P2PQ_AEAD_AES_128_GCM, secret, 32), 0);
  /* not enough bytes after the pn offset for a sample */
  assert_int_equal(p2pq_pp_protect(&k, pkt, 9, 1, 0, 12), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pp_protect(&k, pkt, 9, 0, 0, 20), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pp_protect(&k, pkt, 9, 5, 0, 20), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pp_protect(&k, pkt, 30, 1, 0, 20), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pp_protect(&k, pkt, 9, 1, 0, 13), 29);
  p2pq_pp_key_clear(&k);
}

static void test_seal_open_ad(void **state) {
  uint8_t secret[48], ad[20], buf[64], copy[64];
  p2pq_pp_key k;
  size_t a;
  (void)state;
  memset(ad, 0x33, sizeof(ad));
  for (a = 0; a < 3; a++) {
    size_t slen = p2pq_pp_secret_len(algs[a]);
    fill_secret(secret, slen, (uint8_t)(a + 100));
    assert_int_equal(p2pq_pp_key_init(&k, algs[a], secret, slen), 0);
    memset(buf, 0x77, 32);
    assert_int_equal(p2pq_pp_seal(&k, 9, ad, sizeof(ad), buf, 32), 48);
    memcpy(copy, buf, 48);
    /* wrong pn, wrong ad */
    assert_int_equal(p2pq_pp_open(&k, 10, ad, sizeof(ad), buf, 48), P2PQ_ERR_DECRYPT);
    memcpy(buf, copy, 48);
    assert_int_equal(p2pq_pp_open(&k, 9, ad, sizeof(ad) - 1, buf, 48), P2PQ_ERR_DECRYPT);
    memcpy(buf, copy, 48);
    assert_int_equal(p2pq_pp_open(&k, 9, ad, sizeof(ad), buf, 48), 32);
    assert_int_equal(buf[0], 0x77);
    assert_int_equal(buf[31], 0x77);
    /* empty payload: just a tag */
    assert_int_equal(p2pq_pp_seal(&k, 1, ad, sizeof(ad), buf, 0), 16);
    assert_int_equal(p2pq_pp_open(&k, 1, ad, sizeof(ad), buf, 16), 0);
    /* no associated data at all, and the largest packet number */
    memset(buf, 0x11, 8);
    assert_int_equal(p2pq_pp_seal(&k, (1ull << 62) - 1, NULL, 0, buf, 8), 24);
    assert_int_equal(p2pq_pp_open(&k, (1ull << 62) - 1, ad, 1, buf, 24), P2PQ_ERR_DECRYPT);
    memset(buf, 0x11, 8);
    assert_int_equal(p2pq_pp_seal(&k, (1ull << 62) - 1, NULL, 0, buf, 8), 24);
    assert_int_equal(p2pq_pp_open(&k, (1ull << 62) - 1, NULL, 0, buf, 24), 8);
    assert_int_equal(buf[7], 0x11);
    p2pq_pp_key_clear(&k);
  }
}

static void test_key_update(void **state) {
  uint8_t secret[48], a1[64], a2[64], ad[4] = {1, 2, 3, 4}, sample[16], m1[5], m2[5];
  p2pq_pp_key k, n1, n2, n1b;
  size_t a;
  (void)state;
  memset(sample, 0xc3, sizeof(sample));
  for (a = 0; a < 3; a++) {
    size_t slen = p2pq_pp_secret_len(algs[a]);
    fill_secret(secret, slen, (uint8_t)(a + 200));
    assert_int_equal(p2pq_pp_key_init(&k, algs[a], secret, slen), 0);
    assert_int_equal(p2pq_pp_key_update(&n1, &k), 0);
    assert_int_equal(p2pq_pp_key_update(&n2, &n1), 0);
    assert_int_equal(p2pq_pp_key_update(&n1b, &k), 0);
    assert_int_equal(n1.alg, algs[a]);
    assert_int_equal(n1.secret_len, slen);
    assert_memory_not_equal(n1.secret, k.secret, slen);
    assert_memory_not_equal(n2.secret, n1.secret, slen);
    assert_memory_equal(n1b.secret, n1.secret, slen); /* deterministic */
    assert_memory_not_equal(n1.iv, k.iv, 12);
    /* hp is not updated */
    assert_memory_equal(n1.hp_key, k.hp_key, n1.key_len);
    assert_memory_equal(n2.hp_key, k.hp_key, n2.key_len);
    assert_int_equal(p2pq_pp_hp_mask(&k, sample, m1), 0);
    assert_int_equal(p2pq_pp_hp_mask(&n2, sample, m2), 0);
    assert_memory_equal(m1, m2, 5);
    /* the packet key changed: same pn/ad/plaintext, different ciphertext */
    memset(a1, 0, 32);
    memset(a2, 0, 32);
    assert_int_equal(p2pq_pp_seal(&k, 5, ad, 4, a1, 32), 48);
    assert_int_equal(p2pq_pp_seal(&n1, 5, ad, 4, a2, 32), 48);
    assert_memory_not_equal(a1, a2, 48);
    assert_int_equal(p2pq_pp_open(&k, 5, ad, 4, a2, 48), P2PQ_ERR_DECRYPT);
    memset(a2, 0, 32);
    assert_int_equal(p2pq_pp_seal(&n1, 5, ad, 4, a2, 32), 48);
    assert_int_equal(p2pq_pp_open(&n1b, 5, ad, 4, a2, 48), 32);
    /* n1 outlives k: its hp handle is its own */
    p2pq_pp_key_clear(&k);
    assert_int_equal(p2pq_pp_hp_mask(&n1, sample, m2), 0);
    assert_memory_equal(m1, m2, 5);
    assert_int_equal(p2pq_pp_key_update(&k, &k), P2PQ_ERR_INVALID_ARG);
    p2pq_pp_key_clear(&n1);
    p2pq_pp_key_clear(&n2);
    p2pq_pp_key_clear(&n1b);
  }
}

static void test_key_init_clear(void **state) {
  uint8_t secret[48] = {0}, buf[32] = {0};
  p2pq_pp_key k;
  (void)state;
  memset(&k, 0, sizeof(k));
  p2pq_pp_key_clear(&k); /* zeroed struct */
  p2pq_pp_key_clear(NULL);
  assert_int_equal(p2pq_pp_key_init(&k, P2PQ_AEAD_AES_128_GCM, secret, 48), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pp_key_init(&k, P2PQ_AEAD_AES_256_GCM, secret, 32), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pp_key_init(&k, P2PQ_AEAD_NONE, secret, 32), P2PQ_ERR_INVALID_ARG);
  assert_null(k.aead);
  assert_int_equal(k.alg, P2PQ_AEAD_NONE);
  assert_int_equal(p2pq_pp_seal(&k, 0, NULL, 0, buf, 0), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pp_key_update(&k, &k), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_pp_key_init(&k, P2PQ_AEAD_AES_256_GCM, secret, 48), 0);
  assert_int_equal(k.key_len, 32);
  p2pq_pp_key_clear(&k);
  assert_null(k.aead);
  assert_null(k.hp);
  assert_int_equal(k.secret_len, 0);
  p2pq_pp_key_clear(&k); /* twice */

  assert_int_equal(p2pq_pp_secret_len(P2PQ_AEAD_AES_128_GCM), 32);
  assert_int_equal(p2pq_pp_secret_len(P2PQ_AEAD_AES_256_GCM), 48);
  assert_int_equal(p2pq_pp_secret_len(P2PQ_AEAD_CHACHA20_POLY1305), 32);
  assert_int_equal(p2pq_pp_secret_len(P2PQ_AEAD_NONE), 0);
  assert_int_equal(p2pq_pp_hash(P2PQ_AEAD_AES_256_GCM), GNUTLS_MAC_SHA384);
  assert_int_equal(p2pq_pp_hash(P2PQ_AEAD_CHACHA20_POLY1305), GNUTLS_MAC_SHA256);
  assert_int_equal(p2pq_pp_hash(P2PQ_AEAD_NONE), -1);
  assert_int_equal(p2pq_pp_alg_from_gnutls(GNUTLS_CIPHER_AES_128_GCM), P2PQ_AEAD_AES_128_GCM);
  assert_int_equal(p2pq_pp_alg_from_gnutls(GNUTLS_CIPHER_AES_256_GCM), P2PQ_AEAD_AES_256_GCM);
  assert_int_equal(p2pq_pp_alg_from_gnutls(GNUTLS_CIPHER_CHACHA20_POLY1305),
                   P2PQ_AEAD_CHACHA20_POLY1305);
  assert_int_equal(p2pq_pp_alg_from_gnutls(GNUTLS_CIPHER_AES_128_CCM), P2PQ_AEAD_NONE);
}

/* RFC 9000 A.3 example plus the window edges. */
static void test_decode_pn(void **state) {
  (void)state;
  assert_true(p2pq_pp_decode_pn(0xa82f30ea, 0x9b32, 2) == 0xa82f9b32);
  assert_true(p2pq_pp_decode_pn(UINT64_MAX, 0, 1) == 0);
  assert_true(p2pq_pp_decode_pn(UINT64_MAX, 2, 4) == 2);
  assert_true(p2pq_pp_decode_pn(0xff, 0x00, 1) == 0x100);      /* wraps forward */
  assert_true(p2pq_pp_decode_pn(0x100, 0xff, 1) == 0xff);      /* slightly old */
  assert_true(p2pq_pp_decode_pn(0x17f, 0x00, 1) == 0x200);     /* 0x100 is exactly hwin back */
  assert_true(p2pq_pp_decode_pn(10, 0xfe, 1) == 0xfe);         /* cannot go below 0 */
  assert_true(p2pq_pp_decode_pn(654360563, 0x00bff4, 3) == 654360564);
}

static void test_limits(void **state) {
  (void)state;
  assert_true(p2pq_pp_confidentiality_limit(P2PQ_AEAD_AES_128_GCM) == (1ull << 23));
  assert_true(p2pq_pp_confidentiality_limit(P2PQ_AEAD_AES_256_GCM) == (1ull << 23));
  assert_true(p2pq_pp_integrity_limit(P2PQ_AEAD_AES_128_GCM) == (1ull << 52));
  assert_true(p2pq_pp_integrity_limit(P2PQ_AEAD_CHACHA20_POLY1305) == (1ull << 36));
  assert_true(p2pq_pp_confidentiality_limit(P2PQ_AEAD_CHACHA20_POLY1305) >= (1ull << 62));
  assert_true(p2pq_pp_integrity_limit(P2PQ_AEAD_NONE) == 0);
}

static void test_hkdf_rfc5869(void **state) {
  /* RFC 5869 A.1 (SHA-256) */
  uint8_t ikm[22], salt[13], info[10], prk[32], okm[42];
  (void)state;
  memset(ikm, 0x0b, sizeof(ikm));
  unhex("000102030405060708090a0b0c", salt, sizeof(salt));
  unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof(info));
  assert_int_equal(p2pq_hkdf_extract(GNUTLS_MAC_SHA256, salt, 13, ikm, 22, prk), 0);
  assert_hex(prk, 32, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
  assert_int_equal(p2pq_hkdf_expand(GNUTLS_MAC_SHA256, prk, 32, info, 10, okm, 42), 0);
  assert_hex(okm, 42,
             "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  assert_int_equal(p2pq_hkdf_expand(GNUTLS_MAC_SHA256, prk, 32, info, 10, okm, 0),
                   P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_hkdf_extract(GNUTLS_MAC_MD5, salt, 13, ikm, 22, prk), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_hkdf_hash_len(GNUTLS_MAC_SHA384), 48);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a5_chacha20),      cmocka_unit_test(test_round_trip_all_algs),
      cmocka_unit_test(test_tamper),           cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_protect_bad_args), cmocka_unit_test(test_seal_open_ad),
      cmocka_unit_test(test_key_update),       cmocka_unit_test(test_key_init_clear),
      cmocka_unit_test(test_decode_pn),        cmocka_unit_test(test_limits),
      cmocka_unit_test(test_hkdf_rfc5869),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
