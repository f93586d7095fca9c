/* Packet unprotection on arbitrary bytes with fixed keys: header protection
 * removal and AEAD open must never read or write outside the packet. Input:
 * byte 0 picks the key, byte 1 the pn offset, the rest is the packet. As an
 * oracle, the same bytes protected as a payload must open back to themselves.
 * The other attacker-supplied inputs of this module ride along: the rest is also
 * tried as an address-validation token, as a token's plaintext and as a Retry
 * packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/initial.h"
#include "crypto/pp.h"
#include "crypto/retry.h"
#include "p2pq/error.h"

static p2pq_pp_key keys[4];
static p2pq_token_key token_key;

static void setup(void) {
  static const uint8_t dcid[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
  uint8_t secret[48];
  size_t i;
  /* as a server: 0 opens the client Initial (RFC 9001 A.2), 1 is the server's
   * own key (opens A.3) */
  if (p2pq_initial_keys(P2PQ_QUIC_V1, dcid, 8, 1, &keys[0], &keys[1]) != 0)
    abort();
  for (i = 0; i < sizeof(secret); i++)
    secret[i] = (uint8_t)(i * 29 + 7);
  if (p2pq_pp_key_init(&keys[2], P2PQ_AEAD_CHACHA20_POLY1305, secret, 32) != 0 ||
      p2pq_pp_key_init(&keys[3], P2PQ_AEAD_AES_256_GCM, secret, 48) != 0 ||
      p2pq_token_key_init(&token_key, secret) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  const p2pq_pp_key *k;
  uint8_t *pkt;
  size_t off, len, pn_len = 0;
  uint64_t pn = 0;
  int rv;
  if (!ready) {
    setup();
    ready = 1;
  }
  if (size < 2)
    return 0;
  k = &keys[data[0] & 3];
  off = data[1];
  len = size - 2;
  /* An exact-size heap copy so any over-read or over-write is caught. */
  pkt = malloc(len ? len : 1);
  if (!pkt)
    return 0;
  memcpy(pkt, data + 2, len);
  rv = p2pq_pp_unprotect(k, pkt, len, off, data[0], &pn, &pn_len);
  if (rv >= 0 && (pn_len < 1 || pn_len > 4 || off + pn_len + (size_t)rv + 16 != len))
    abort();
  free(pkt);

  /* As a token (opened into an exact-size buffer) and as a Retry packet. */
  pkt = malloc(len ? len : 1);
  if (!pkt)
    return 0;
  rv = p2pq_token_open(&token_key, data + 2, len, pkt, len > 28 ? len - 28 : 0);
  if (rv != P2PQ_ERR_INVALID_TOKEN)
    abort(); /* forging a token would need the key */
  free(pkt);
  {
    /* the token plaintext codec: what decodes re-encodes to the same bytes */
    p2pq_token_info info;
    uint8_t enc[P2PQ_TOKEN_INFO_MAX];
    if (p2pq_token_info_decode(data + 2, len, &info) == 0 &&
        (p2pq_token_info_encode(&info, enc, sizeof(enc)) != (int)len ||
         memcmp(enc, data + 2, len) != 0))
      abort();
  }
  (void)p2pq_retry_verify(P2PQ_QUIC_V1, data + 2, data[1] % 21 < len ? data[1] % 21 : 0,
                          data + 2, len);

  /* Oracle: protect the input as the payload of a short-header packet. */
  if (len >= 4 && len <= 1500) {
    size_t hdr = 1 + 8, pl = (data[0] >> 2) % 4 + 1, total = hdr + pl + len;
    uint8_t *p = malloc(total + 16);
    if (!p)
      abort();
    memset(p, 0x40, hdr);
    memcpy(p + hdr + pl, data + 2, len);
    pn = (uint64_t)data[1] << 8 | data[0];
    if (p2pq_pp_protect(k, p, hdr, pl, pn, total) != (int)(total + 16))
      abort();
    rv = p2pq_pp_unprotect(k, p, total + 16, hdr, pn ? pn - 1 : UINT64_MAX, &pn, &pn_len);
    if (rv != (int)len || pn_len != pl || memcmp(p + hdr + pl, data + 2, len) != 0)
      abort();
    free(p);
  }
  return 0;
}
