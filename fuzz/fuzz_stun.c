/* STUN decoder, integrity check, Binding server and demux on arbitrary input.
 * Invariants: a decoded message passes the header check and, with a method
 * below 0x100, demuxes as STUN;
 * the server's answer, if any, decodes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/demux.h"
#include "nat/stun.h"
#include "nat/stun_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  p2pq_stun_msg m, r;
  p2pq_addr from;
  uint8_t out[1500];
  static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";
  static const uint8_t ip[4] = {192, 0, 2, 1};
  int n;
  p2pq_demux_classify(data, size);
  if (p2pq_stun_decode(&m, data, size) == 0) {
    /* Methods >= 0x100 (first byte 4..63) are reserved for demultiplexing. */
    if (p2pq_stun_check_header(data, size) != 0 ||
        (data[0] <= 3 && p2pq_demux_classify(data, size) != P2PQ_DEMUX_STUN))
      abort();
    p2pq_stun_check_integrity(&m, key, sizeof(key) - 1);
    p2pq_stun_check_integrity_sha1(&m, key, sizeof(key) - 1);
  }
  p2pq_addr_v4(&from, ip, 32853);
  n = p2pq_stun_server_respond(data, size, &from, "fuzz", out, sizeof(out));
  if (n > 0 && p2pq_stun_decode(&r, out, (size_t)n) != 0)
    abort();
  {
    p2pq_stun_server_opts o;
    uint32_t change;
    static const uint8_t ip2[4] = {198, 51, 100, 2};
    memset(&o, 0, sizeof(o));
    p2pq_addr_v4(&o.local, ip, 3478);
    p2pq_addr_v4(&o.other, ip2, 3479);
    n = p2pq_stun_server_respond_ex(data, size, &from, &o, out, sizeof(out), &change);
    if (n > 0 && (p2pq_stun_decode(&r, out, (size_t)n) != 0 || (change & ~6u)))
      abort();
  }
  return 0;
}
