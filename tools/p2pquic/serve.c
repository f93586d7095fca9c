/* p2pquic serve: files over hq-interop (HTTP/0.9 over QUIC). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "crypto/cert.h"
#include "io/hq.h"
#include "peer/stun_responder.h"

#define CHUNK (1u << 20) /* bytes offered to a stream per write call */
#define REQ_MAX (P2PQ_HQ_PATH_MAX + 8)

/* A request stream: collecting the request line, then sending a file. */
typedef struct req {
  p2pq_conn *conn;
  uint64_t id;
  uint8_t line[REQ_MAX];
  size_t line_len;
  int fd;            /* the file while it is being opened and mapped, else -1 */
  int sending;       /* the request was parsed and the file mapped */
  const uint8_t *map; /* the file, mapped (NULL for an empty file) */
  uint64_t off, size;
  struct req *next;
} req;

typedef struct server {
  const char *root;
  int verbose;
  req *reqs;
  p2pq_conn **conns; /* live connections, to close them on shutdown */
  size_t nconns, conns_cap;
  int shutting_down;
  uint64_t served_files, served_bytes;
} server;

static void conn_add(server *s, p2pq_conn *c) {
  if (s->nconns == s->conns_cap) {
    size_t cap = s->conns_cap ? s->conns_cap * 2 : 16;
    p2pq_conn **n = realloc(s->conns, cap * sizeof(*n));
    if (n == NULL)
      return; /* only shutdown politeness is lost */
    s->conns = n;
    s->conns_cap = cap;
  }
  s->conns[s->nconns++] = c;
}

static void conn_remove(server *s, p2pq_conn *c) {
  for (size_t i = 0; i < s->nconns; i++)
    if (s->conns[i] == c) {
      s->conns[i] = s->conns[--s->nconns];
      return;
    }
}

static req *req_find(server *s, p2pq_conn *c, uint64_t id) {
  for (req *r = s->reqs; r != NULL; r = r->next)
    if (r->conn == c && r->id == id)
      return r;
  return NULL;
}

static void req_drop(server *s, req *r) {
  req **pp = &s->reqs;
  while (*pp != r)
    pp = &(*pp)->next;
  *pp = r->next;
  if (r->map != NULL)
    munmap((void *)r->map, (size_t)r->size);
  if (r->fd >= 0)
    close(r->fd);
  free(r);
}

static void refuse(server *s, req *r, uint64_t code, const char *why) {
  if (s->verbose)
    fprintf(stderr, "p2pquic: stream %llu: %s\n", (unsigned long long)r->id, why);
  p2pq_stream_reset(r->conn, r->id, code);
  p2pq_stream_stop_sending(r->conn, r->id, code);
  req_drop(s, r);
}

/* Opens root + path as a regular file; the parser already refused "..". */
static void start_file(server *s, req *r, const char *path) {
  char full[4096 + P2PQ_HQ_PATH_MAX];
  struct stat st;
  snprintf(full, sizeof(full), "%s%s", s->root, path);
  r->fd = open(full, O_RDONLY | O_CLOEXEC);
  if (r->fd < 0 && errno != ENOENT && errno != ENOTDIR && errno != EACCES) {
    refuse(s, r, P2PQ_HQ_ERR_INTERNAL, strerror(errno)); /* e.g. out of fds */
    return;
  }
  if (r->fd < 0 || fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    refuse(s, r, P2PQ_HQ_ERR_NOT_FOUND, "no such file");
    return;
  }
  r->size = (uint64_t)st.st_size;
  if (r->size > 0) {
    /* the stream copies from the mapping: one copy, no read buffer */
    void *m = mmap(NULL, (size_t)r->size, PROT_READ, MAP_SHARED, r->fd, 0);
    if (m == MAP_FAILED) {
      refuse(s, r, P2PQ_HQ_ERR_INTERNAL, "cannot map the file");
      return;
    }
    madvise(m, (size_t)r->size, MADV_SEQUENTIAL);
    r->map = m;
  }
  /* the mapping outlives the descriptor: many streams, few fds */
  close(r->fd);
  r->fd = -1;
  r->sending = 1;
  if (s->verbose)
    fprintf(stderr, "p2pquic: stream %llu: GET %s (%llu bytes)\n", (unsigned long long)r->id,
            path, (unsigned long long)r->size);
}

