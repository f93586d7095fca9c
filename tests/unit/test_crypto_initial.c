/* Initial secrets and packets (RFC 9001 appendix A.1-A.3), the Retry integrity
 * tag (A.4), address-validation tokens and stateless reset tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "crypto/hkdf.h"
#include "crypto/initial.h"
#include "crypto/pp.h"
#include "crypto/retry.h"
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
      continue; /* spaces */
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
  uint8_t buf[2048];
  size_t n = unhex(want, buf, sizeof(buf));
  assert_int_equal(n, len);
  assert_memory_equal(got, buf, len);
}

static const char *dcid_hex = "8394c8f03e515708";

/* RFC 9001 A.1 */
static void test_a1_secrets(void **state) {
  uint8_t dcid[8], c[32], s[32], key[16];
  p2pq_pp_key rx, tx;
  (void)state;
  unhex(dcid_hex, dcid, sizeof(dcid));
  assert_int_equal(p2pq_initial_secrets(P2PQ_QUIC_V1, dcid, 8, c, s), 0);
  assert_hex(c, 32, "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea");
  assert_hex(s, 32, "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b");

  assert_int_equal(p2pq_hkdf_expand_label(GNUTLS_MAC_SHA256, c, 32, "quic key", key, 16), 0);
  assert_hex(key, 16, "1f369613dd76d5467730efcbe3b1a22d");
  assert_int_equal(p2pq_hkdf_expand_label(GNUTLS_MAC_SHA256, s, 32, "quic key", key, 16), 0);
  assert_hex(key, 16, "cf3a5331653c364c88f0f379b6067e37");

  /* client: sends with the client keys */
  assert_int_equal(p2pq_initial_keys(P2PQ_QUIC_V1, dcid, 8, 0, &rx, &tx), 0);
  assert_int_equal(tx.alg, P2PQ_AEAD_AES_128_GCM);
  assert_memory_equal(tx.secret, c, 32);
  assert_hex(tx.iv, 12, "fa044b2f42a3fd3b46fb255c");
  assert_hex(tx.hp_key, 16, "9f50449e04a0e810283a1e9933adedd2");
  assert_hex(rx.iv, 12, "0ac1493ca1905853b0bba03e");
  assert_hex(rx.hp_key, 16, "c206b8d9b9f0f37644430b490eeaa314");
  p2pq_pp_key_clear(&rx);
  p2pq_pp_key_clear(&tx);
  /* server: the other way round */
  assert_int_equal(p2pq_initial_keys(P2PQ_QUIC_V1, dcid, 8, 1, &rx, &tx), 0);
  assert_memory_equal(rx.secret, c, 32);
  assert_memory_equal(tx.secret, s, 32);
  p2pq_pp_key_clear(&rx);
  p2pq_pp_key_clear(&tx);
}

static void test_initial_bad_args(void **state) {
  uint8_t dcid[21] = {0}, c[32], s[32];
  p2pq_pp_key rx, tx;
  (void)state;
  assert_int_equal(p2pq_initial_secrets(0x6b3343cfu, dcid, 8, c, s), P2PQ_ERR_UNSUPPORTED);
  assert_int_equal(p2pq_initial_secrets(P2PQ_QUIC_V1, dcid, 21, c, s), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_initial_secrets(P2PQ_QUIC_V1, dcid, 20, c, s), 0);
  assert_int_equal(p2pq_initial_secrets(P2PQ_QUIC_V1, NULL, 0, c, s), 0);
  assert_int_equal(p2pq_initial_keys(0, dcid, 8, 0, &rx, &tx), P2PQ_ERR_UNSUPPORTED);
  assert_null(rx.aead);
  assert_null(tx.hp);
  p2pq_pp_key_clear(&rx);
  p2pq_pp_key_clear(&tx);
}

/* RFC 9001 A.2: the client's CRYPTO frame, padded to 1162 payload bytes. */
static const char *a2_header = "c300000001088394c8f03e5157080000449e00000002";
static const char *a2_crypto =
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806048000ffff";
static const char *a2_protected =
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934";

