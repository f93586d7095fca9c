/* Sans-I/O NAT-PMP client (RFC 6886): one public-address query or one port
 * mapping, with 250 ms doubling retransmission (3.1), renewal at half the
 * lifetime, epoch checks (3.6) with re-mapping, and delete. */
#ifndef P2PQ_NAT_NATPMP_CLIENT_H
#define P2PQ_NAT_NATPMP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "nat/natpmp.h"
#include "p2pq/types.h"

typedef struct p2pq_natpmp_client_cfg {
  p2pq_addr server;        /* gateway, port 5351 */
  uint8_t op;              /* 0 public address, 1 map UDP, 2 map TCP */
  uint16_t internal_port;  /* op 1, 2 */
  uint16_t suggested_port; /* op 1, 2; 0 = any */
  uint32_t lifetime;       /* op 1, 2; default 7200 s */
  p2pq_tstamp first_wait;  /* default 250 ms, doubled after each send */
  unsigned max_sends;      /* default 9 (last wait 64 s) */
  p2pq_tstamp max_total;   /* optional bound on one exchange; 0 = none */
} p2pq_natpmp_client_cfg;

void p2pq_natpmp_client_cfg_default(p2pq_natpmp_client_cfg *cfg);

enum p2pq_natpmp_client_state {
  P2PQ_NATPMP_IDLE = 0,
  P2PQ_NATPMP_REQUESTING,
  P2PQ_NATPMP_DONE,      /* op 0 answered */
  P2PQ_NATPMP_MAPPED,    /* waiting to renew */
  P2PQ_NATPMP_RENEWING,
  P2PQ_NATPMP_DELETING,
  P2PQ_NATPMP_DELETED,
  P2PQ_NATPMP_FAILED,
};

typedef struct p2pq_natpmp_client {
  p2pq_natpmp_client_cfg cfg;
  int state;
  uint8_t req[12];
  size_t req_len;
  unsigned sent;          /* sends in this exchange */
  p2pq_tstamp wait;       /* current wait */
  p2pq_tstamp next;       /* next send, renewal, or give-up time */
  p2pq_tstamp first_sent;
  p2pq_tstamp expires;
  int remap;              /* next MAPPED timer is a re-map after a reboot */
  uint8_t external_ip[4]; /* op 0 */
  uint16_t external_port; /* op 1, 2 */
  uint32_t granted;       /* lifetime granted, seconds */
  uint16_t result;
  int last_error;
  int have_epoch;
  uint32_t epoch;
  p2pq_tstamp epoch_at;
  uint64_t dropped_spoofed, dropped_malformed, epoch_resets, sends;
} p2pq_natpmp_client;

int p2pq_natpmp_client_init(p2pq_natpmp_client *c, const p2pq_natpmp_client_cfg *cfg);
void p2pq_natpmp_client_clear(p2pq_natpmp_client *c);
int p2pq_natpmp_client_start(p2pq_natpmp_client *c, p2pq_tstamp now, uint8_t *out, size_t cap,
                             size_t *out_len);
/* Mapping only: request lifetime 0 with suggested port 0. */
int p2pq_natpmp_client_delete(p2pq_natpmp_client *c, p2pq_tstamp now, uint8_t *out,
                              size_t cap, size_t *out_len);
/* 0 (answer or announcement processed), P2PQ_ERR_SPOOFED, P2PQ_ERR_MALFORMED
 * (both dropped and counted), P2PQ_ERR_UNSUPPORTED (gateway answered with
 * another version), P2PQ_ERR_PORTMAP (error result in c->result). */
int p2pq_natpmp_client_on_recv(p2pq_natpmp_client *c, const uint8_t *p, size_t len,
                               const p2pq_addr *from, p2pq_tstamp now);
p2pq_tstamp p2pq_natpmp_client_next_timeout(const p2pq_natpmp_client *c);
/* Sends what is due, or P2PQ_ERR_TIMEOUT after the last wait, max_total, or
 * (renewing) the mapping's expiry. */
int p2pq_natpmp_client_on_timeout(p2pq_natpmp_client *c, p2pq_tstamp now, uint8_t *out,
                                  size_t cap, size_t *out_len);

#endif