static void on_readable(server *s, p2pq_conn *c, uint64_t id) {
  req *r = req_find(s, c, id);
  char path[P2PQ_HQ_PATH_MAX];
  int fin = 0, rv;
  if (r == NULL || r->sending)
    return;
  for (;;) {
    uint8_t tmp[512];
    int64_t n = p2pq_stream_read(c, id, tmp, sizeof(tmp), &fin);
    if (n < 0)
      return;
    if (r->line_len + (size_t)n > sizeof(r->line)) {
      refuse(s, r, P2PQ_HQ_ERR_BAD_REQUEST, "request too long");
      return;
    }
    memcpy(r->line + r->line_len, tmp, (size_t)n);
    r->line_len += (size_t)n;
    if (n == 0 || fin)
      break;
  }
  rv = p2pq_hq_parse_request(r->line, r->line_len, fin, path, sizeof(path));
  if (rv == P2PQ_ERR_TRUNCATED)
    return; /* wait for the rest of the line */
  if (rv != 0) {
    refuse(s, r, P2PQ_HQ_ERR_BAD_REQUEST, "bad request (or a path outside the root)");
    return;
  }
  start_file(s, r, path);
}

/* Offers the stream as much of the file as its send buffer takes. */
static void pump(server *s, req *r) {
  static const uint8_t none[1];
  for (;;) {
    uint64_t left = r->size - r->off;
    size_t want = left < CHUNK ? (size_t)left : CHUNK;
    int64_t w = p2pq_stream_write(r->conn, r->id, r->map ? r->map + r->off : none, want,
                                  (uint64_t)want == left);
    if (w < 0) {
      req_drop(s, r); /* peer stopped the stream, or the connection closes */
      return;
    }
    r->off += (uint64_t)w;
    if (r->off == r->size && (size_t)w == want) {
      s->served_files++;
      s->served_bytes += r->size;
      req_drop(s, r);
      return;
    }
    if ((size_t)w < want || w == 0)
      return; /* send buffer full: next loop turn */
  }
}

static void pump_all(server *s) {
  req *r = s->reqs, *next;
  for (; r != NULL; r = next) {
    next = r->next;
    if (r->sending)
      pump(s, r);
  }
}

static void on_opened(server *s, p2pq_conn *c, uint64_t id) {
  req *r;
  if ((id & 3) != 0)
    return; /* hq-interop uses client-initiated bidirectional streams only */
  if ((r = calloc(1, sizeof(*r))) == NULL) {
    p2pq_stream_reset(c, id, P2PQ_HQ_ERR_INTERNAL);
    return;
  }
  r->conn = c;
  r->id = id;
  r->fd = -1;
  r->next = s->reqs;
  s->reqs = r;
}

static void drop_conn(server *s, p2pq_conn *c) {
  req *r = s->reqs, *next;
  for (; r != NULL; r = next) {
    next = r->next;
    if (r->conn == c)
      req_drop(s, r);
  }
}

static int on_event(void *user, p2pq_runtime *rt, const p2pq_event *ev) {
  server *s = user;
  char a[P2PQ_ADDR_STRLEN];
  switch (ev->type) {
  case P2PQ_EV_NONE: pump_all(s); break;
  case P2PQ_EV_CONN_NEW:
    conn_add(s, ev->conn);
    if (s->verbose)
      fprintf(stderr, "p2pquic: connection from %s\n", p2pq_addr_format(&ev->addr, a, sizeof(a)));
    break;
  case P2PQ_EV_CONNECTED:
    if (s->verbose)
      fprintf(stderr, "p2pquic: handshake done (ALPN %s)\n", p2pq_conn_alpn(ev->conn));
    break;
  case P2PQ_EV_STREAM_OPENED: on_opened(s, ev->conn, ev->stream_id); break;
  case P2PQ_EV_STREAM_READABLE: on_readable(s, ev->conn, ev->stream_id); break;
  case P2PQ_EV_STREAM_STOP:
  case P2PQ_EV_STREAM_RESET: {
    req *r = req_find(s, ev->conn, ev->stream_id);
    if (r != NULL && (ev->type == P2PQ_EV_STREAM_STOP || !r->sending))
      req_drop(s, r);
    break;
  }
  case P2PQ_EV_CLOSED:
    if (s->verbose) {
      p2pq_conn_stats cs;
      p2pq_runtime_stats rs;
      p2pq_conn_get_stats(ev->conn, &cs);
      p2pq_runtime_get_stats(rt, &rs);
      fprintf(stderr,
              "p2pquic: connection closed: %s\n  packets sent %llu lost %llu, srtt %.3f ms, "
              "cwnd %llu; datagrams tx %llu in %llu syscalls (%llu EAGAIN), rx %llu in %llu\n",
              p2pq_strerror(ev->error), (unsigned long long)cs.pkts_sent,
              (unsigned long long)cs.pkts_lost, (double)cs.srtt_ns / 1e6,
              (unsigned long long)cs.cwnd, (unsigned long long)rs.tx_datagrams,
              (unsigned long long)rs.tx_syscalls, (unsigned long long)rs.tx_eagain,
              (unsigned long long)rs.rx_datagrams, (unsigned long long)rs.rx_syscalls);
    }
    drop_conn(s, ev->conn);
    conn_remove(s, ev->conn);
    if (s->shutting_down && s->nconns == 0)
      return 1;
    break;
  default: break;
  }
  return 0;
}

