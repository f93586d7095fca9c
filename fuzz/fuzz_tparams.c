/* Transport parameters: byte 0 says which side sent them. Whatever decodes
 * must re-encode and decode back to the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quic/tparams.h"

static int same(const p2pq_tparams *a, const p2pq_tparams *b) {
  return a->has_original_dcid == b->has_original_dcid &&
         (!a->has_original_dcid || p2pq_cid_equal(&a->original_dcid, &b->original_dcid)) &&
         a->max_idle_timeout == b->max_idle_timeout &&
         a->has_stateless_reset_token == b->has_stateless_reset_token &&
         a->max_udp_payload_size == b->max_udp_payload_size &&
         a->initial_max_data == b->initial_max_data &&
         a->initial_max_stream_data_bidi_local == b->initial_max_stream_data_bidi_local &&
         a->initial_max_stream_data_bidi_remote == b->initial_max_stream_data_bidi_remote &&
         a->initial_max_stream_data_uni == b->initial_max_stream_data_uni &&
         a->initial_max_streams_bidi == b->initial_max_streams_bidi &&
         a->initial_max_streams_uni == b->initial_max_streams_uni &&
         a->ack_delay_exponent == b->ack_delay_exponent && a->max_ack_delay == b->max_ack_delay &&
         a->disable_active_migration == b->disable_active_migration &&
         a->preferred_address.present == b->preferred_address.present &&
         (!a->preferred_address.present ||
          (p2pq_cid_equal(&a->preferred_address.cid, &b->preferred_address.cid) &&
           a->preferred_address.v4.family == b->preferred_address.v4.family &&
           a->preferred_address.v6.family == b->preferred_address.v6.family)) &&
         a->active_connection_id_limit == b->active_connection_id_limit &&
         a->has_initial_scid == b->has_initial_scid && a->has_retry_scid == b->has_retry_scid &&
         a->max_datagram_frame_size == b->max_datagram_frame_size &&
         a->address_discovery == b->address_discovery &&
         a->has_nat_traversal == b->has_nat_traversal &&
         a->nat_traversal_limit == b->nat_traversal_limit;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  p2pq_tparams a, b;
  uint8_t out[1024];
  size_t len;
  int server;
  if (size < 1)
    return 0;
  server = data[0] & 1;
  if (p2pq_tparams_decode(&a, server, data + 1, size - 1) != 0)
    return 0;
  if (p2pq_tparams_encode(&a, server, out, sizeof(out), &len) != 0)
    abort();
  if (p2pq_tparams_decode(&b, server, out, len) != 0 || !same(&a, &b))
    abort();
  return 0;
}
