/* The port-mapping agent against fake gateways on loopback (a thread with a
 * UDP socket speaking PCP and NAT-PMP through the src/nat codecs): one that
 * maps, one that refuses, one that never answers, one that speaks only
 * NAT-PMP, and a closed port. Each must end in a clear state within its bound
 * and leave nothing open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nat/natpmp.h"
#include "nat/pcp.h"
#include "p2pq/error.h"
#include "peer/portmap.h"

enum { FAKE_MAP, FAKE_REFUSE, FAKE_SILENT, FAKE_NATPMP_ONLY };

typedef struct fake {
  int sock;
  uint16_t port;
  int mode;
  uint32_t grant; /* lifetime granted */
  volatile int stop;
  pthread_t thread;
  pthread_mutex_t mu;
  int pcp_maps, pcp_deletes, pcp_bad_client, natpmp_addr, natpmp_maps, natpmp_deletes, total;
  uint8_t nonce[12];
} fake;

static const uint8_t EXT_PCP[4] = {192, 0, 2, 77};
static const uint8_t EXT_NATPMP[4] = {198, 51, 100, 77};

static void reply(fake *f, const uint8_t *p, size_t n, const struct sockaddr_in *to) {
  sendto(f->sock, p, n, 0, (const struct sockaddr *)to, sizeof(*to));
}

static void on_pcp(fake *f, const uint8_t *p, size_t n, const struct sockaddr_in *from) {
  uint8_t op, out[128];
  p2pq_pcp_map_req req;
  p2pq_pcp_resp r;
  size_t len;
  if (f->mode == FAKE_NATPMP_ONLY) {
    /* RFC 6887 9: a NAT-PMP gateway answers UNSUPP_VERSION in its own format */
    const uint8_t nat[8] = {0, (uint8_t)(128 + p[1]), 0, 1, 0, 0, 1, 0};
    reply(f, nat, sizeof(nat), from);
    return;
  }
  if (p2pq_pcp_parse_request(p, n, &op, &req) != 0 || op != P2PQ_PCP_OP_MAP)
    return;
  if (req.client.family != 4 || memcmp(req.client.ip, &from->sin_addr, 4) != 0)
    f->pcp_bad_client++;
  if (req.lifetime == 0)
    f->pcp_deletes++;
  else
    f->pcp_maps++;
  memcpy(f->nonce, req.nonce, 12);
  memset(&r, 0, sizeof(r));
  r.version = 2;
  r.opcode = P2PQ_PCP_OP_MAP;
  r.epoch = 1000 + (uint32_t)f->total;
  r.has_map = 1;
  memcpy(r.nonce, req.nonce, 12);
  r.protocol = req.protocol;
  r.internal_port = req.internal_port;
  if (f->mode == FAKE_REFUSE) {
    r.result = P2PQ_PCP_NOT_AUTHORIZED;
    r.lifetime = 30;
    p2pq_addr_v4(&r.external, (const uint8_t[4]){0, 0, 0, 0}, 0);
  } else {
    r.lifetime = req.lifetime ? f->grant : 0;
    p2pq_addr_v4(&r.external, EXT_PCP, req.suggested.port ? req.suggested.port : req.internal_port);
  }
  if (p2pq_pcp_build_response(&r, out, sizeof(out), &len) == 0)
    reply(f, out, len, from);
}

static void on_natpmp(fake *f, const uint8_t *p, size_t n, const struct sockaddr_in *from) {
  p2pq_natpmp_resp r;
  uint8_t out[16];
  size_t len;
  memset(&r, 0, sizeof(r));
  r.epoch = 1000 + (uint32_t)f->total;
  r.has_body = 1;
  if (n == 2 && p[1] == 0) {
    f->natpmp_addr++;
    r.op = 0;
    memcpy(r.external_ip, EXT_NATPMP, 4);
  } else if (n == 12 && p[1] == 1) {
    uint32_t life = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
    r.op = 1;
    r.internal_port = (uint16_t)(p[4] << 8 | p[5]);
    r.external_port = (uint16_t)(p[6] << 8 | p[7]);
    if (life == 0) {
      f->natpmp_deletes++;
      r.external_port = 0;
    } else {
      f->natpmp_maps++;
    }
    r.lifetime = life ? f->grant : 0;
  } else {
    return;
  }
  if (f->mode == FAKE_REFUSE) {
    r.result = P2PQ_NATPMP_NOT_AUTHORIZED;
    r.has_body = r.op == 0; /* error answers may be short */
  }
  if (p2pq_natpmp_build_response(&r, out, sizeof(out), &len) == 0)
    reply(f, out, len, from);
}

