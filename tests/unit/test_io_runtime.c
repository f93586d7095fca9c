/* The UDP runtime over real loopback sockets: batched send with GSO, GRO
 * receive, PKTINFO local and source addresses, ECN marks, bind errors, the
 * run loop's deadline, and a client and server runtime (one per thread)
 * moving data both ways with key log and qlog files written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/cert.h"
#include "io/udp.h"
#include "p2pq/runtime.h"

static void addr(p2pq_addr *a, const char *s) { assert_int_equal(p2pq_addr_parse(a, s, -1), 0); }

static void open_sock(p2pq_udp_sock *s, const char *where, int no_gro) {
  char err[256];
  p2pq_addr a;
  addr(&a, where);
  assert_int_equal(p2pq_udp_open(s, &a, 1 << 20, 0, no_gro, err, sizeof(err)), 0);
  assert_int_not_equal(s->bound.port, 0);
}

/* Receives until want datagrams arrived (splitting GRO trains) or 2 s. */
static size_t recv_sizes(p2pq_udp_sock *s, p2pq_udp_rxbatch *b, size_t *sizes, size_t want,
                         p2pq_udp_rx *last) {
  size_t got = 0;
  for (int tries = 0; got < want && tries < 200; tries++) {
    int n = p2pq_udp_recv(s, b);
    assert_true(n >= 0);
    if (n == 0)
      usleep(10000);
    for (int i = 0; i < n; i++) {
      p2pq_udp_rx m;
      p2pq_udp_rx_get(s, b, i, &m);
      for (size_t off = 0; off < m.len && got < want; off += m.segment)
        sizes[got++] = m.len - off < m.segment ? m.len - off : m.segment;
      *last = m;
    }
  }
  return got;
}

static void send_gso(p2pq_udp_sock *tx, const p2pq_udp_sock *rx, size_t seg, size_t total,
                     int ecn, const p2pq_addr *local) {
  p2pq_udp_txbatch b;
  uint8_t *slot;
  assert_int_equal(p2pq_udp_txbatch_init(&b, 65536), 0);
  slot = p2pq_udp_tx_slot(&b);
  for (size_t i = 0; i < total; i++)
    slot[i] = (uint8_t)(i / seg);
  p2pq_udp_tx_commit(&b, tx, total, seg, local, &rx->bound, ecn);
  assert_int_equal(p2pq_udp_flush(&b), 0);
  assert_int_equal(b.errors, 0);
  assert_int_equal(b.datagrams, (total + seg - 1) / seg);
  p2pq_udp_txbatch_clear(&b);
}

static void test_gso_splits_for_plain_receiver(void **state) {
  p2pq_udp_sock tx, rx;
  p2pq_udp_rxbatch b;
  p2pq_udp_rx last;
  size_t sizes[8];
  (void)state;
  open_sock(&tx, "127.0.0.1:0", 0);
  open_sock(&rx, "127.0.0.1:0", 1);
  if (!tx.gso)
    skip();
  assert_int_equal(p2pq_udp_rxbatch_init(&b, P2PQ_UDP_PLAIN_BUF), 0);
  send_gso(&tx, &rx, 1000, 2500, 0, NULL);
  assert_int_equal(recv_sizes(&rx, &b, sizes, 3, &last), 3);
  assert_int_equal(sizes[0], 1000);
  assert_int_equal(sizes[1], 1000);
  assert_int_equal(sizes[2], 500);
  assert_int_equal(last.data[0], 2); /* third segment carries byte value 2 */
  p2pq_udp_rxbatch_clear(&b);
  p2pq_udp_close(&tx);
  p2pq_udp_close(&rx);
}