/* Builds the unprotected A.2 packet (without tag) into pkt; returns its length. */
static size_t a2_build(uint8_t *pkt, size_t cap) {
  size_t h = unhex(a2_header, pkt, cap), c;
  assert_int_equal(h, 22);
  c = unhex(a2_crypto, pkt + h, cap - h);
  assert_int_equal(c, 245);
  memset(pkt + h + c, 0, 1162 - c); /* PADDING */
  return h + 1162;
}

static void test_a2_client_initial(void **state) {
  uint8_t dcid[8], pkt[1200], orig[1200], mask[5], want[1200];
  p2pq_pp_key crx, ctx, srx, stx;
  size_t len;
  uint64_t pn = 0;
  size_t pn_len = 0;
  (void)state;
  unhex(dcid_hex, dcid, sizeof(dcid));
  assert_int_equal(p2pq_initial_keys(P2PQ_QUIC_V1, dcid, 8, 0, &crx, &ctx), 0);
  assert_int_equal(p2pq_initial_keys(P2PQ_QUIC_V1, dcid, 8, 1, &srx, &stx), 0);

  len = a2_build(pkt, sizeof(pkt));
  assert_int_equal(len, 1184);
  memcpy(orig, pkt, len);
  assert_int_equal(p2pq_pp_protect(&ctx, pkt, 18, 4, 2, len), 1200);
  unhex(a2_protected, want, sizeof(want));
  assert_memory_equal(pkt, want, 1200);

  /* the published sample and mask */
  assert_hex(pkt + 22, 16, "d1b1c98dd7689fb8ec11d242b123dc9b");
  assert_int_equal(p2pq_pp_hp_mask(&ctx, pkt + 22, mask), 0);
  assert_hex(mask, 5, "437b9aec36");

  /* the server opens it with its receive key */
  assert_int_equal(p2pq_pp_unprotect(&srx, pkt, 1200, 18, UINT64_MAX, &pn, &pn_len), 1162);
  assert_true(pn == 2);
  assert_int_equal(pn_len, 4);
  assert_memory_equal(pkt, orig, 1184);

  /* the client's own receive key must not open it */
  memcpy(pkt, want, 1200);
  assert_true(p2pq_pp_unprotect(&crx, pkt, 1200, 18, UINT64_MAX, &pn, &pn_len) < 0);

  p2pq_pp_key_clear(&crx);
  p2pq_pp_key_clear(&ctx);
  p2pq_pp_key_clear(&srx);
  p2pq_pp_key_clear(&stx);
}

/* RFC 9001 A.3 */
static void test_a3_server_initial(void **state) {
  static const char *hdr = "c1000000010008f067a5502a4262b50040750001";
  static const char *payload =
      "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
      "88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
      "0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
      "020304";
  static const char *prot =
      "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"
      "5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3"
      "dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84"
      "022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4"
      "2158407dd074ee";
  uint8_t dcid[8], pkt[256], orig[256];
  p2pq_pp_key crx, ctx, srx, stx;
  size_t h, p, pn_len = 0;
  uint64_t pn = 0;
  (void)state;
  unhex(dcid_hex, dcid, sizeof(dcid));
  assert_int_equal(p2pq_initial_keys(P2PQ_QUIC_V1, dcid, 8, 0, &crx, &ctx), 0);
  assert_int_equal(p2pq_initial_keys(P2PQ_QUIC_V1, dcid, 8, 1, &srx, &stx), 0);
  h = unhex(hdr, pkt, sizeof(pkt));
  p = unhex(payload, pkt + h, sizeof(pkt) - h);
  assert_int_equal(h, 20);
  assert_int_equal(p, 99);
  memcpy(orig, pkt, h + p);
  assert_int_equal(p2pq_pp_protect(&stx, pkt, 18, 2, 1, h + p), 135);
  assert_hex(pkt, 135, prot);
  /* the client opens it; the largest pn it has seen in this space is none */
  assert_int_equal(p2pq_pp_unprotect(&crx, pkt, 135, 18, UINT64_MAX, &pn, &pn_len), 99);
  assert_true(pn == 1);
  assert_int_equal(pn_len, 2);
  assert_memory_equal(pkt, orig, h + p);
  p2pq_pp_key_clear(&crx);
  p2pq_pp_key_clear(&ctx);
  p2pq_pp_key_clear(&srx);
  p2pq_pp_key_clear(&stx);
}

