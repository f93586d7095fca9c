/* p2pquic serve: files over HTTP/3 (ALPN h3) and hq-interop (HTTP/0.9 over
 * QUIC), chosen per connection by the negotiated ALPN. */
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
#include "io/h3app.h"
#include "io/hq.h"
#include "peer/stun_responder.h"

#define CHUNK (1u << 20) /* bytes offered to a stream per write call */
#define REQ_MAX (P2PQ_HQ_PATH_MAX + 8)
#define H3_QUEUE (1u << 20) /* response bytes queued per h3 stream before QUIC takes them */

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
  p2pq_h3app *h3;    /* the connection's HTTP/3 glue; NULL for hq-interop */
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

/* Opens root + path as a regular file and maps it; the parser already
 * refused "..". Returns 200, 404 (no such file) or 500 with *why set. */
static int open_file(server *s, req *r, const char *path, const char **why) {
  char full[4096 + P2PQ_HQ_PATH_MAX];
  struct stat st;
  snprintf(full, sizeof(full), "%s%s", s->root, path);
  r->fd = open(full, O_RDONLY | O_CLOEXEC);
  if (r->fd < 0 && errno != ENOENT && errno != ENOTDIR && errno != EACCES) {
    *why = strerror(errno); /* e.g. out of fds */
    return 500;
  }
  if (r->fd < 0 || fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *why = "no such file";
    return 404;
  }
  r->size = (uint64_t)st.st_size;
  if (r->size > 0) {
    /* the stream copies from the mapping: one copy, no read buffer */
    void *m = mmap(NULL, (size_t)r->size, PROT_READ, MAP_SHARED, r->fd, 0);
    if (m == MAP_FAILED) {
      *why = "cannot map the file";
      return 500;
    }
    madvise(m, (size_t)r->size, MADV_SEQUENTIAL);
    r->map = m;
  }
  /* the mapping outlives the descriptor: many streams, few fds */
  close(r->fd);
  r->fd = -1;
  if (s->verbose)
    fprintf(stderr, "p2pquic: stream %llu: GET %s (%llu bytes)\n", (unsigned long long)r->id,
            path, (unsigned long long)r->size);
  return 200;
}