static void test_gro_receiver_splits_back(void **state) {
  p2pq_udp_sock tx, rx;
  p2pq_udp_rxbatch b;
  p2pq_udp_rx last;
  size_t sizes[8];
  (void)state;
  open_sock(&tx, "127.0.0.1:0", 0);
  open_sock(&rx, "127.0.0.1:0", 0);
  if (!tx.gso || !rx.gro)
    skip();
  assert_int_equal(p2pq_udp_rxbatch_init(&b, P2PQ_UDP_GRO_BUF), 0);
  send_gso(&tx, &rx, 1200, 4 * 1200 + 7, 0, NULL);
  assert_int_equal(recv_sizes(&rx, &b, sizes, 5, &last), 5);
  for (int i = 0; i < 4; i++)
    assert_int_equal(sizes[i], 1200);
  assert_int_equal(sizes[4], 7);
  p2pq_udp_rxbatch_clear(&b);
  p2pq_udp_close(&tx);
  p2pq_udp_close(&rx);
}

static void test_pktinfo_and_ecn(void **state) {
  p2pq_udp_sock tx, rx;
  p2pq_udp_rxbatch b;
  p2pq_udp_txbatch t;
  p2pq_udp_rx m;
  p2pq_addr dst, src;
  size_t sizes[2];
  char s1[P2PQ_ADDR_STRLEN], want[P2PQ_ADDR_STRLEN];
  (void)state;
  open_sock(&tx, "0.0.0.0:0", 1);
  open_sock(&rx, "0.0.0.0:0", 1);
  assert_true(tx.wildcard);
  assert_int_equal(p2pq_udp_rxbatch_init(&b, P2PQ_UDP_PLAIN_BUF), 0);
  /* aim at 127.0.0.1 on the wildcard receiver, ask for source 127.0.0.2 */
  addr(&dst, "127.0.0.1:0");
  dst.port = rx.bound.port;
  addr(&src, "127.0.0.2:0");
  assert_int_equal(p2pq_udp_txbatch_init(&t, 2048), 0);
  memset(p2pq_udp_tx_slot(&t), 0x42, 100);
  p2pq_udp_tx_commit(&t, &tx, 100, 0, &src, &dst, 2 /* ECT(0) */);
  assert_int_equal(p2pq_udp_flush(&t), 0);
  assert_int_equal(t.errors, 0);
  p2pq_udp_txbatch_clear(&t);
  assert_int_equal(recv_sizes(&rx, &b, sizes, 1, &m), 1);
  assert_int_equal(sizes[0], 100);
  /* the local address is the one the datagram was sent to, with our port */
  snprintf(want, sizeof(want), "127.0.0.1:%u", rx.bound.port);
  assert_string_equal(p2pq_addr_format(&m.local, s1, sizeof(s1)), want);
  assert_int_equal(m.remote.ip[3], 2); /* came from 127.0.0.2 */
  assert_int_equal(m.remote.port, tx.bound.port);
  assert_int_equal(m.ecn, 2);
  p2pq_udp_rxbatch_clear(&b);
  p2pq_udp_close(&tx);
  p2pq_udp_close(&rx);
}

static void test_batch_of_many(void **state) {
  p2pq_udp_sock tx, rx;
  p2pq_udp_rxbatch b;
  p2pq_udp_txbatch t;
  p2pq_udp_rx last;
  size_t sizes[P2PQ_UDP_BATCH];
  (void)state;
  open_sock(&tx, "127.0.0.1:0", 1);
  open_sock(&rx, "127.0.0.1:0", 1);
  assert_int_equal(p2pq_udp_rxbatch_init(&b, P2PQ_UDP_PLAIN_BUF), 0);
  assert_int_equal(p2pq_udp_txbatch_init(&t, 1500), 0);
  for (int i = 0; i < P2PQ_UDP_BATCH; i++) {
    uint8_t *slot = p2pq_udp_tx_slot(&t);
    assert_non_null(slot);
    memset(slot, i, 100 + (size_t)i);
    p2pq_udp_tx_commit(&t, &tx, 100 + (size_t)i, 0, NULL, &rx.bound, 0);
  }
  assert_null(p2pq_udp_tx_slot(&t));
  assert_int_equal(p2pq_udp_flush(&t), 0);
  assert_int_equal(t.syscalls, 1); /* one sendmmsg for the whole batch */
  assert_int_equal(t.datagrams, P2PQ_UDP_BATCH);
  assert_int_equal(recv_sizes(&rx, &b, sizes, P2PQ_UDP_BATCH, &last), P2PQ_UDP_BATCH);
  for (int i = 0; i < P2PQ_UDP_BATCH; i++)
    assert_int_equal(sizes[i], 100 + (size_t)i);
  p2pq_udp_txbatch_clear(&t);
  p2pq_udp_rxbatch_clear(&b);
  p2pq_udp_close(&tx);
  p2pq_udp_close(&rx);
}

