#include "quic/flowctl.h"

#include <string.h>

#include "common/buf.h"
#include "p2pq/error.h"

void p2pq_fc_send_init(p2pq_fc_send *fc, uint64_t limit) {
  fc->limit = limit;
  fc->sent = 0;
  fc->blocked_at = UINT64_MAX;
}

int p2pq_fc_send_update(p2pq_fc_send *fc, uint64_t limit) {
  if (limit <= fc->limit)
    return 0;
  fc->limit = limit;
  return 1;
}

int p2pq_fc_send_add(p2pq_fc_send *fc, uint64_t n) {
  if (n > p2pq_fc_send_credit(fc))
    return P2PQ_ERR_FLOW_CONTROL;
  fc->sent += n;
  return 0;
}

int p2pq_fc_send_blocked_due(const p2pq_fc_send *fc, int have_data) {
  return have_data && fc->sent >= fc->limit && fc->blocked_at != fc->limit;
}

void p2pq_fc_send_blocked_sent(p2pq_fc_send *fc) { fc->blocked_at = fc->limit; }

void p2pq_fc_send_blocked_lost(p2pq_fc_send *fc, uint64_t limit) {
  if (limit == fc->limit && fc->blocked_at == limit)
    fc->blocked_at = UINT64_MAX; /* still blocked at that limit: say it again */
}

void p2pq_fc_recv_init(p2pq_fc_recv *fc, uint64_t window, uint64_t max_window) {
  memset(fc, 0, sizeof(*fc));
  fc->limit = window;
  fc->window = window;
  fc->max_window = max_window > window ? max_window : window;
}

int p2pq_fc_recv_add(p2pq_fc_recv *fc, uint64_t delta) {
  if (delta > fc->limit - fc->highest)
    return P2PQ_ERR_FLOW_CONTROL;
  fc->highest += delta;
  return 0;
}

void p2pq_fc_recv_consume(p2pq_fc_recv *fc, uint64_t n) {
  fc->consumed += n;
  if (fc->consumed > fc->highest) /* cannot read what never arrived */
    fc->consumed = fc->highest;
}

int p2pq_fc_recv_update_due(const p2pq_fc_recv *fc) {
  if (fc->update_pending)
    return 1;
  /* remaining credit at most half the window: raise it now so the sender
   * never stalls for a round trip */
  return fc->limit - fc->consumed <= fc->window / 2 &&
         fc->consumed + fc->window > fc->limit;
}

uint64_t p2pq_fc_recv_update(p2pq_fc_recv *fc, p2pq_tstamp rtt, p2pq_tstamp now) {
  uint64_t limit;
  /* half a window consumed in under 2 RTT since the last raise: the window,
   * not the reader, is the bottleneck */
  if (fc->last_update && rtt && now - fc->last_update < 2 * rtt &&
      fc->window < fc->max_window) {
    fc->window = fc->window * 2 < fc->max_window ? fc->window * 2 : fc->max_window;
  }
  fc->last_update = now ? now : 1;
  limit = fc->consumed + fc->window;
  if (limit > P2PQ_VARINT_MAX)
    limit = P2PQ_VARINT_MAX;
  if (limit > fc->limit)
    fc->limit = limit;
  fc->update_pending = 0;
  return fc->limit;
}

void p2pq_fc_recv_update_lost(p2pq_fc_recv *fc, uint64_t limit) {
  if (limit == fc->limit)
    fc->update_pending = 1;
}

void p2pq_fc_recv_grow(p2pq_fc_recv *fc, uint64_t w) {
  if (w > fc->max_window)
    w = fc->max_window;
  if (w > fc->window)
    fc->window = w;
}
