/* STUN message codec (RFC 8489): header, attributes, MESSAGE-INTEGRITY
 * (HMAC-SHA1 and HMAC-SHA256), FINGERPRINT. Sans-I/O: decode a datagram that is
 * already in memory, build into a caller buffer. */
#ifndef P2PQ_NAT_STUN_H
#define P2PQ_NAT_STUN_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

#define P2PQ_STUN_MAGIC 0x2112A442u
#define P2PQ_STUN_HDR_LEN 20
#define P2PQ_STUN_TXID_LEN 12
#define P2PQ_STUN_PORT 3478
#define P2PQ_STUN_FP_XOR 0x5354554Eu
#define P2PQ_STUN_MAX_UNKNOWN 8 /* unknown attribute types remembered per message */

enum p2pq_stun_class {
  P2PQ_STUN_REQUEST = 0,
  P2PQ_STUN_INDICATION = 1,
  P2PQ_STUN_SUCCESS = 2,
  P2PQ_STUN_ERROR = 3,
};

#define P2PQ_STUN_METHOD_BINDING 0x001

enum p2pq_stun_attr_type {
  P2PQ_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
  P2PQ_STUN_ATTR_CHANGE_REQUEST = 0x0003, /* RFC 5780 */
  P2PQ_STUN_ATTR_USERNAME = 0x0006,
  P2PQ_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
  P2PQ_STUN_ATTR_ERROR_CODE = 0x0009,
  P2PQ_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
  P2PQ_STUN_ATTR_REALM = 0x0014,
  P2PQ_STUN_ATTR_NONCE = 0x0015,
  P2PQ_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
  P2PQ_STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
  P2PQ_STUN_ATTR_USERHASH = 0x001E,
  P2PQ_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
  P2PQ_STUN_ATTR_PRIORITY = 0x0024,
  P2PQ_STUN_ATTR_USE_CANDIDATE = 0x0025,
  P2PQ_STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
  P2PQ_STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
  P2PQ_STUN_ATTR_SOFTWARE = 0x8022,
  P2PQ_STUN_ATTR_ALTERNATE_SERVER = 0x8023,
  P2PQ_STUN_ATTR_FINGERPRINT = 0x8028,
  P2PQ_STUN_ATTR_ICE_CONTROLLED = 0x8029,
  P2PQ_STUN_ATTR_ICE_CONTROLLING = 0x802A,
  P2PQ_STUN_ATTR_RESPONSE_ORIGIN = 0x802B, /* RFC 5780 */
  P2PQ_STUN_ATTR_OTHER_ADDRESS = 0x802C,   /* RFC 5780 */
};

/* Bits of p2pq_stun_msg.present: which attributes were seen (first instance). */
enum {
  P2PQ_STUN_HAS_MAPPED = 1u << 0,
  P2PQ_STUN_HAS_XOR_MAPPED = 1u << 1,
  P2PQ_STUN_HAS_USERNAME = 1u << 2,
  P2PQ_STUN_HAS_INTEGRITY = 1u << 3,
  P2PQ_STUN_HAS_INTEGRITY_SHA256 = 1u << 4,
  P2PQ_STUN_HAS_FINGERPRINT = 1u << 5,
  P2PQ_STUN_HAS_ERROR_CODE = 1u << 6,
  P2PQ_STUN_HAS_UNKNOWN_ATTRS = 1u << 7,
  P2PQ_STUN_HAS_SOFTWARE = 1u << 8,
  P2PQ_STUN_HAS_REALM = 1u << 9,
  P2PQ_STUN_HAS_NONCE = 1u << 10,
  P2PQ_STUN_HAS_OTHER_ADDRESS = 1u << 11,
  P2PQ_STUN_HAS_RESPONSE_ORIGIN = 1u << 12,
  P2PQ_STUN_HAS_CHANGE_REQUEST = 1u << 13,
  P2PQ_STUN_HAS_PRIORITY = 1u << 14,
  P2PQ_STUN_HAS_USE_CANDIDATE = 1u << 15,
  P2PQ_STUN_HAS_ICE_CONTROLLING = 1u << 16,
  P2PQ_STUN_HAS_ICE_CONTROLLED = 1u << 17,
  P2PQ_STUN_HAS_USERHASH = 1u << 18,
};

/* A byte string inside the decoded datagram (not NUL-terminated). */
typedef struct p2pq_stun_bytes {
  const uint8_t *p;
  size_t len;
} p2pq_stun_bytes;

/* A decoded message. Byte strings point into the input, which must outlive it. */
typedef struct p2pq_stun_msg {
  uint16_t method;
  uint8_t cls; /* enum p2pq_stun_class */
  uint8_t txid[P2PQ_STUN_TXID_LEN];
  uint32_t present; /* P2PQ_STUN_HAS_* */
  p2pq_addr mapped, xor_mapped, other_address, response_origin;
  p2pq_stun_bytes username, software, realm, nonce, userhash;
  uint16_t error_code; /* 300..699 */
  p2pq_stun_bytes error_reason;
  uint16_t unknown_list[P2PQ_STUN_MAX_UNKNOWN]; /* UNKNOWN-ATTRIBUTES content */
  size_t n_unknown_list;
  uint32_t change_request;
  uint32_t priority;
  uint64_t ice_controlling, ice_controlled; /* tie-breakers */
  /* Comprehension-required attributes (< 0x8000) this codec does not know,
   * before any MESSAGE-INTEGRITY: a request carrying them gets a 420. */
  uint16_t unknown_required[P2PQ_STUN_MAX_UNKNOWN];
  size_t n_unknown_required;
  /* Where the integrity attributes start (offset of the attribute header). */
  size_t mi_off, mi256_off, mi256_len;
  const uint8_t *raw;
  size_t raw_len;
} p2pq_stun_msg;

