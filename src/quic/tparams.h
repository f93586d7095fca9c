/* QUIC transport parameters (RFC 9000 section 18, RFC 9221, address discovery,
 * NAT traversal). One table in tparams.c describes every parameter (id, name,
 * server-only, codec); extensions are rows. */
#ifndef P2PQ_QUIC_TPARAMS_H
#define P2PQ_QUIC_TPARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"
#include "quic/cid.h"

enum {
  P2PQ_TP_ORIGINAL_DCID = 0x00,
  P2PQ_TP_MAX_IDLE_TIMEOUT = 0x01,
  P2PQ_TP_STATELESS_RESET_TOKEN = 0x02,
  P2PQ_TP_MAX_UDP_PAYLOAD_SIZE = 0x03,
  P2PQ_TP_INITIAL_MAX_DATA = 0x04,
  P2PQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL = 0x05,
  P2PQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE = 0x06,
  P2PQ_TP_INITIAL_MAX_STREAM_DATA_UNI = 0x07,
  P2PQ_TP_INITIAL_MAX_STREAMS_BIDI = 0x08,
  P2PQ_TP_INITIAL_MAX_STREAMS_UNI = 0x09,
  P2PQ_TP_ACK_DELAY_EXPONENT = 0x0a,
  P2PQ_TP_MAX_ACK_DELAY = 0x0b,
  P2PQ_TP_DISABLE_ACTIVE_MIGRATION = 0x0c,
  P2PQ_TP_PREFERRED_ADDRESS = 0x0d,
  P2PQ_TP_ACTIVE_CONNECTION_ID_LIMIT = 0x0e,
  P2PQ_TP_INITIAL_SCID = 0x0f,
  P2PQ_TP_RETRY_SCID = 0x10,
  P2PQ_TP_MAX_DATAGRAM_FRAME_SIZE = 0x20, /* RFC 9221 */
};
#define P2PQ_TP_ADDRESS_DISCOVERY 0x9f81a176ull    /* draft-ietf-quic-address-discovery-00 */
#define P2PQ_TP_NAT_TRAVERSAL 0x3d7e9f0bca12fea6ull /* draft-seemann-quic-nat-traversal-02 */

/* address_discovery values (what the sender of the parameter wants) */
enum {
  P2PQ_AD_ABSENT = -1,
  P2PQ_AD_PROVIDE = 0, /* willing to send observations, does not want them */
  P2PQ_AD_RECEIVE = 1, /* wants observations, will not send them */
  P2PQ_AD_BOTH = 2,
};

typedef struct p2pq_tparams {
  p2pq_cid original_dcid;
  int has_original_dcid;
  uint64_t max_idle_timeout; /* ms */
  uint8_t stateless_reset_token[16];
  int has_stateless_reset_token;
  uint64_t max_udp_payload_size, initial_max_data, initial_max_stream_data_bidi_local,
      initial_max_stream_data_bidi_remote, initial_max_stream_data_uni, initial_max_streams_bidi,
      initial_max_streams_uni, ack_delay_exponent, max_ack_delay /* ms */;
  int disable_active_migration;
  struct {
    int present;
    p2pq_addr v4, v6; /* family 0 = the all-zero "no address of this family" */
    p2pq_cid cid;
    uint8_t token[16];
  } preferred_address;
  uint64_t active_connection_id_limit;
  p2pq_cid initial_scid;
  int has_initial_scid;
  p2pq_cid retry_scid;
  int has_retry_scid;
  uint64_t max_datagram_frame_size; /* 0 = DATAGRAM not supported */
  int address_discovery;            /* P2PQ_AD_* */
  /* nat_traversal: a client sends it empty, a server with its concurrency
   * limit (> 0); nat_traversal_limit is 0 for a client's. */
  int has_nat_traversal;
  uint64_t nat_traversal_limit;
} p2pq_tparams;

/* RFC defaults: max_udp_payload_size 65527, ack_delay_exponent 3, max_ack_delay
 * 25, active_connection_id_limit 2, address_discovery absent, rest 0/absent. */
void p2pq_tparams_default(p2pq_tparams *tp);

/* Encodes the non-default values (server-only ones only if is_server) plus one
 * reserved 31*N+27 grease parameter. P2PQ_ERR_NOBUF if cap is too small,
 * P2PQ_ERR_INVALID_ARG for values the decoder would reject. */
int p2pq_tparams_encode(const p2pq_tparams *tp, int is_server, uint8_t *out, size_t cap,
                        size_t *len);

/* Decodes into tp (reset to defaults first). P2PQ_ERR_TRANSPORT_PARAM for:
 * server-only parameters from a client, duplicates, out-of-range values, wrong
 * lengths, truncation. Unknown ids are ignored. */
int p2pq_tparams_decode(p2pq_tparams *tp, int sent_by_server, const uint8_t *p, size_t len);

/* qlog name of a parameter id, "unknown" if not in the table. */
const char *p2pq_tparams_name(uint64_t id);

#endif