/* RFC 9001 A.4 */
static const char *a4_retry = "ff000000010008f067a5502a4262b5746f6b656e"
                              "04a265ba2eff4d829058fb3f0f2496ba";

static void test_a4_retry(void **state) {
  uint8_t dcid[8], pkt[64], tag[16];
  size_t len, i;
  (void)state;
  unhex(dcid_hex, dcid, sizeof(dcid));
  len = unhex(a4_retry, pkt, sizeof(pkt));
  assert_int_equal(len, 36);
  assert_int_equal(p2pq_retry_tag(P2PQ_QUIC_V1, dcid, 8, pkt, len - 16, tag), 0);
  assert_memory_equal(tag, pkt + len - 16, 16);
  assert_int_equal(p2pq_retry_verify(P2PQ_QUIC_V1, dcid, 8, pkt, len), 0);

  /* every single-bit change anywhere fails */
  for (i = 0; i < len; i++) {
    pkt[i] ^= 0x01;
    assert_int_equal(p2pq_retry_verify(P2PQ_QUIC_V1, dcid, 8, pkt, len), P2PQ_ERR_DECRYPT);
    pkt[i] ^= 0x01;
  }
  /* every truncation fails */
  for (i = 0; i < len; i++)
    assert_int_equal(p2pq_retry_verify(P2PQ_QUIC_V1, dcid, 8, pkt, i), P2PQ_ERR_DECRYPT);
  /* wrong original DCID, wrong length of it */
  dcid[7] ^= 0x80;
  assert_int_equal(p2pq_retry_verify(P2PQ_QUIC_V1, dcid, 8, pkt, len), P2PQ_ERR_DECRYPT);
  dcid[7] ^= 0x80;
  assert_int_equal(p2pq_retry_verify(P2PQ_QUIC_V1, dcid, 7, pkt, len), P2PQ_ERR_DECRYPT);
  assert_int_equal(p2pq_retry_verify(2, dcid, 8, pkt, len), P2PQ_ERR_UNSUPPORTED);
  assert_int_equal(p2pq_retry_tag(P2PQ_QUIC_V1, dcid, 21, pkt, 20, tag), P2PQ_ERR_INVALID_ARG);
}

static void token_key(p2pq_token_key *k, uint8_t fill) {
  uint8_t secret[32];
  memset(secret, fill, sizeof(secret));
  assert_int_equal(p2pq_token_key_init(k, secret), 0);
}

static void test_token_round_trip(void **state) {
  p2pq_token_key k, other;
  uint8_t nonce[12], plain[64], out[128], back[64], out2[128];
  size_t i;
  int n;
  (void)state;
  token_key(&k, 0x11);
  token_key(&other, 0x12);
  memset(nonce, 0xa5, sizeof(nonce));
  for (i = 0; i < sizeof(plain); i++)
    plain[i] = (uint8_t)(i * 7 + 1);

  n = p2pq_token_seal(&k, nonce, plain, 40, out, sizeof(out));
  assert_int_equal(n, 40 + P2PQ_TOKEN_OVERHEAD);
  assert_memory_equal(out, nonce, 12);
  assert_memory_not_equal(out + 12, plain, 40); /* actually encrypted */
  assert_int_equal(p2pq_token_open(&k, out, (size_t)n, back, sizeof(back)), 40);
  assert_memory_equal(back, plain, 40);

  /* a different nonce gives a different token that still opens */
  nonce[0] ^= 1;
  assert_int_equal(p2pq_token_seal(&k, nonce, plain, 40, out2, sizeof(out2)), n);
  assert_memory_not_equal(out2 + 12, out + 12, 40);
  assert_int_equal(p2pq_token_open(&k, out2, (size_t)n, back, sizeof(back)), 40);

  /* empty plaintext */
  assert_int_equal(p2pq_token_seal(&k, nonce, NULL, 0, out2, sizeof(out2)), 28);
  assert_int_equal(p2pq_token_open(&k, out2, 28, back, 0), 0);

  /* in place: plain at out + 12, open into the same buffer */
  memcpy(out2 + 12, plain, 40);
  assert_int_equal(p2pq_token_seal(&k, nonce, out2 + 12, 40, out2, sizeof(out2)), n);
  assert_int_equal(p2pq_token_open(&k, out2, (size_t)n, out2, sizeof(out2)), 40);
  assert_memory_equal(out2, plain, 40);

  /* tampering with any byte */
  for (i = 0; i < (size_t)n; i++) {
    out[i] ^= 0x40;
    assert_int_equal(p2pq_token_open(&k, out, (size_t)n, back, sizeof(back)),
                     P2PQ_ERR_INVALID_TOKEN);
    out[i] ^= 0x40;
  }
  /* every truncation */
  for (i = 0; i < (size_t)n; i++)
    assert_int_equal(p2pq_token_open(&k, out, i, back, sizeof(back)), P2PQ_ERR_INVALID_TOKEN);
  /* wrong key */
  assert_int_equal(p2pq_token_open(&other, out, (size_t)n, back, sizeof(back)),
                   P2PQ_ERR_INVALID_TOKEN);
  /* buffers too small */
  assert_int_equal(p2pq_token_seal(&k, nonce, plain, 40, out2, 40 + 27), P2PQ_ERR_NOBUF);
  assert_int_equal(p2pq_token_open(&k, out, (size_t)n, back, 39), P2PQ_ERR_NOBUF);
  /* still fine afterwards */
  assert_int_equal(p2pq_token_open(&k, out, (size_t)n, back, sizeof(back)), 40);

  p2pq_token_key_clear(&k);
  p2pq_token_key_clear(&k);
  p2pq_token_key_clear(&other);
}

