/* The default gateway (where PCP, NAT-PMP and UPnP IGD requests go), read from
 * Linux's /proc/net/route and /proc/net/ipv6_route. The parsers are pure and
 * take the file's text; p2pq_gateway_default reads the files. */
#ifndef P2PQ_PEER_GATEWAY_H
#define P2PQ_PEER_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

#define P2PQ_GATEWAY_IFNAMSIZ 16

typedef struct p2pq_gateway {
  p2pq_addr addr; /* the gateway's address, port 0 */
  char ifname[P2PQ_GATEWAY_IFNAMSIZ];
  uint32_t metric;
} p2pq_gateway;

/* /proc/net/route text (header line, then one route per line). Picks the up
 * default route (destination and mask 0, RTF_UP|RTF_GATEWAY) with the lowest
 * metric. Returns 0, P2PQ_ERR_NO_GATEWAY when there is none,
 * P2PQ_ERR_TRUNCATED (empty, or the last line has no newline),
 * P2PQ_ERR_MALFORMED (bad header, a route line with too few or non-hex fields). */
int p2pq_gateway_parse_route4(const uint8_t *p, size_t len, p2pq_gateway *out);

/* /proc/net/ipv6_route text (no header; 10 fields a line). Default route =
 * prefix length 0, a non-zero gateway, RTF_UP|RTF_GATEWAY and not RTF_REJECT;
 * lowest metric wins. Same return values (empty text: P2PQ_ERR_NO_GATEWAY). */
int p2pq_gateway_parse_route6(const uint8_t *p, size_t len, p2pq_gateway *out);

/* Reads the /proc file of family 4 or 6 and parses it. P2PQ_ERR_IO when the
 * file cannot be read. */
int p2pq_gateway_default(int family, p2pq_gateway *out);

#endif