static void *fake_main(void *arg) {
  fake *f = arg;
  while (!f->stop) {
    struct pollfd pfd = {.fd = f->sock, .events = POLLIN};
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    uint8_t buf[1200];
    ssize_t n;
    if (poll(&pfd, 1, 20) <= 0)
      continue;
    n = recvfrom(f->sock, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    if (n < 2)
      continue;
    pthread_mutex_lock(&f->mu);
    f->total++;
    if (f->mode != FAKE_SILENT) {
      if (buf[0] == 2)
        on_pcp(f, buf, (size_t)n, &from);
      else if (buf[0] == 0)
        on_natpmp(f, buf, (size_t)n, &from);
    }
    pthread_mutex_unlock(&f->mu);
  }
  return NULL;
}

static void fake_start(fake *f, int mode, uint32_t grant) {
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  memset(f, 0, sizeof(*f));
  f->mode = mode;
  f->grant = grant;
  f->sock = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(f->sock >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(f->sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(getsockname(f->sock, (struct sockaddr *)&sa, &sl), 0);
  f->port = ntohs(sa.sin_port);
  pthread_mutex_init(&f->mu, NULL);
  assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(fake *f) {
  f->stop = 1;
  pthread_join(f->thread, NULL);
  close(f->sock);
  pthread_mutex_destroy(&f->mu);
}

static int fake_count(fake *f, const int *field) {
  int v;
  pthread_mutex_lock(&f->mu);
  v = *field;
  pthread_mutex_unlock(&f->mu);
  return v;
}

/* Events the agent reported. */
typedef struct seen {
  int n;
  p2pq_portmap_event_type type[16];
  int proto[16], error[16];
  p2pq_addr ext[16];
  uint32_t life[16];
  char detail[16][256];
} seen;

static void on_event(void *user, const p2pq_portmap_event *ev) {
  seen *s = user;
  if (s->n == 16)
    return;
  s->type[s->n] = ev->type;
  s->proto[s->n] = ev->proto;
  s->error[s->n] = ev->error;
  s->ext[s->n] = ev->external;
  s->life[s->n] = ev->lifetime;
  snprintf(s->detail[s->n], sizeof(s->detail[0]), "%s", ev->detail ? ev->detail : "");
  s->n++;
}

static void config(p2pq_portmap_config *c, uint16_t port, seen *s) {
  memset(c, 0, sizeof(*c));
  c->internal_port = 4433;
  c->lifetime = 60;
  c->protocols = P2PQ_PORTMAP_PCP | P2PQ_PORTMAP_NATPMP; /* no SSDP off the box */
  p2pq_addr_v4(&c->gateway, (const uint8_t[4]){127, 0, 0, 1}, 0);
  c->server_port = port;
  c->pcp_timeout = 600 * P2PQ_MS;
  c->natpmp_timeout = 400 * P2PQ_MS;
  c->pcp_irt = 200 * P2PQ_MS;
  c->cb = on_event;
  c->cb_user = s;
}

static double secs_since(p2pq_tstamp t0) {
  return (double)(p2pq_portmap_now() - t0) / 1e9;
}

/* PCP maps, renews before expiry (granted 2 s: renewal at 1..1.25 s), and
 * deletes with the same nonce. */
static void test_pcp_map_renew_delete(void **state) {
  fake f;
  seen s = {0};
  p2pq_portmap_config c;
  p2pq_portmap *pm;
  p2pq_addr ext;
  int proto;
  uint32_t life;
  char a[P2PQ_ADDR_STRLEN];
  (void)state;
  fake_start(&f, FAKE_MAP, 2);
  config(&c, f.port, &s);
  c.external_port = 50000;
  assert_int_equal(p2pq_portmap_new(&pm, &c), 0);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_IDLE);
  assert_int_equal(p2pq_portmap_start(pm), 0);
  assert_int_equal(p2pq_portmap_run(pm, p2pq_portmap_now() + 2 * P2PQ_S, 0), 0);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_MAPPED);
  assert_int_equal(p2pq_portmap_mapping(pm, &proto, &ext, &life), 0);
  assert_int_equal(proto, P2PQ_PORTMAP_PCP);
  assert_string_equal(p2pq_addr_format(&ext, a, sizeof(a)), "192.0.2.77:50000");
  assert_int_equal(life, 2);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.type[0], P2PQ_PORTMAP_EV_MAPPED);
  assert_int_equal(fake_count(&f, &f.pcp_bad_client), 0);
  /* hold it: one renewal within 1.6 s, none lost */
  assert_int_equal(p2pq_portmap_run(pm, p2pq_portmap_now() + 1600 * P2PQ_MS, 1),
                   P2PQ_ERR_TIMEOUT);
  assert_int_equal(fake_count(&f, &f.pcp_maps), 2);
  assert_int_equal(s.n, 2);
  assert_int_equal(s.type[1], P2PQ_PORTMAP_EV_MAPPED);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_MAPPED);
  /* delete */
  assert_int_equal(p2pq_portmap_delete(pm), 0);
  assert_int_equal(p2pq_portmap_run(pm, p2pq_portmap_now() + 2 * P2PQ_S, 0), 0);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_DELETED);
  assert_int_equal(fake_count(&f, &f.pcp_deletes), 1);
  assert_int_equal(s.type[s.n - 1], P2PQ_PORTMAP_EV_DELETED);
  assert_int_equal(s.error[s.n - 1], 0);
  assert_int_equal(p2pq_portmap_delete(pm), P2PQ_ERR_STATE);
  p2pq_portmap_free(pm);
  assert_int_equal(fake_count(&f, &f.natpmp_maps), 0); /* NAT-PMP never needed */
  fake_stop(&f);
}