/* More than UDP_MAX_SEGMENTS (64, 128 since Linux 6.9) segments: the kernel refuses the GSO send
 * (EINVAL), as a device without GSO would; the datagrams must still go out,
 * one by one, and GSO stays off for that socket. */
static void test_gso_refused_falls_back(void **state) {
  p2pq_udp_sock tx, rx;
  p2pq_udp_rxbatch b;
  p2pq_udp_txbatch t;
  p2pq_udp_rx last;
  size_t sizes[200];
  (void)state;
  open_sock(&tx, "127.0.0.1:0", 0);
  open_sock(&rx, "127.0.0.1:0", 1);
  if (!tx.gso)
    skip();
  assert_int_equal(p2pq_udp_rxbatch_init(&b, P2PQ_UDP_PLAIN_BUF), 0);
  assert_int_equal(p2pq_udp_txbatch_init(&t, 4096), 0);
  memset(p2pq_udp_tx_slot(&t), 7, 200 * 20);
  p2pq_udp_tx_commit(&t, &tx, 200 * 20, 20, NULL, &rx.bound, 0);
  assert_int_equal(p2pq_udp_flush(&t), 0);
  assert_false(tx.gso);
  assert_int_equal(t.errors, 0);
  assert_int_equal(t.datagrams, 200);
  assert_int_equal(recv_sizes(&rx, &b, sizes, 200, &last), 200);
  for (int i = 0; i < 200; i++)
    assert_int_equal(sizes[i], 20);
  p2pq_udp_txbatch_clear(&t);
  p2pq_udp_rxbatch_clear(&b);
  p2pq_udp_close(&tx);
  p2pq_udp_close(&rx);
}

/* 8 MiB asked: granted past rmem_max/wmem_max when we may force it (root),
 * else at least what the plain option allows. */
static void test_socket_buffers(void **state) {
  p2pq_udp_sock s;
  p2pq_addr a;
  char err[256];
  int rcv = 0, snd = 0;
  socklen_t l = sizeof(int);
  (void)state;
  addr(&a, "127.0.0.1:0");
  assert_int_equal(p2pq_udp_open(&s, &a, 8u << 20, 0, 0, err, sizeof(err)), 0);
  assert_int_equal(getsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &rcv, &l), 0);
  l = sizeof(int);
  assert_int_equal(getsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &snd, &l), 0);
  if (geteuid() == 0) {
    assert_true(rcv >= 2 * (8 << 20)); /* the kernel reports twice the grant */
    assert_true(snd >= 2 * (8 << 20));
  } else {
    /* unprivileged: capped at net.core.rmem_max */
    long max = 0;
    FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");
    if (f == NULL || fscanf(f, "%ld", &max) != 1)
      max = 0;
    if (f != NULL)
      fclose(f);
    assert_true(rcv >= 2 * (max < (8 << 20) ? max : (8 << 20)));
  }
  p2pq_udp_close(&s);
}

static void test_bind_error_says_why(void **state) {
  p2pq_udp_sock s;
  p2pq_addr a;
  char err[256];
  (void)state;
  addr(&a, "192.0.2.1:4433"); /* TEST-NET: not ours */
  assert_int_equal(p2pq_udp_open(&s, &a, 0, 0, 0, err, sizeof(err)), P2PQ_ERR_IO);
  assert_non_null(strstr(err, "cannot bind 192.0.2.1:4433: "));
  assert_non_null(strstr(err, "address"));
}