static void test_token_ad(void **state) {
  p2pq_token_key k;
  uint8_t nonce[12] = {1}, plain[8] = {9, 8, 7, 6, 5, 4, 3, 2}, out[64], back[8];
  const uint8_t addr1[6] = {192, 0, 2, 1, 0x11, 0x51}, addr2[6] = {192, 0, 2, 2, 0x11, 0x51};
  int n;
  (void)state;
  token_key(&k, 0x33);
  n = p2pq_token_seal_ad(&k, nonce, addr1, 6, plain, 8, out, sizeof(out));
  assert_int_equal(n, 36);
  assert_int_equal(p2pq_token_open_ad(&k, addr1, 6, out, 36, back, 8), 8);
  assert_memory_equal(back, plain, 8);
  assert_int_equal(p2pq_token_open_ad(&k, addr2, 6, out, 36, back, 8), P2PQ_ERR_INVALID_TOKEN);
  assert_int_equal(p2pq_token_open(&k, out, 36, back, 8), P2PQ_ERR_INVALID_TOKEN);
  p2pq_token_key_clear(&k);
}

static void test_token_info_codec(void **state) {
  p2pq_token_info in, out;
  uint8_t buf[P2PQ_TOKEN_INFO_MAX + 4];
  int n, i;
  (void)state;
  memset(&in, 0, sizeof(in));
  in.kind = P2PQ_TOKEN_RETRY;
  in.issued = 0x0102030405060708ull;
  in.odcid_len = 20;
  memset(in.odcid, 0xab, 20);
  in.rscid_len = 8;
  memset(in.rscid, 0xcd, 8);
  n = p2pq_token_info_encode(&in, buf, sizeof(buf));
  assert_int_equal(n, 1 + 8 + 1 + 20 + 1 + 8);
  assert_int_equal(p2pq_token_info_decode(buf, (size_t)n, &out), 0);
  assert_int_equal(out.kind, in.kind);
  assert_true(out.issued == in.issued);
  assert_int_equal(out.odcid_len, 20);
  assert_memory_equal(out.odcid, in.odcid, 20);
  assert_int_equal(out.rscid_len, 8);
  assert_memory_equal(out.rscid, in.rscid, 8);
  /* every truncation, a trailing byte, a CID length of 21, an unknown kind */
  for (i = 0; i < n; i++)
    assert_int_equal(p2pq_token_info_decode(buf, (size_t)i, &out), P2PQ_ERR_TRUNCATED);
  buf[n] = 0;
  assert_int_equal(p2pq_token_info_decode(buf, (size_t)n + 1, &out), P2PQ_ERR_MALFORMED);
  buf[9] = 21;
  assert_int_equal(p2pq_token_info_decode(buf, (size_t)n, &out), P2PQ_ERR_MALFORMED);
  buf[9] = 20;
  buf[0] = 3;
  assert_int_equal(p2pq_token_info_decode(buf, (size_t)n, &out), P2PQ_ERR_MALFORMED);
  /* encoder limits */
  assert_int_equal(p2pq_token_info_encode(&in, buf, (size_t)n - 1), P2PQ_ERR_NOBUF);
  in.odcid_len = 21;
  assert_int_equal(p2pq_token_info_encode(&in, buf, sizeof(buf)), P2PQ_ERR_INVALID_ARG);
}

