/* QUIC transport parameters: one table row per parameter (RFC 9000 18.2,
 * RFC 9221, address discovery, NAT traversal). */
#include "quic/tparams.h"

#include <stddef.h>
#include <string.h>

#include "common/buf.h"

#define TPERR P2PQ_ERR_TRANSPORT_PARAM

typedef struct tp_row tp_row;
struct tp_row {
  uint64_t id;
  const char *name;
  int server_only;
  int (*dec)(const tp_row *row, p2pq_tparams *tp, int by_server, p2pq_rd *v);
  int (*enc)(const tp_row *row, const p2pq_tparams *tp, int is_server, p2pq_wr *w);
  size_t off, has_off; /* field offsets for the generic codecs */
  uint64_t min, max, def;
};

#define FIELD(tp, off, T) ((T *)((char *)(tp) + (off)))
#define CFIELD(tp, off, T) ((const T *)((const char *)(tp) + (off)))

/* Writes id, length and value; whole-or-nothing. */
static int wr_param(p2pq_wr *w, uint64_t id, const void *val, size_t n) {
  if (p2pq_wr_left(w) < p2pq_varint_len(id) + p2pq_varint_len(n) + n)
    return P2PQ_ERR_NOBUF;
  p2pq_wr_varint(w, id);
  p2pq_wr_varint(w, n);
  return p2pq_wr_bytes(w, val, n);
}

static int wr_param_varint(p2pq_wr *w, uint64_t id, uint64_t v) {
  uint8_t buf[8];
  p2pq_wr b;
  p2pq_wr_init(&b, buf, sizeof(buf));
  if (p2pq_wr_varint(&b, v))
    return P2PQ_ERR_INVALID_ARG;
  return wr_param(w, id, buf, (size_t)(b.p - buf));
}

/* A value that must be exactly one varint. */
static int rd_only_varint(p2pq_rd *v, uint64_t *x) {
  if (p2pq_rd_varint(v, x) || p2pq_rd_left(v) != 0)
    return TPERR;
  return 0;
}

/* ---- generic codecs ---- */

static int dec_varint(const tp_row *row, p2pq_tparams *tp, int by_server, p2pq_rd *v) {
  uint64_t x;
  if (rd_only_varint(v, &x) || x < row->min || x > row->max)
    return TPERR;
  *FIELD(tp, row->off, uint64_t) = x;
  return 0;
}
static int enc_varint(const tp_row *row, const p2pq_tparams *tp, int is_server, p2pq_wr *w) {
  uint64_t x = *CFIELD(tp, row->off, uint64_t);
  if (x == row->def)
    return 0;
  if (x < row->min || x > row->max)
    return P2PQ_ERR_INVALID_ARG;
  return wr_param_varint(w, row->id, x);
}

static int dec_cid(const tp_row *row, p2pq_tparams *tp, int by_server, p2pq_rd *v) {
  size_t n = p2pq_rd_left(v);
  const uint8_t *d;
  if (n > P2PQ_MAX_CIDLEN || p2pq_rd_bytes(v, n, &d))
    return TPERR;
  p2pq_cid_init(FIELD(tp, row->off, p2pq_cid), d, n);
  *FIELD(tp, row->has_off, int) = 1;
  return 0;
}
static int enc_cid(const tp_row *row, const p2pq_tparams *tp, int is_server, p2pq_wr *w) {
  const p2pq_cid *c = CFIELD(tp, row->off, p2pq_cid);
  if (!*CFIELD(tp, row->has_off, int))
    return 0;
  if (c->len > P2PQ_MAX_CIDLEN)
    return P2PQ_ERR_INVALID_ARG;
  return wr_param(w, row->id, c->data, c->len);
}

static int dec_token(const tp_row *row, p2pq_tparams *tp, int by_server, p2pq_rd *v) {
  if (p2pq_rd_left(v) != 16 || p2pq_rd_copy(v, FIELD(tp, row->off, uint8_t), 16))
    return TPERR;
  *FIELD(tp, row->has_off, int) = 1;
  return 0;
}
static int enc_token(const tp_row *row, const p2pq_tparams *tp, int is_server, p2pq_wr *w) {
  if (!*CFIELD(tp, row->has_off, int))
    return 0;
  return wr_param(w, row->id, CFIELD(tp, row->off, uint8_t), 16);
}

