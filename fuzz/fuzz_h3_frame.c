/* HTTP/3 frame, SETTINGS, capsule and HTTP Datagram decoders on arbitrary
 * input. Invariants: a decoded frame lies within the input; a decoded SETTINGS
 * frame re-encodes and decodes to the same values; a decoded capsule
 * re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2pq/error.h"
#include "p2pq/h3.h"

static void check_settings(const p2pq_h3_settings *s) {
  uint8_t buf[256];
  p2pq_h3_frame g;
  size_t used;
  uint64_t err = 0;
  int n = p2pq_h3_settings_encode(buf, sizeof buf, s, 0, 0);
  if (n < 0)
    abort();
  if (p2pq_h3_frame_decode(buf, (size_t)n, &g, &used, &err) != 0 || used != (size_t)n ||
      g.settings.qpack_max_table_capacity != s->qpack_max_table_capacity ||
      g.settings.max_field_section_size != s->max_field_section_size ||
      g.settings.qpack_blocked_streams != s->qpack_blocked_streams ||
      g.settings.enable_connect_protocol != s->enable_connect_protocol ||
      g.settings.h3_datagram != s->h3_datagram)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0, used;
  p2pq_h3_frame f;
  p2pq_h3_capsule c;
  uint64_t err = 0;
  int64_t sid;
  const uint8_t *pl;
  size_t pll;
  /* a sequence of frames */
  while (off < size) {
    int rc = p2pq_h3_frame_decode(data + off, size - off, &f, &used, &err);
    if (rc < 0)
      break;
    if (used == 0 || used > size - off || f.payload + f.payload_len > data + size)
      abort();
    if (f.type == P2PQ_H3_FRAME_SETTINGS)
      check_settings(&f.settings);
    off += used;
  }
  /* the same bytes as capsules */
  for (off = 0; off < size;) {
    uint8_t buf[16];
    if (p2pq_h3_capsule_decode(data + off, size - off, &c, &used) < 0)
      break;
    if (c.len <= sizeof buf - 16 &&
        p2pq_h3_capsule_encode(buf, sizeof buf, c.type, c.value, c.len) < 0)
      abort();
    off += used;
  }
  p2pq_h3_capsule_next_datagram(data, size, &pl, &pll, &used);
  if (p2pq_h3_datagram_decode(data, size, &sid, &pl, &pll, &err) == 0 &&
      (sid % 4 != 0 || pl + pll != data + size))
    abort();
  return 0;
}