static void test_token_make_check(void **state) {
  static const uint8_t ip1[4] = {198, 51, 100, 7}, ip2[4] = {198, 51, 100, 8};
  static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
  p2pq_token_key k, other;
  p2pq_token_info info, got;
  p2pq_addr a, a_port, b, c6;
  uint8_t nonce[12] = {7}, tok[P2PQ_TOKEN_MAX_LEN];
  const p2pq_tstamp t0 = 1000 * P2PQ_S, life = 10 * P2PQ_S;
  int n, m;
  (void)state;
  token_key(&k, 0x44);
  token_key(&other, 0x45);
  p2pq_addr_v4(&a, ip1, 4433);
  p2pq_addr_v4(&a_port, ip1, 4434);
  p2pq_addr_v4(&b, ip2, 4433);
  p2pq_addr_v6(&c6, ip6, 4433);

  memset(&info, 0, sizeof(info));
  info.kind = P2PQ_TOKEN_RETRY;
  info.issued = t0;
  info.odcid_len = 8;
  unhex(dcid_hex, info.odcid, 8);
  info.rscid_len = 8;
  memset(info.rscid, 0x5e, 8);
  n = p2pq_token_make(&k, nonce, &info, &a, tok, sizeof(tok));
  assert_int_equal(n, 1 + 8 + 1 + 8 + 1 + 8 + P2PQ_TOKEN_OVERHEAD);
  assert_true(n <= P2PQ_TOKEN_MAX_LEN);
  assert_int_equal(p2pq_token_check(&k, tok, (size_t)n, &a, t0 + life, life, &got), 0);
  assert_int_equal(got.kind, P2PQ_TOKEN_RETRY);
  assert_true(got.issued == t0);
  assert_memory_equal(got.odcid, info.odcid, 8);
  assert_memory_equal(got.rscid, info.rscid, 8);
  /* expired, from the future, other port / IP / family, other key, tampered */
  assert_int_equal(p2pq_token_check(&k, tok, (size_t)n, &a, t0 + life + 1, life, &got),
                   P2PQ_ERR_INVALID_TOKEN);
  assert_int_equal(p2pq_token_check(&k, tok, (size_t)n, &a, t0 - 1, life, &got),
                   P2PQ_ERR_INVALID_TOKEN);
  assert_int_equal(p2pq_token_check(&k, tok, (size_t)n, &a_port, t0, life, &got),
                   P2PQ_ERR_INVALID_TOKEN);
  assert_int_equal(p2pq_token_check(&k, tok, (size_t)n, &b, t0, life, &got),
                   P2PQ_ERR_INVALID_TOKEN);
  assert_int_equal(p2pq_token_check(&k, tok, (size_t)n, &c6, t0, life, &got),
                   P2PQ_ERR_INVALID_TOKEN);
  assert_int_equal(p2pq_token_check(&other, tok, (size_t)n, &a, t0, life, &got),
                   P2PQ_ERR_INVALID_TOKEN);
  tok[n - 1] ^= 1;
  assert_int_equal(p2pq_token_check(&k, tok, (size_t)n, &a, t0, life, &got),
                   P2PQ_ERR_INVALID_TOKEN);
  /* the longest token we make opens; one byte more is rejected before opening */
  {
    uint8_t big[P2PQ_TOKEN_MAX_LEN + 1] = {0};
    info.odcid_len = info.rscid_len = 20;
    assert_int_equal(p2pq_token_make(&k, nonce, &info, &a, big, sizeof(big)), P2PQ_TOKEN_MAX_LEN);
    assert_int_equal(p2pq_token_check(&k, big, P2PQ_TOKEN_MAX_LEN, &a, t0, life, &got), 0);
    assert_int_equal(got.rscid_len, 20);
    assert_int_equal(p2pq_token_check(&k, big, sizeof(big), &a, t0, life, &got),
                     P2PQ_ERR_INVALID_TOKEN);
  }

  /* NEW_TOKEN: bound to the IP only */
  memset(&info, 0, sizeof(info));
  info.kind = P2PQ_TOKEN_NEW_TOKEN;
  info.issued = t0;
  m = p2pq_token_make(&k, nonce, &info, &c6, tok, sizeof(tok));
  assert_int_equal(m, 11 + P2PQ_TOKEN_OVERHEAD);
  c6.port = 50000;
  assert_int_equal(p2pq_token_check(&k, tok, (size_t)m, &c6, t0 + 5, life, &got), 0);
  assert_int_equal(got.kind, P2PQ_TOKEN_NEW_TOKEN);
  c6.ip[15] = 2;
  assert_int_equal(p2pq_token_check(&k, tok, (size_t)m, &c6, t0 + 5, life, &got),
                   P2PQ_ERR_INVALID_TOKEN);
  /* bad arguments */
  info.kind = 9;
  assert_int_equal(p2pq_token_make(&k, nonce, &info, &a, tok, sizeof(tok)), P2PQ_ERR_INVALID_ARG);
  info.kind = P2PQ_TOKEN_RETRY;
  memset(&b, 0, sizeof(b));
  assert_int_equal(p2pq_token_make(&k, nonce, &info, &b, tok, sizeof(tok)), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_token_make(&k, nonce, &info, &a, tok, 20), P2PQ_ERR_NOBUF);
  p2pq_token_key_clear(&k);
  p2pq_token_key_clear(&other);
}