static void test_clock_and_random(void **state) {
  uint8_t a[64], b[64], zero[64];
  p2pq_tstamp t1, t2;
  (void)state;
  memset(a, 0, sizeof(a));
  memset(b, 0, sizeof(b));
  memset(zero, 0, sizeof(zero));
  p2pq_runtime_random(NULL, a, sizeof(a));
  p2pq_runtime_random(NULL, b, sizeof(b));
  assert_memory_not_equal(a, zero, sizeof(a));
  assert_memory_not_equal(a, b, sizeof(a));
  t1 = p2pq_runtime_now();
  usleep(2000);
  t2 = p2pq_runtime_now();
  assert_true(t2 - t1 >= 2 * P2PQ_MS);
  assert_true(t2 - t1 < 2 * P2PQ_S);
}

/* ---- two runtimes ---- */

static char *g_cert, *g_key;
static size_t g_cert_len, g_key_len;
static const char *g_alpn[] = {"hq-interop"};

typedef struct peer {
  p2pq_runtime *rt;
  p2pq_creds *creds;
  p2pq_conn *conn;
  uint64_t sid;
  uint8_t *data; /* client: what it sends; both: what came back */
  size_t len, sent, got;
  uint8_t *rx;
  int fin_sent, fin_got, connected, closed, close_err;
} peer;

static void make_peer(peer *p, int server, const char *bind, const char *qlog_dir,
                      const char *keylog) {
  p2pq_creds_config cc;
  p2pq_runtime_config rc;
  p2pq_config qc;
  p2pq_addr a[2];
  char err[256], first[64];
  const char *second = strchr(bind, ' ');
  memset(p, 0, sizeof(*p));
  memset(&cc, 0, sizeof(cc));
  cc.is_server = server;
  if (server) {
    cc.cert_pem = g_cert;
    cc.cert_pem_len = g_cert_len;
    cc.key_pem = g_key;
    cc.key_pem_len = g_key_len;
  }
  assert_int_equal(p2pq_creds_new(&p->creds, &cc), 0);
  /* "ADDR" or "ADDR ADDR": one socket each */
  snprintf(first, sizeof(first), "%.*s", second ? (int)(second - bind) : (int)strlen(bind), bind);
  addr(&a[0], first);
  if (second != NULL)
    addr(&a[1], second + 1);
  memset(&rc, 0, sizeof(rc));
  rc.bind = a;
  rc.n_bind = second ? 2 : 1;
  rc.qlog_dir = qlog_dir;
  rc.keylog_file = keylog ? keylog : "";
  memset(&qc, 0, sizeof(qc));
  qc.is_server = server;
  qc.creds = p->creds;
  qc.alpn = g_alpn;
  qc.n_alpn = 1;
  p2pq_settings_default(&qc.settings);
  if (p2pq_runtime_new(&p->rt, &rc, &qc, err, sizeof(err)) != 0)
    fail_msg("runtime_new: %s", err);
}

static void free_peer(peer *p) {
  p2pq_runtime_free(p->rt);
  p2pq_creds_free(p->creds);
  free(p->rx);
}

/* Reads everything readable into p->rx. */
static void drain(peer *p, p2pq_conn *c, uint64_t sid) {
  for (;;) {
    int fin = 0;
    int64_t n = p2pq_stream_read(c, sid, p->rx + p->got, p->len - p->got + 1, &fin);
    assert_true(n >= 0);
    p->got += (size_t)n;
    if (fin)
      p->fin_got = 1;
    if (n == 0 || fin)
      return;
  }
}

/* Writes what the stream takes; FIN with the last byte. */
static void pump(peer *p, const uint8_t *src, size_t len) {
  while (!p->fin_sent) {
    int64_t w = p2pq_stream_write(p->conn, p->sid, src + p->sent, len - p->sent, 1);
    assert_true(w >= 0);
    p->sent += (size_t)w;
    if (p->sent == len) {
      p->fin_sent = 1;
      return;
    }
    if (w == 0)
      return;
  }
}