static int dec_flag(const tp_row *row, p2pq_tparams *tp, int by_server, p2pq_rd *v) {
  if (p2pq_rd_left(v) != 0)
    return TPERR;
  *FIELD(tp, row->off, int) = 1;
  return 0;
}
static int enc_flag(const tp_row *row, const p2pq_tparams *tp, int is_server, p2pq_wr *w) {
  return *CFIELD(tp, row->off, int) ? wr_param(w, row->id, NULL, 0) : 0;
}

/* ---- preferred_address (RFC 9000 18.2): v4, port, v6, port, cid, token ---- */

static int dec_pref_addr(const tp_row *row, p2pq_tparams *tp, int by_server, p2pq_rd *v) {
  static const uint8_t zero[16];
  uint8_t ip4[4], ip6[16], n;
  uint16_t port4, port6;
  const uint8_t *cid;
  if (p2pq_rd_copy(v, ip4, 4) || p2pq_rd_u16(v, &port4) || p2pq_rd_copy(v, ip6, 16) ||
      p2pq_rd_u16(v, &port6) || p2pq_rd_u8(v, &n))
    return TPERR;
  /* a zero-length CID cannot be used for a preferred address */
  if (n == 0 || n > P2PQ_MAX_CIDLEN || p2pq_rd_bytes(v, n, &cid) ||
      p2pq_rd_copy(v, tp->preferred_address.token, 16) || p2pq_rd_left(v) != 0)
    return TPERR;
  memset(&tp->preferred_address.v4, 0, sizeof(p2pq_addr));
  memset(&tp->preferred_address.v6, 0, sizeof(p2pq_addr));
  if (port4 || memcmp(ip4, zero, 4))
    p2pq_addr_v4(&tp->preferred_address.v4, ip4, port4);
  if (port6 || memcmp(ip6, zero, 16))
    p2pq_addr_v6(&tp->preferred_address.v6, ip6, port6);
  p2pq_cid_init(&tp->preferred_address.cid, cid, n);
  tp->preferred_address.present = 1;
  return 0;
}

static int enc_pref_addr(const tp_row *row, const p2pq_tparams *tp, int is_server, p2pq_wr *w) {
  static const uint8_t zero[16];
  const p2pq_addr *a4 = &tp->preferred_address.v4, *a6 = &tp->preferred_address.v6;
  const p2pq_cid *c = &tp->preferred_address.cid;
  uint8_t buf[4 + 2 + 16 + 2 + 1 + P2PQ_MAX_CIDLEN + 16];
  p2pq_wr b;
  if (!tp->preferred_address.present)
    return 0;
  if (c->len == 0 || c->len > P2PQ_MAX_CIDLEN || (a4->family && a4->family != 4) ||
      (a6->family && a6->family != 6))
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&b, buf, sizeof(buf));
  p2pq_wr_bytes(&b, a4->family ? a4->ip : zero, 4);
  p2pq_wr_u16(&b, a4->family ? a4->port : 0);
  p2pq_wr_bytes(&b, a6->family ? a6->ip : zero, 16);
  p2pq_wr_u16(&b, a6->family ? a6->port : 0);
  p2pq_wr_u8(&b, c->len);
  p2pq_wr_bytes(&b, c->data, c->len);
  p2pq_wr_bytes(&b, tp->preferred_address.token, 16);
  return wr_param(w, row->id, buf, (size_t)(b.p - buf));
}

/* ---- address_discovery: varint 0, 1 or 2 ---- */

static int dec_addr_disc(const tp_row *row, p2pq_tparams *tp, int by_server, p2pq_rd *v) {
  uint64_t x;
  if (rd_only_varint(v, &x) || x > P2PQ_AD_BOTH)
    return TPERR;
  tp->address_discovery = (int)x;
  return 0;
}
static int enc_addr_disc(const tp_row *row, const p2pq_tparams *tp, int is_server, p2pq_wr *w) {
  if (tp->address_discovery == P2PQ_AD_ABSENT)
    return 0;
  if (tp->address_discovery < 0 || tp->address_discovery > P2PQ_AD_BOTH)
    return P2PQ_ERR_INVALID_ARG;
  return wr_param_varint(w, row->id, (uint64_t)tp->address_discovery);
}