static void start_file(server *s, req *r, const char *path) {
  const char *why = NULL;
  int status = open_file(s, r, path, &why);
  if (status != 200) {
    refuse(s, r, status == 404 ? P2PQ_HQ_ERR_NOT_FOUND : P2PQ_HQ_ERR_INTERNAL, why);
    return;
  }
  r->sending = 1;
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

/* HTTP/3: DATA frames from the mapping while little is queued. */
static void pump_h3(server *s, req *r) {
  p2pq_h3_conn *h3 = p2pq_h3app_h3(r->h3);
  while (p2pq_h3app_buffered(r->h3, (int64_t)r->id) < H3_QUEUE) {
    uint64_t left = r->size - r->off;
    size_t n = left < CHUNK / 4 ? (size_t)left : CHUNK / 4;
    if (p2pq_h3_conn_send_data(h3, (int64_t)r->id, r->map + r->off, n, (uint64_t)n == left) !=
        0) {
      req_drop(s, r); /* the request was cancelled */
      return;
    }
    r->off += (uint64_t)n;
    if (r->off == r->size) {
      s->served_files++;
      s->served_bytes += r->size;
      req_drop(s, r);
      return;
    }
  }
}

static void pump_all(server *s) {
  req *r = s->reqs, *next;
  for (; r != NULL; r = next) {
    next = r->next;
    if (r->sending)
      (r->h3 != NULL ? pump_h3 : pump)(s, r);
  }
  for (size_t i = 0; i < s->nconns; i++) {
    p2pq_h3app *a = p2pq_conn_user(s->conns[i]);
    if (a != NULL)
      (void)p2pq_h3app_flush(a, p2pq_runtime_now());
  }
}

/* ---- HTTP/3 ---- */

static const p2pq_h3_field *field(const p2pq_h3_event *ev, const char *name) {
  for (size_t i = 0; i < ev->nfields; i++)
    if (strcmp(ev->fields[i].name, name) == 0)
      return &ev->fields[i];
  return NULL;
}

/* A response with no body (errors; an empty file). */
static void respond_empty(p2pq_h3app *a, int64_t sid, const char *status, const char *allow) {
  p2pq_h3_field f[3] = {{":status", 7, status, strlen(status)}, {"content-length", 14, "0", 1}};
  size_t n = 2;
  if (allow != NULL)
    f[n++] = (p2pq_h3_field){"allow", 5, allow, strlen(allow)};
  (void)p2pq_h3_conn_submit_response(p2pq_h3app_h3(a), sid, f, n, 1);
}

/* The request path without its query, checked like an hq-interop one. */
static int h3_path(const p2pq_h3_field *p, char *path, size_t cap) {
  uint8_t line[P2PQ_HQ_PATH_MAX + 8];
  size_t n = p->value_len;
  const char *q = memchr(p->value, '?', n);
  if (q != NULL)
    n = (size_t)(q - p->value);
  if (n + 5 > sizeof(line))
    return P2PQ_ERR_NOBUF;
  memcpy(line, "GET ", 4);
  memcpy(line + 4, p->value, n);
  line[4 + n] = '\n';
  return p2pq_hq_parse_request(line, n + 5, 1, path, cap);
}

static void h3_request(server *s, p2pq_h3app *a, const p2pq_h3_event *ev) {
  const p2pq_h3_field *m = field(ev, ":method"), *p = field(ev, ":path");
  char path[P2PQ_HQ_PATH_MAX], len[24];
  const char *why = "bad request";
  int head, status;
  req *r;
  if (m == NULL || (strcmp(m->value, "GET") != 0 && strcmp(m->value, "HEAD") != 0)) {
    respond_empty(a, ev->stream_id, "405", "GET, HEAD");
    return;
  }
  head = strcmp(m->value, "HEAD") == 0;
  if (p == NULL || h3_path(p, path, sizeof(path)) != 0) {
    respond_empty(a, ev->stream_id, "400", NULL);
    return;
  }
  if ((r = calloc(1, sizeof(*r))) == NULL) {
    respond_empty(a, ev->stream_id, "500", NULL);
    return;
  }
  r->conn = p2pq_h3app_conn(a);
  r->id = (uint64_t)ev->stream_id;
  r->fd = -1;
  r->h3 = a;
  r->next = s->reqs;
  s->reqs = r;
  status = open_file(s, r, path, &why);
  if (status != 200) {
    if (s->verbose)
      fprintf(stderr, "p2pquic: stream %llu: %s: %s\n", (unsigned long long)r->id, path, why);
    respond_empty(a, ev->stream_id, status == 404 ? "404" : "500", NULL);
    req_drop(s, r);
    return;
  }
  snprintf(len, sizeof(len), "%llu", (unsigned long long)r->size);
  {
    p2pq_h3_field f[2] = {{":status", 7, "200", 3}, {"content-length", 14, len, strlen(len)}};
    int end = head || r->size == 0;
    int rv = p2pq_h3_conn_submit_response(p2pq_h3app_h3(a), ev->stream_id, f, 2, end);
    if (rv != 0 || end) {
      s->served_files += rv == 0;
      req_drop(s, r);
      return;
    }
  }
  r->sending = 1;
  pump_h3(s, r);
}

static void h3_events(server *s, p2pq_h3app *a) {
  p2pq_h3_event ev;
  p2pq_tstamp now = p2pq_runtime_now();
  while (p2pq_h3app_poll(a, &ev, now)) {
    req *r;
    switch (ev.type) {
    case P2PQ_H3_EV_HEADERS:
      if (req_find(s, p2pq_h3app_conn(a), (uint64_t)ev.stream_id) == NULL)
        h3_request(s, a, &ev);
      break;
    case P2PQ_H3_EV_STREAM_RESET:
    case P2PQ_H3_EV_STREAM_ERROR:
      if ((r = req_find(s, p2pq_h3app_conn(a), (uint64_t)ev.stream_id)) != NULL)
        req_drop(s, r);
      if (s->verbose && ev.type == P2PQ_H3_EV_STREAM_ERROR)
        fprintf(stderr, "p2pquic: stream %lld: %s\n", (long long)ev.stream_id,
                p2pq_h3_errname(ev.error_code));
      break;
    case P2PQ_H3_EV_CONN_ERROR:
      if (s->verbose)
        fprintf(stderr, "p2pquic: HTTP/3 error %s\n", p2pq_h3_errname(ev.error_code));
      break;
    default: break;
    }
  }
  (void)p2pq_h3app_flush(a, now);
}

/* The connection's HTTP/3 glue, made once its ALPN says h3; NULL for hq-interop. */
static p2pq_h3app *h3_of(server *s, p2pq_conn *c) {
  p2pq_h3app *a = p2pq_conn_user(c);
  const char *alpn = p2pq_conn_alpn(c);
  p2pq_h3_config cfg;
  if (a != NULL || alpn == NULL || strcmp(alpn, "h3") != 0)
    return a;
  p2pq_h3_config_default(&cfg, 1);
  cfg.rand = p2pq_runtime_random;
  if (p2pq_h3app_new(&a, c, &cfg) != 0) {
    p2pq_conn_close(c, 1, P2PQ_H3_INTERNAL_ERROR, "out of memory", p2pq_runtime_now());
    return NULL;
  }
  (void)s;
  p2pq_conn_set_user(c, a);
  return a;
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
  p2pq_h3app *h3 = NULL;
  if (ev->conn != NULL && ev->type != P2PQ_EV_CLOSED && ev->type != P2PQ_EV_CONN_NEW &&
      (h3 = h3_of(s, ev->conn)) != NULL) {
    (void)p2pq_h3app_on_event(h3, ev, p2pq_runtime_now());
    h3_events(s, h3);
  }
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
  case P2PQ_EV_MIGRATED:
    if (s->verbose)
      fprintf(stderr, "p2pquic: client moved to %s\n", p2pq_addr_format(&ev->addr, a, sizeof(a)));
    break;
  case P2PQ_EV_STREAM_OPENED:
    if (h3 == NULL)
      on_opened(s, ev->conn, ev->stream_id);
    break;
  case P2PQ_EV_STREAM_READABLE:
    if (h3 == NULL)
      on_readable(s, ev->conn, ev->stream_id);
    break;
  case P2PQ_EV_STREAM_STOP:
  case P2PQ_EV_STREAM_RESET: {
    req *r = req_find(s, ev->conn, ev->stream_id);
    if (h3 != NULL) { /* the glue reset the stream; an h3 request ends on STOP only */
      if (r != NULL && ev->type == P2PQ_EV_STREAM_STOP)
        req_drop(s, r);
      break;
    }
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
      fprintf(stderr, "  key updates %llu, paths validated %llu\n",
              (unsigned long long)cs.key_updates, (unsigned long long)cs.paths_validated);
    }
    drop_conn(s, ev->conn);
    conn_remove(s, ev->conn);
    p2pq_h3app_free(p2pq_conn_user(ev->conn));
    p2pq_conn_set_user(ev->conn, NULL);
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
    p2pq_conn_close(s->conns[i], 1, p2pq_conn_user(s->conns[i]) ? P2PQ_H3_NO_ERROR : 0,
                    "server shutting down", now);
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
  static const char *alpn[] = {"h3", "hq-interop"};
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
  qc.n_alpn = 2;
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
    printf("listening on %s (h3 and hq-interop, serving %s)\n", p2pq_addr_format(&bound, as, sizeof(as)),
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
  for (size_t i = 0; i < s.nconns; i++) /* connections that did not close in time */
    p2pq_h3app_free(p2pq_conn_user(s.conns[i]));
  free(s.conns);
  p2pq_runtime_free(rt);
  p2pq_creds_free(creds);
  return rv == 0 ? P2PQ_CLI_OK : P2PQ_CLI_FAIL;
}