/* Server: echoes the stream back once it has all of it. */
static int server_cb(void *user, p2pq_runtime *rt, const p2pq_event *ev) {
  peer *p = user;
  (void)rt;
  switch (ev->type) {
  case P2PQ_EV_CONN_NEW: p->conn = ev->conn; break;
  case P2PQ_EV_STREAM_READABLE:
    p->sid = ev->stream_id;
    drain(p, ev->conn, ev->stream_id);
    break;
  case P2PQ_EV_NONE:
    if (p->fin_got)
      pump(p, p->rx, p->got);
    break;
  case P2PQ_EV_CLOSED: return 1;
  default: break;
  }
  return 0;
}

static void *server_main(void *arg) {
  peer *p = arg;
  int rv = p2pq_runtime_run(p->rt, p2pq_runtime_now() + 20 * P2PQ_S, server_cb, p);
  p->closed = rv == 1;
  return NULL;
}

static int client_cb(void *user, p2pq_runtime *rt, const p2pq_event *ev) {
  peer *p = user;
  (void)rt;
  switch (ev->type) {
  case P2PQ_EV_CONNECTED:
    p->connected = 1;
    assert_int_equal(p2pq_conn_open_stream(p->conn, 1, &p->sid), 0);
    break;
  case P2PQ_EV_STREAM_READABLE:
    drain(p, p->conn, ev->stream_id);
    if (p->fin_got)
      p2pq_conn_close(p->conn, 1, 0, "done", p2pq_runtime_now());
    break;
  case P2PQ_EV_NONE:
    if (p->connected)
      pump(p, p->data, p->len);
    break;
  case P2PQ_EV_CLOSED: p->close_err = ev->error; return 1;
  default: break;
  }
  return 0;
}

static size_t count_lines_with(const char *path, const char *needle) {
  char line[512];
  size_t n = 0;
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  while (fgets(line, sizeof(line), f) != NULL)
    if (strstr(line, needle) != NULL)
      n++;
  fclose(f);
  return n;
}

static void check_qlog_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int files = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    char path[512], head[64];
    FILE *f;
    if (strstr(e->d_name, ".sqlog") == NULL)
      continue;
    files++;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(head, sizeof(head), f));
    assert_int_equal(head[0], 0x1e); /* JSON-SEQ record separator */
    assert_non_null(strstr(head, "\"qlog_version\""));
    fclose(f);
    unlink(path);
  }
  closedir(d);
  assert_int_equal(files, 2); /* one per connection, client and server */
}

/* Client and server runtimes (server in a thread): the client sends len
 * random bytes on a stream, the server echoes them, the client checks. */
static void transfer(const char *srv_bind, const char *cli_bind, size_t len, const char *qdir,
                     const char *keylog) {
  peer srv, cli;
  pthread_t th;
  p2pq_addr to;
  int rv;
  make_peer(&srv, 1, srv_bind, qdir, NULL);
  make_peer(&cli, 0, cli_bind, qdir, keylog);
  srv.len = cli.len = len;
  srv.rx = malloc(len + 1);
  cli.rx = malloc(len + 1);
  cli.data = malloc(len);
  p2pq_runtime_random(NULL, cli.data, len);
  p2pq_runtime_local_addr(srv.rt, 0, &to);
  assert_int_equal(pthread_create(&th, NULL, server_main, &srv), 0);
  assert_int_equal(p2pq_runtime_connect(cli.rt, &cli.conn, &to, "localhost"), 0);
  rv = p2pq_runtime_run(cli.rt, p2pq_runtime_now() + 20 * P2PQ_S, client_cb, &cli);
  pthread_join(th, NULL);
  assert_int_equal(rv, 1);
  assert_true(cli.connected);
  assert_int_equal(cli.got, len);
  assert_memory_equal(cli.rx, cli.data, len);
  assert_true(srv.closed);
  assert_int_equal(srv.got, len);
  free_peer(&cli);
  free_peer(&srv);
  free(cli.data);
}