/* ---- nat_traversal: empty from a client, a non-zero varint from a server ---- */

static int dec_nat_trav(const tp_row *row, p2pq_tparams *tp, int by_server, p2pq_rd *v) {
  uint64_t x = 0;
  if (by_server ? rd_only_varint(v, &x) || x == 0 : p2pq_rd_left(v) != 0)
    return TPERR;
  tp->has_nat_traversal = 1;
  tp->nat_traversal_limit = x;
  return 0;
}
static int enc_nat_trav(const tp_row *row, const p2pq_tparams *tp, int is_server, p2pq_wr *w) {
  if (!tp->has_nat_traversal)
    return 0;
  if (!is_server)
    return wr_param(w, row->id, NULL, 0);
  if (tp->nat_traversal_limit == 0)
    return P2PQ_ERR_INVALID_ARG;
  return wr_param_varint(w, row->id, tp->nat_traversal_limit);
}

/* ---- the table ---- */

#define OFF(f) offsetof(p2pq_tparams, f)
#define VARINT(id, name, f, min, max, def) {id, name, 0, dec_varint, enc_varint, OFF(f), 0, min, max, def}
#define CID(id, name, so, f) {id, name, so, dec_cid, enc_cid, OFF(f), OFF(has_##f), 0, 0, 0}

static const tp_row tp_table[] = {
    CID(P2PQ_TP_ORIGINAL_DCID, "original_destination_connection_id", 1, original_dcid),
    VARINT(P2PQ_TP_MAX_IDLE_TIMEOUT, "max_idle_timeout", max_idle_timeout, 0, P2PQ_VARINT_MAX, 0),
    {P2PQ_TP_STATELESS_RESET_TOKEN, "stateless_reset_token", 1, dec_token, enc_token,
     OFF(stateless_reset_token), OFF(has_stateless_reset_token), 0, 0, 0},
    VARINT(P2PQ_TP_MAX_UDP_PAYLOAD_SIZE, "max_udp_payload_size", max_udp_payload_size, 1200,
           P2PQ_VARINT_MAX, 65527),
    VARINT(P2PQ_TP_INITIAL_MAX_DATA, "initial_max_data", initial_max_data, 0, P2PQ_VARINT_MAX, 0),
    VARINT(P2PQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL, "initial_max_stream_data_bidi_local",
           initial_max_stream_data_bidi_local, 0, P2PQ_VARINT_MAX, 0),
    VARINT(P2PQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE, "initial_max_stream_data_bidi_remote",
           initial_max_stream_data_bidi_remote, 0, P2PQ_VARINT_MAX, 0),
    VARINT(P2PQ_TP_INITIAL_MAX_STREAM_DATA_UNI, "initial_max_stream_data_uni",
           initial_max_stream_data_uni, 0, P2PQ_VARINT_MAX, 0),
    VARINT(P2PQ_TP_INITIAL_MAX_STREAMS_BIDI, "initial_max_streams_bidi", initial_max_streams_bidi,
           0, 1ull << 60, 0),
    VARINT(P2PQ_TP_INITIAL_MAX_STREAMS_UNI, "initial_max_streams_uni", initial_max_streams_uni, 0,
           1ull << 60, 0),
    VARINT(P2PQ_TP_ACK_DELAY_EXPONENT, "ack_delay_exponent", ack_delay_exponent, 0, 20, 3),
    VARINT(P2PQ_TP_MAX_ACK_DELAY, "max_ack_delay", max_ack_delay, 0, (1ull << 14) - 1, 25),
    {P2PQ_TP_DISABLE_ACTIVE_MIGRATION, "disable_active_migration", 0, dec_flag, enc_flag,
     OFF(disable_active_migration), 0, 0, 0, 0},
    {P2PQ_TP_PREFERRED_ADDRESS, "preferred_address", 1, dec_pref_addr, enc_pref_addr, 0, 0, 0, 0,
     0},
    VARINT(P2PQ_TP_ACTIVE_CONNECTION_ID_LIMIT, "active_connection_id_limit",
           active_connection_id_limit, 2, P2PQ_VARINT_MAX, 2),
    CID(P2PQ_TP_INITIAL_SCID, "initial_source_connection_id", 0, initial_scid),
    CID(P2PQ_TP_RETRY_SCID, "retry_source_connection_id", 1, retry_scid),
    VARINT(P2PQ_TP_MAX_DATAGRAM_FRAME_SIZE, "max_datagram_frame_size", max_datagram_frame_size, 0,
           P2PQ_VARINT_MAX, 0),
    {P2PQ_TP_ADDRESS_DISCOVERY, "address_discovery", 0, dec_addr_disc, enc_addr_disc, 0, 0, 0, 0,
     0},
    {P2PQ_TP_NAT_TRAVERSAL, "nat_traversal", 0, dec_nat_trav, enc_nat_trav, 0, 0, 0, 0, 0},
};
#define TP_ROWS (sizeof(tp_table) / sizeof(tp_table[0]))