/* Message type <-> (method, class): class bits sit at 0x0100 and 0x0010. */
uint16_t p2pq_stun_type(uint16_t method, uint8_t cls);
void p2pq_stun_type_split(uint16_t type, uint16_t *method, uint8_t *cls);

/* Checks only the 20-byte header and that the message fills the datagram exactly
 * (top bits 00, magic cookie, length % 4 == 0, 20 + length == len). 0 if it looks
 * like STUN, P2PQ_ERR_TRUNCATED / P2PQ_ERR_MALFORMED otherwise. */
int p2pq_stun_check_header(const uint8_t *p, size_t len);

/* Full decode. Returns 0, P2PQ_ERR_TRUNCATED or P2PQ_ERR_MALFORMED for bad
 * syntax, P2PQ_ERR_STUN when FINGERPRINT is present but wrong (the datagram
 * is then not STUN at all and must be dropped silently). Attributes after
 * MESSAGE-INTEGRITY(-SHA256) are ignored, except FINGERPRINT, which must be last. */
int p2pq_stun_decode(p2pq_stun_msg *m, const uint8_t *p, size_t len);

/* Verifies MESSAGE-INTEGRITY (HMAC-SHA1) or, when the message has it,
 * MESSAGE-INTEGRITY-SHA256 with key (short-term: the password; long-term: see
 * below). 0 if valid, P2PQ_ERR_AUTH if not, P2PQ_ERR_NOT_FOUND without one. */
int p2pq_stun_check_integrity(const p2pq_stun_msg *m, const uint8_t *key, size_t keylen);
/* The same, but only the HMAC-SHA1 attribute. */
int p2pq_stun_check_integrity_sha1(const p2pq_stun_msg *m, const uint8_t *key,
                                   size_t keylen);
int p2pq_stun_check_integrity_sha256(const p2pq_stun_msg *m, const uint8_t *key,
                                     size_t keylen);

/* Short-term credentials (RFC 8489 9.1.3): when username is not NULL the
 * message must carry exactly that USERNAME; then the integrity attribute must
 * verify with password as key. 0, P2PQ_ERR_AUTH, or P2PQ_ERR_NOT_FOUND when
 * USERNAME or the integrity attribute is missing (a server answers 400). */
int p2pq_stun_check_short_term(const p2pq_stun_msg *m, const char *username,
                               const char *password);

/* Long-term credential keys (RFC 8489 9.2.2): MD5 / SHA-256 of
 * "username:realm:password" (strings already through OpaqueString/SASLprep). */
int p2pq_stun_long_term_key_md5(const char *user, const char *realm, const char *pass,
                                uint8_t out[16]);
int p2pq_stun_long_term_key_sha256(const char *user, const char *realm, const char *pass,
                                   uint8_t out[32]);

/* CRC-32 (IEEE 802.3, as zlib) and the FINGERPRINT value of p[0..len). */
uint32_t p2pq_stun_crc32(const uint8_t *p, size_t len);

/* Builder: writes into buf; every call fails once any call failed (sticky
 * error), so a caller may check only p2pq_stun_build_finish. */
typedef struct p2pq_stun_builder {
  uint8_t *buf;
  size_t cap, len;
  uint8_t pad_byte; /* value of padding bytes; 0 unless reproducing a vector */
  int err;
} p2pq_stun_builder;

int p2pq_stun_build_init(p2pq_stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
                         uint8_t cls, const uint8_t txid[P2PQ_STUN_TXID_LEN]);
int p2pq_stun_build_attr(p2pq_stun_builder *b, uint16_t type, const void *val, size_t len);
int p2pq_stun_build_u32(p2pq_stun_builder *b, uint16_t type, uint32_t v);
int p2pq_stun_build_u64(p2pq_stun_builder *b, uint16_t type, uint64_t v);
/* MAPPED-ADDRESS style (plain) or XOR-MAPPED-ADDRESS style (xored) address. */
int p2pq_stun_build_addr(p2pq_stun_builder *b, uint16_t type, const p2pq_addr *a);
int p2pq_stun_build_xor_addr(p2pq_stun_builder *b, uint16_t type, const p2pq_addr *a);
int p2pq_stun_build_error(p2pq_stun_builder *b, uint16_t code, const char *reason);
int p2pq_stun_build_unknown(p2pq_stun_builder *b, const uint16_t *types, size_t n);
int p2pq_stun_build_integrity(p2pq_stun_builder *b, const uint8_t *key, size_t keylen);
int p2pq_stun_build_integrity_sha256(p2pq_stun_builder *b, const uint8_t *key,
                                     size_t keylen);
int p2pq_stun_build_fingerprint(p2pq_stun_builder *b);
/* Returns the message length (> 0) or the first error. */
int p2pq_stun_build_finish(p2pq_stun_builder *b);

#endif