static void test_transfer_between_runtimes(void **state) {
  char dir[] = "/tmp/p2pq_io_testXXXXXX", keylog[64], qdir[64];
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(keylog, sizeof(keylog), "%s/keys.txt", dir);
  snprintf(qdir, sizeof(qdir), "%s/qlog", dir);
  transfer("127.0.0.1:0", "0.0.0.0:0", 3u << 20, qdir, keylog);
  /* the client logged its TLS secrets, NSS key log format */
  assert_true(count_lines_with(keylog, "CLIENT_HANDSHAKE_TRAFFIC_SECRET ") >= 1);
  assert_true(count_lines_with(keylog, "CLIENT_TRAFFIC_SECRET_0 ") >= 1);
  unlink(keylog);
  check_qlog_dir(qdir);
  rmdir(qdir);
  rmdir(dir);
}

/* Two client sockets (v4 and v6 wildcard): the connection to an IPv6 server
 * must leave from the v6 one, with IPV6_PKTINFO giving the local address. */
static void test_transfer_ipv6_two_sockets(void **state) {
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  (void)state;
  if (fd < 0)
    skip();
  close(fd);
  transfer("[::1]:0", "127.0.0.1:0 [::]:0", 256u << 10, NULL, NULL);
}

/* Initials that fail to decrypt make connections the endpoint drops at once:
 * their qlog files must not stay open (nor on disk). */
static void test_junk_initials_leave_no_qlog(void **state) {
  char dir[] = "/tmp/p2pq_io_junkXXXXXX";
  peer srv;
  p2pq_udp_sock tx;
  p2pq_udp_txbatch t;
  p2pq_addr to;
  DIR *d;
  struct dirent *e;
  int files = 0;
  (void)state;
  assert_non_null(mkdtemp(dir));
  make_peer(&srv, 1, "127.0.0.1:0", dir, NULL);
  p2pq_runtime_local_addr(srv.rt, 0, &to);
  open_sock(&tx, "127.0.0.1:0", 1);
  assert_int_equal(p2pq_udp_txbatch_init(&t, 1200), 0);
  for (int i = 0; i < 20; i++) {
    uint8_t *p = p2pq_udp_tx_slot(&t);
    size_t n = 0;
    p2pq_runtime_random(NULL, p, 1200);
    p[n++] = 0xc3; /* long header, Initial, 4-byte packet number */
    p[n++] = 0; p[n++] = 0; p[n++] = 0; p[n++] = 1; /* QUIC v1 */
    p[n] = 8;
    n += 9; /* DCID */
    p[n] = 8;
    n += 9; /* SCID */
    p[n++] = 0; /* no token */
    {
      size_t rest = 1200 - n - 2; /* the 2-byte Length varint covers the rest */
      p[n] = (uint8_t)(0x40 | (rest >> 8));
      p[n + 1] = (uint8_t)rest;
    }
    p2pq_udp_tx_commit(&t, &tx, 1200, 0, NULL, &to, 0);
  }
  assert_int_equal(p2pq_udp_flush(&t), 0);
  (void)p2pq_runtime_run(srv.rt, p2pq_runtime_now() + 100 * P2PQ_MS, NULL, NULL);
  d = opendir(dir);
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".sqlog") != NULL)
      files++;
  closedir(d);
  assert_int_equal(files, 0);
  p2pq_udp_txbatch_clear(&t);
  p2pq_udp_close(&tx);
  free_peer(&srv);
  rmdir(dir);
}

static void test_run_deadline(void **state) {
  peer p;
  p2pq_tstamp t0;
  int rv;
  (void)state;
  make_peer(&p, 1, "127.0.0.1:0", NULL, NULL);
  t0 = p2pq_runtime_now();
  rv = p2pq_runtime_run(p.rt, t0 + 50 * P2PQ_MS, NULL, NULL);
  assert_int_equal(rv, P2PQ_ERR_TIMEOUT);
  assert_true(p2pq_runtime_now() - t0 >= 50 * P2PQ_MS);
  assert_true(p2pq_runtime_now() - t0 < 1 * P2PQ_S);
  free_peer(&p);
}

static int stop_at_third_tick(void *user, p2pq_runtime *rt, const p2pq_event *ev) {
  int *ticks = user;
  if (ev->type == P2PQ_EV_NONE && ++*ticks == 3)
    p2pq_runtime_stop(rt, 77);
  return 0;
}