static const tp_row *tp_lookup(uint64_t id, size_t *idx) {
  for (size_t i = 0; i < TP_ROWS; i++)
    if (tp_table[i].id == id) {
      *idx = i;
      return &tp_table[i];
    }
  return NULL;
}

const char *p2pq_tparams_name(uint64_t id) {
  size_t i;
  const tp_row *row = tp_lookup(id, &i);
  return row ? row->name : "unknown";
}

void p2pq_tparams_default(p2pq_tparams *tp) {
  memset(tp, 0, sizeof(*tp));
  for (size_t i = 0; i < TP_ROWS; i++)
    if (tp_table[i].dec == dec_varint)
      *FIELD(tp, tp_table[i].off, uint64_t) = tp_table[i].def;
  tp->address_discovery = P2PQ_AD_ABSENT;
}

/* Reserved id 31*N+27 (RFC 9000 18.1); N and the value come from the initial
 * SCID, which is random, so the grease varies without a random source here. */
static int enc_grease(const p2pq_tparams *tp, p2pq_wr *w) {
  uint8_t val[2] = {0, 0};
  uint64_t n = 0;
  for (size_t i = 0; i < tp->initial_scid.len && i < 2; i++) {
    n = (n << 8) | tp->initial_scid.data[i];
    val[i] = tp->initial_scid.data[i];
  }
  return wr_param(w, 31 * n + 27, val, n % 3);
}

int p2pq_tparams_encode(const p2pq_tparams *tp, int is_server, uint8_t *out, size_t cap,
                        size_t *len) {
  p2pq_wr w;
  int rc;
  p2pq_wr_init(&w, out, cap);
  for (size_t i = 0; i < TP_ROWS; i++) {
    if (tp_table[i].server_only && !is_server)
      continue;
    if ((rc = tp_table[i].enc(&tp_table[i], tp, is_server, &w)) != 0)
      return rc;
  }
  if ((rc = enc_grease(tp, &w)) != 0)
    return rc;
  *len = (size_t)(w.p - out);
  return 0;
}

int p2pq_tparams_decode(p2pq_tparams *tp, int sent_by_server, const uint8_t *p, size_t len) {
  p2pq_rd r, v;
  uint32_t seen = 0;
  _Static_assert(TP_ROWS <= 32, "seen mask is 32 bits");
  p2pq_tparams_default(tp);
  p2pq_rd_init(&r, p, len);
  while (p2pq_rd_left(&r)) {
    uint64_t id, n;
    const uint8_t *val;
    const tp_row *row;
    size_t idx;
    int rc;
    if (p2pq_rd_varint(&r, &id) || p2pq_rd_varint(&r, &n) || n > p2pq_rd_left(&r))
      return TPERR;
    p2pq_rd_bytes(&r, (size_t)n, &val);
    if (!(row = tp_lookup(id, &idx)))
      continue; /* unknown (incl. grease): ignored */
    if ((row->server_only && !sent_by_server) || (seen & (1u << idx)))
      return TPERR;
    seen |= 1u << idx;
    p2pq_rd_init(&v, val, (size_t)n);
    if ((rc = row->dec(row, tp, sent_by_server, &v)) != 0)
      return rc;
  }
  return 0;
}