/* A refusing gateway: both protocols fail at once with the reason. */
static void test_refused(void **state) {
  fake f;
  seen s = {0};
  p2pq_portmap_config c;
  p2pq_portmap *pm;
  const char *detail;
  p2pq_tstamp t0 = p2pq_portmap_now();
  (void)state;
  fake_start(&f, FAKE_REFUSE, 60);
  config(&c, f.port, &s);
  assert_int_equal(p2pq_portmap_new(&pm, &c), 0);
  assert_int_equal(p2pq_portmap_start(pm), 0);
  assert_int_equal(p2pq_portmap_run(pm, t0 + 3 * P2PQ_S, 0), 0);
  assert_true(secs_since(t0) < 0.5); /* answers, not timeouts */
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_FAILED);
  assert_int_equal(p2pq_portmap_last_error(pm, &detail), P2PQ_ERR_PORTMAP);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.type[0], P2PQ_PORTMAP_EV_PROTO_FAILED);
  assert_int_equal(s.proto[0], P2PQ_PORTMAP_PCP);
  assert_int_equal(s.error[0], P2PQ_ERR_PORTMAP);
  assert_non_null(strstr(s.detail[0], "NOT_AUTHORIZED"));
  assert_int_equal(s.proto[1], P2PQ_PORTMAP_NATPMP);
  assert_int_equal(s.error[1], P2PQ_ERR_PORTMAP);
  assert_non_null(strstr(s.detail[1], "NOT_AUTHORIZED"));
  assert_int_equal(s.type[2], P2PQ_PORTMAP_EV_FAILED);
  assert_int_equal(p2pq_portmap_mapping(pm, NULL, NULL, NULL), P2PQ_ERR_NOT_FOUND);
  p2pq_portmap_free(pm);
  assert_int_equal(fake_count(&f, &f.pcp_deletes), 0);
  fake_stop(&f);
}

/* A gateway that never answers: the agent gives up after its bounds (0.6 s
 * PCP + 0.4 s NAT-PMP) and then stays quiet. */