static void test_stop(void **state) {
  peer p;
  int ticks = 0, rv = 0;
  (void)state;
  make_peer(&p, 1, "127.0.0.1:0", NULL, NULL);
  /* an idle endpoint has no timers: each run turns the loop at its start and
   * when its near deadline passes */
  for (int i = 0; i < 5 && rv != 77; i++)
    rv = p2pq_runtime_run(p.rt, p2pq_runtime_now() + 5 * P2PQ_MS, stop_at_third_tick, &ticks);
  assert_int_equal(rv, 77);
  assert_int_equal(ticks, 3);
  free_peer(&p);
}

static int stop_when_refused(void *user, p2pq_runtime *rt, const p2pq_event *ev) {
  const p2pq_addr *to = user;
  (void)ev;
  return p2pq_runtime_unreachable(rt, to) == ECONNREFUSED;
}

/* With icmp_errors, a port nobody listens on is reported at once. */
static void test_icmp_port_unreachable(void **state) {
  p2pq_udp_sock gone;
  p2pq_runtime *rt;
  p2pq_runtime_config rc;
  p2pq_config qc;
  p2pq_creds *creds;
  p2pq_creds_config cc;
  p2pq_conn *c;
  p2pq_addr to, other;
  char err[256];
  (void)state;
  open_sock(&gone, "127.0.0.1:0", 1);
  to = gone.bound;
  p2pq_udp_close(&gone); /* now nothing listens there */
  memset(&cc, 0, sizeof(cc));
  assert_int_equal(p2pq_creds_new(&creds, &cc), 0);
  memset(&rc, 0, sizeof(rc));
  rc.icmp_errors = 1;
  rc.keylog_file = "";
  memset(&qc, 0, sizeof(qc));
  qc.creds = creds;
  qc.alpn = g_alpn;
  qc.n_alpn = 1;
  p2pq_settings_default(&qc.settings);
  assert_int_equal(p2pq_runtime_new(&rt, &rc, &qc, err, sizeof(err)), 0);
  assert_int_equal(p2pq_runtime_connect(rt, &c, &to, NULL), 0);
  assert_int_equal(p2pq_runtime_run(rt, p2pq_runtime_now() + 2 * P2PQ_S, stop_when_refused, &to),
                   1);
  assert_int_equal(p2pq_runtime_unreachable(rt, &to), ECONNREFUSED);
  other = to;
  other.port++;
  assert_int_equal(p2pq_runtime_unreachable(rt, &other), 0);
  p2pq_runtime_free(rt);
  p2pq_creds_free(creds);
}

static void test_connect_needs_family(void **state) {
  peer p;
  p2pq_addr v6;
  p2pq_conn *c;
  (void)state;
  make_peer(&p, 0, "127.0.0.1:0", NULL, NULL);
  addr(&v6, "[::1]:4433");
  assert_int_equal(p2pq_runtime_connect(p.rt, &c, &v6, NULL), P2PQ_ERR_NO_VIABLE_PATH);
  free_peer(&p);
}

static int setup(void **state) {
  (void)state;
  return p2pq_cert_self_signed("localhost", 3600, &g_cert, &g_cert_len, &g_key, &g_key_len);
}

static int teardown(void **state) {
  (void)state;
  free(g_cert);
  free(g_key);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gso_splits_for_plain_receiver),
      cmocka_unit_test(test_gro_receiver_splits_back),
      cmocka_unit_test(test_pktinfo_and_ecn),
      cmocka_unit_test(test_batch_of_many),
      cmocka_unit_test(test_gso_refused_falls_back),
      cmocka_unit_test(test_socket_buffers),
      cmocka_unit_test(test_bind_error_says_why),
      cmocka_unit_test(test_clock_and_random),
      cmocka_unit_test(test_transfer_between_runtimes),
      cmocka_unit_test(test_transfer_ipv6_two_sockets),
      cmocka_unit_test(test_junk_initials_leave_no_qlog),
      cmocka_unit_test(test_run_deadline),
      cmocka_unit_test(test_stop),
      cmocka_unit_test(test_icmp_port_unreachable),
      cmocka_unit_test(test_connect_needs_family),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