/* HMAC-SHA256 computed from its definition (RFC 2104) with plain SHA-256. */
static void hmac_ref(const uint8_t key[32], const uint8_t *m, size_t len, uint8_t out[32]) {
  uint8_t pad[64 + 64], inner[32];
  size_t i;
  assert_true(len <= 64);
  for (i = 0; i < 64; i++)
    pad[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x36);
  memcpy(pad + 64, m, len);
  assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, pad, 64 + len, inner), 0);
  for (i = 0; i < 64; i++)
    pad[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x5c);
  memcpy(pad + 64, inner, 32);
  assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, pad, 96, out), 0);
}

static void test_stateless_reset_token(void **state) {
  uint8_t key[32], cid[20], t1[16], t2[16], ref[32];
  size_t i;
  (void)state;
  for (i = 0; i < 32; i++)
    key[i] = (uint8_t)(0xf0 - i);
  for (i = 0; i < 20; i++)
    cid[i] = (uint8_t)(i * 13);
  for (i = 0; i <= 20; i++) {
    assert_int_equal(p2pq_stateless_reset_token(key, cid, i, t1), 0);
    hmac_ref(key, cid, i, ref);
    assert_memory_equal(t1, ref, 16);
  }
  assert_int_equal(p2pq_stateless_reset_token(key, cid, 8, t1), 0);
  cid[0] ^= 1;
  assert_int_equal(p2pq_stateless_reset_token(key, cid, 8, t2), 0);
  assert_memory_not_equal(t1, t2, 16);
  cid[0] ^= 1;
  key[31] ^= 1;
  assert_int_equal(p2pq_stateless_reset_token(key, cid, 8, t2), 0);
  assert_memory_not_equal(t1, t2, 16);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a1_secrets),        cmocka_unit_test(test_initial_bad_args),
      cmocka_unit_test(test_a2_client_initial), cmocka_unit_test(test_a3_server_initial),
      cmocka_unit_test(test_a4_retry),          cmocka_unit_test(test_token_round_trip),
      cmocka_unit_test(test_token_ad),          cmocka_unit_test(test_token_info_codec),
      cmocka_unit_test(test_token_make_check),  cmocka_unit_test(test_stateless_reset_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