static void test_silent(void **state) {
  fake f;
  seen s = {0};
  p2pq_portmap_config c;
  p2pq_portmap *pm;
  p2pq_tstamp t0 = p2pq_portmap_now();
  double took;
  int total;
  (void)state;
  fake_start(&f, FAKE_SILENT, 60);
  config(&c, f.port, &s);
  assert_int_equal(p2pq_portmap_new(&pm, &c), 0);
  assert_int_equal(p2pq_portmap_start(pm), 0);
  assert_int_equal(p2pq_portmap_run(pm, t0 + 5 * P2PQ_S, 0), 0);
  took = secs_since(t0);
  assert_true(took >= 0.95 && took < 1.5);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_FAILED);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.error[0], P2PQ_ERR_TIMEOUT);
  assert_int_equal(s.error[1], P2PQ_ERR_TIMEOUT);
  assert_int_equal(s.type[2], P2PQ_PORTMAP_EV_FAILED);
  assert_non_null(strstr(s.detail[0], "no answer"));
  total = fake_count(&f, &f.total);
  assert_true(total >= 4); /* PCP retransmitted, NAT-PMP too */
  /* nothing more goes out once it gave up, and free sends no delete */
  assert_int_equal(p2pq_portmap_run(pm, p2pq_portmap_now() + 300 * P2PQ_MS, 1), 0);
  p2pq_portmap_process(pm);
  usleep(300 * 1000);
  p2pq_portmap_free(pm);
  usleep(100 * 1000);
  assert_int_equal(fake_count(&f, &f.total), total);
  fake_stop(&f);
}

/* PCP answered in NAT-PMP's format (UNSUPP_VERSION): fall back to NAT-PMP at
 * once; its public address query gives the external IP; free deletes. */
static void test_natpmp_fallback(void **state) {
  fake f;
  seen s = {0};
  p2pq_portmap_config c;
  p2pq_portmap *pm;
  p2pq_addr ext;
  int proto;
  char a[P2PQ_ADDR_STRLEN];
  p2pq_tstamp t0 = p2pq_portmap_now();
  (void)state;
  fake_start(&f, FAKE_NATPMP_ONLY, 60);
  config(&c, f.port, &s);
  assert_int_equal(p2pq_portmap_new(&pm, &c), 0);
  assert_int_equal(p2pq_portmap_start(pm), 0);
  assert_int_equal(p2pq_portmap_run(pm, t0 + 3 * P2PQ_S, 0), 0);
  assert_true(secs_since(t0) < 0.5);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_MAPPED);
  assert_int_equal(p2pq_portmap_mapping(pm, &proto, &ext, NULL), 0);
  assert_int_equal(proto, P2PQ_PORTMAP_NATPMP);
  assert_string_equal(p2pq_addr_format(&ext, a, sizeof(a)), "198.51.100.77:4433");
  assert_int_equal(s.type[0], P2PQ_PORTMAP_EV_PROTO_FAILED);
  assert_int_equal(s.error[0], P2PQ_ERR_UNSUPPORTED);
  assert_int_equal(s.type[1], P2PQ_PORTMAP_EV_MAPPED);
  assert_int_equal(s.life[1], 60);
  assert_int_equal(fake_count(&f, &f.natpmp_addr), 1);
  assert_int_equal(fake_count(&f, &f.natpmp_maps), 1);
  p2pq_portmap_free(pm); /* deletes what it holds */
  assert_int_equal(fake_count(&f, &f.natpmp_deletes), 1);
  assert_int_equal(s.type[s.n - 1], P2PQ_PORTMAP_EV_DELETED);
  fake_stop(&f);
}

/* NAT-PMP renews at half the granted lifetime (2 s: at 1 s) with the same
 * request, and the external address stays. */
static void test_natpmp_renewal(void **state) {
  fake f;
  seen s = {0};
  p2pq_portmap_config c;
  p2pq_portmap *pm;
  (void)state;
  fake_start(&f, FAKE_NATPMP_ONLY, 2);
  config(&c, f.port, &s);
  assert_int_equal(p2pq_portmap_new(&pm, &c), 0);
  assert_int_equal(p2pq_portmap_start(pm), 0);
  assert_int_equal(p2pq_portmap_run(pm, p2pq_portmap_now() + 2 * P2PQ_S, 0), 0);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_MAPPED);
  assert_int_equal(p2pq_portmap_run(pm, p2pq_portmap_now() + 1300 * P2PQ_MS, 1),
                   P2PQ_ERR_TIMEOUT);
  assert_int_equal(fake_count(&f, &f.natpmp_maps), 2);
  assert_int_equal(s.type[s.n - 1], P2PQ_PORTMAP_EV_MAPPED);
  assert_int_equal(s.proto[s.n - 1], P2PQ_PORTMAP_NATPMP);
  assert_int_equal(s.ext[s.n - 1].ip[0], 198);
  p2pq_portmap_free(pm);
  assert_int_equal(fake_count(&f, &f.natpmp_deletes), 1);
  fake_stop(&f);
}

