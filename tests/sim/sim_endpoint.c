/* Runs a sans-I/O endpoint as a simulator app: input and timers in, then drain
 * every datagram it wants to send. */
#include "sim_internal.h"

void sim_ep_app_init(sim_ep_app *a, const sim_ep_ops *ops, void *ep) {
  a->ops = ops;
  a->ep = ep;
  a->rx = a->tx = a->errors = 0;
  a->last_err = 0;
}

static void note_err(sim_ep_app *a, int rc) {
  a->errors++;
  a->last_err = rc;
}

static int drain(sim_ep_app *a, sim_host *h, p2pq_tstamp now) {
  uint8_t buf[SIM_EP_BUF];
  int sent = 0;
  while (sent < SIM_EP_MAX_BURST) {
    p2pq_addr local = {0}, remote = {0};
    int n = a->ops->send(a->ep, buf, sizeof(buf), &local, &remote, now), rc;
    if (n <= 0) {
      if (n < 0)
        note_err(a, n);
      break;
    }
    sent++;
    if (!local.family && sim_host_addr(h, remote.family, local.port, &local)) {
      note_err(a, P2PQ_ERR_NO_VIABLE_PATH);
      continue;
    }
    rc = sim_send(h, &local, &remote, buf, (size_t)n);
    if (rc)
      note_err(a, rc);
    else
      a->tx++;
  }
  return sent;
}

static void ep_recv(void *app, sim_host *h, const p2pq_addr *local, const p2pq_addr *remote,
                    const uint8_t *d, size_t n, p2pq_tstamp now) {
  sim_ep_app *a = app;
  int rc = a->ops->recv(a->ep, d, n, local, remote, now);
  a->rx++;
  if (rc < 0)
    note_err(a, rc);
  drain(a, h, now);
}

static p2pq_tstamp ep_next(void *app) {
  sim_ep_app *a = app;
  return a->ops->next_timeout ? a->ops->next_timeout(a->ep) : P2PQ_TSTAMP_MAX;
}

static void ep_timeout(void *app, sim_host *h, p2pq_tstamp now) {
  sim_ep_app *a = app;
  if (a->ops->on_timeout)
    a->ops->on_timeout(a->ep, now);
  drain(a, h, now);
}

const sim_app_ops sim_ep_app_ops = {ep_recv, ep_next, ep_timeout};

int sim_ep_app_flush(sim_ep_app *a, sim_host *h) {
  int n = drain(a, h, sim_now(h->node.s));
  sim_host_timer_update(h);
  return n;
}