/* SIGINT/SIGTERM: tell every client with CONNECTION_CLOSE instead of leaving
 * them to their idle timeout; wait at most half a second for the closes. */
static void shut_down(server *s, p2pq_runtime *rt) {
  p2pq_tstamp now = p2pq_runtime_now();
  if (s->nconns == 0)
    return;
  s->shutting_down = 1;
  for (size_t i = 0; i < s->nconns; i++)
    p2pq_conn_close(s->conns[i], 1, 0, "server shutting down", now);
  (void)p2pq_runtime_run(rt, now + 500 * P2PQ_MS, on_event, s);
}

typedef struct serve_opts {
  const char *root, *cert, *key, *qlog;
  const char *listen[P2PQ_RUNTIME_MAX_SOCKETS];
  size_t n_listen;
  int verbose, retry;
} serve_opts;

static int parse_opts(int argc, char **argv, serve_opts *o) {
  static const struct option opts[] = {
      {"root", required_argument, NULL, 'r'}, {"listen", required_argument, NULL, 'l'},
      {"cert", required_argument, NULL, 'c'}, {"key", required_argument, NULL, 'k'},
      {"qlog", required_argument, NULL, 'q'}, {"retry", no_argument, NULL, 'R'},
      {"verbose", no_argument, NULL, 'v'},    {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int c;
  memset(o, 0, sizeof(*o));
  optind = 1;
  while ((c = getopt_long(argc, argv, "r:l:c:k:q:vh", opts, NULL)) != -1) {
    switch (c) {
    case 'r': o->root = optarg; break;
    case 'l':
      if (o->n_listen == P2PQ_RUNTIME_MAX_SOCKETS)
        return p2pq_cli_usage_err("serve", "at most %d --listen addresses",
                                  P2PQ_RUNTIME_MAX_SOCKETS);
      o->listen[o->n_listen++] = optarg;
      break;
    case 'c': o->cert = optarg; break;
    case 'k': o->key = optarg; break;
    case 'q': o->qlog = optarg; break;
    case 'R': o->retry = 1; break;
    case 'v': o->verbose = 1; break;
    case 'h': p2pq_cli_usage("serve"); return -1;
    default: return p2pq_cli_usage_err("serve", "bad option for serve");
    }
  }
  if (optind < argc)
    return p2pq_cli_usage_err("serve", "unexpected argument '%s'", argv[optind]);
  if (o->root == NULL)
    return p2pq_cli_usage_err("serve", "serve needs --root DIR (the directory to serve)");
  if (o->n_listen == 0)
    return p2pq_cli_usage_err("serve", "serve needs --listen ADDR:PORT, e.g. 127.0.0.1:4433");
  if (o->cert != NULL && o->key == NULL)
    return p2pq_cli_usage_err("serve", "--cert needs --key (the certificate's private key)");
  return 0;
}

/* Loads --cert/--key, or makes an ephemeral self-signed certificate. */
static int load_creds(const serve_opts *o, p2pq_creds **out, uint8_t fp[32]) {
  p2pq_creds_config cc;
  char *cert = NULL, *key = NULL;
  size_t cl = 0, kl = 0;
  int rv;
  memset(&cc, 0, sizeof(cc));
  cc.is_server = 1;
  if (o->key != NULL) {
    if ((key = p2pq_cli_read_file(o->key, &kl)) == NULL) {
      p2pq_cli_err("cannot read key file %s: %s", o->key, strerror(errno));
      return -1;
    }
    if (o->cert != NULL && (cert = p2pq_cli_read_file(o->cert, &cl)) == NULL) {
      p2pq_cli_err("cannot read certificate file %s: %s", o->cert, strerror(errno));
      free(key);
      return -1;
    }
    cc.raw_public_key = o->cert == NULL;
  } else if ((rv = p2pq_cert_self_signed("localhost", 30 * 86400, &cert, &cl, &key, &kl)) != 0) {
    p2pq_cli_err("cannot make a self-signed certificate: %s", p2pq_strerror(rv));
    return -1;
  }
  cc.cert_pem = cert;
  cc.cert_pem_len = cl;
  cc.key_pem = key;
  cc.key_pem_len = kl;
  rv = p2pq_fingerprint_from_key_pem(key, kl, fp);
  if (rv == 0)
    rv = p2pq_creds_new(out, &cc);
  if (rv != 0)
    p2pq_cli_err("cannot use %s%s%s: %s (is it PEM? does the key match?)",
                 o->cert ? o->cert : "", o->cert ? " / " : "", o->key ? o->key : "the key",
                 p2pq_strerror(rv));
  free(cert);
  free(key);
  return rv == 0 ? 0 : -1;
}

int p2pq_cli_serve(int argc, char **argv) {
  static const char *alpn[] = {"hq-interop"};
  serve_opts o;
  server s;
  p2pq_creds *creds = NULL;
  p2pq_runtime *rt = NULL;
  p2pq_runtime_config rc;
  p2pq_config qc;
  p2pq_stun_responder stun;
  p2pq_addr listen[P2PQ_RUNTIME_MAX_SOCKETS], bound;
  struct stat st;
  uint8_t fp[32];
  char err[512], fps[P2PQ_FINGERPRINT_STRLEN], as[P2PQ_ADDR_STRLEN];
  int rv;
  if ((rv = parse_opts(argc, argv, &o)) != 0)
    return rv < 0 ? P2PQ_CLI_OK : rv;
  for (size_t i = 0; i < o.n_listen; i++)
    if (p2pq_addr_parse(&listen[i], o.listen[i], -1) != 0)
      return p2pq_cli_usage_err("serve", "cannot parse --listen '%s': use ADDR:PORT, e.g. "
                                         "127.0.0.1:4433 or [::]:4433", o.listen[i]);
  if (stat(o.root, &st) != 0 || !S_ISDIR(st.st_mode)) {
    p2pq_cli_err("--root %s is not a directory: %s", o.root,
                 errno ? strerror(errno) : "not a directory");
    return P2PQ_CLI_FAIL;
  }
  if (load_creds(&o, &creds, fp) != 0)
    return P2PQ_CLI_FAIL;
  memset(&rc, 0, sizeof(rc));
  rc.bind = listen;
  rc.n_bind = o.n_listen;
  rc.qlog_dir = o.qlog;
  memset(&qc, 0, sizeof(qc));
  qc.is_server = 1;
  qc.creds = creds;
  qc.alpn = alpn;
  qc.n_alpn = 1;
  p2pq_settings_default(&qc.settings);
  qc.settings.retry = o.retry;
  /* STUN Binding answers on the QUIC port; observed addresses for clients that ask */
  qc.settings.address_discovery = 0;
  p2pq_stun_responder_init(&stun, "p2pquic");
  p2pq_stun_responder_attach(&stun, &qc);
  if ((rv = p2pq_runtime_new(&rt, &rc, &qc, err, sizeof(err))) != 0) {
    p2pq_cli_err("%s", err[0] ? err : p2pq_strerror(rv));
    p2pq_creds_free(creds);
    return P2PQ_CLI_FAIL;
  }
  memset(&s, 0, sizeof(s));
  s.root = o.root;
  s.verbose = o.verbose;
  p2pq_fingerprint_format(fp, fps);
  for (size_t i = 0; p2pq_runtime_local_addr(rt, i, &bound) == 0; i++)
    printf("listening on %s (hq-interop, serving %s)\n", p2pq_addr_format(&bound, as, sizeof(as)),
           o.root);
  printf("fingerprint %s\n", fps);
  fflush(stdout);
  p2pq_cli_catch_signals(rt, 0);
  rv = p2pq_runtime_run(rt, P2PQ_TSTAMP_MAX, on_event, &s);
  if (rv == 0)
    shut_down(&s, rt);
  p2pq_cli_catch_signals(NULL, 0);
  if (rv != 0)
    p2pq_cli_err("server stopped: %s", p2pq_strerror(rv));
  else if (o.verbose)
    fprintf(stderr, "p2pquic: served %llu files, %llu bytes\n",
            (unsigned long long)s.served_files, (unsigned long long)s.served_bytes);
  while (s.reqs != NULL)
    req_drop(&s, s.reqs);
  free(s.conns);
  p2pq_runtime_free(rt);
  p2pq_creds_free(creds);
  return rv == 0 ? P2PQ_CLI_OK : P2PQ_CLI_FAIL;
}