/* The gateway stops answering after the mapping: renewals go unanswered and
 * the loss is reported no later than the expiry (2 s), not silently. */
static void test_pcp_lost(void **state) {
  fake f;
  seen s = {0};
  p2pq_portmap_config c;
  p2pq_portmap *pm;
  p2pq_tstamp t0;
  (void)state;
  fake_start(&f, FAKE_MAP, 2);
  config(&c, f.port, &s);
  assert_int_equal(p2pq_portmap_new(&pm, &c), 0);
  assert_int_equal(p2pq_portmap_start(pm), 0);
  assert_int_equal(p2pq_portmap_run(pm, p2pq_portmap_now() + 2 * P2PQ_S, 0), 0);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_MAPPED);
  t0 = p2pq_portmap_now();
  pthread_mutex_lock(&f.mu);
  f.mode = FAKE_SILENT;
  pthread_mutex_unlock(&f.mu);
  assert_int_equal(p2pq_portmap_run(pm, t0 + 4 * P2PQ_S, 1), 0);
  assert_true(secs_since(t0) < 2.2);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_FAILED);
  assert_int_equal(s.type[s.n - 1], P2PQ_PORTMAP_EV_LOST);
  assert_int_equal(s.error[s.n - 1], P2PQ_ERR_TIMEOUT);
  assert_true(fake_count(&f, &f.total) >= 2); /* it did try to renew */
  p2pq_portmap_free(pm);
  fake_stop(&f);
}

/* Nothing listens on the port: ICMP port unreachable ends each try at once. */
static void test_closed_port(void **state) {
  seen s = {0};
  p2pq_portmap_config c;
  p2pq_portmap *pm;
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  p2pq_tstamp t0;
  (void)state;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  close(fd); /* a port that was free a moment ago */
  config(&c, ntohs(sa.sin_port), &s);
  assert_int_equal(p2pq_portmap_new(&pm, &c), 0);
  t0 = p2pq_portmap_now();
  assert_int_equal(p2pq_portmap_start(pm), 0);
  assert_int_equal(p2pq_portmap_run(pm, t0 + 3 * P2PQ_S, 0), 0);
  assert_true(secs_since(t0) < 0.5);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_FAILED);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.error[0], P2PQ_ERR_IO);
  assert_non_null(strstr(s.detail[0], "unreachable"));
  assert_int_equal(s.error[1], P2PQ_ERR_IO);
  p2pq_portmap_free(pm);
}

static void test_config(void **state) {
  p2pq_portmap_config c;
  p2pq_portmap *pm = NULL;
  seen s = {0};
  (void)state;
  config(&c, 5351, &s);
  c.internal_port = 0;
  assert_int_equal(p2pq_portmap_new(&pm, &c), P2PQ_ERR_CONFIG);
  assert_int_equal(p2pq_portmap_new(&pm, NULL), P2PQ_ERR_CONFIG);
  config(&c, 5351, &s);
  c.protocols = P2PQ_PORTMAP_NATPMP;
  p2pq_addr_v6(&c.gateway, (const uint8_t[16]){[15] = 1}, 0); /* NAT-PMP is IPv4 only */
  assert_int_equal(p2pq_portmap_new(&pm, &c), 0);
  assert_int_equal(p2pq_portmap_start(pm), 0);
  assert_int_equal(p2pq_portmap_get_state(pm), P2PQ_PORTMAP_FAILED);
  assert_int_equal(s.error[0], P2PQ_ERR_UNSUPPORTED);
  assert_int_equal(p2pq_portmap_start(pm), 0); /* may try again after a failure */
  p2pq_portmap_free(pm);
  assert_string_equal(p2pq_portmap_proto_name(P2PQ_PORTMAP_UPNP), "UPnP");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pcp_map_renew_delete), cmocka_unit_test(test_refused),
      cmocka_unit_test(test_silent),               cmocka_unit_test(test_natpmp_fallback),
      cmocka_unit_test(test_closed_port),          cmocka_unit_test(test_config),
      cmocka_unit_test(test_natpmp_renewal),       cmocka_unit_test(test_pcp_lost),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
