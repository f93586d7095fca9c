/* p2pquic fetch: HTTP/3 (default) or hq-interop downloads, several URLs over
 * one connection. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "crypto/cert.h"
#include "io/h3app.h"
#include "io/hq.h"

#define READ_CHUNK (256u << 10)

typedef struct dl {
  p2pq_url url;
  char *out_path;
  int fd;
  uint64_t stream_id, bytes;
  int started, done, failed;
  int got_headers; /* h3: the final (non-1xx) response header section arrived */
  int regular; /* the output is a regular file (safe to remove on failure) */
} dl;

typedef struct fetcher {
  dl *dls;
  size_t n, done, failed;
  size_t next_req; /* URLs before it have their stream */
  size_t active, max_active; /* downloads in flight, bounded by the fd limit */
  p2pq_conn *conn;
  p2pq_cli_progress prog;
  uint8_t *buf;
  int verbose, connected, closing_ticks, exit_code;
  const char *server, *pin_text;
  uint64_t timeout_s;
  uint64_t key_update, next_key_update; /* packets between our key updates; 0 off */
  int use_h3;       /* the server chose ALPN h3 (else hq-interop) */
  p2pq_h3app *h3;   /* the HTTP/3 glue once connected */
} fetcher;

typedef struct fetch_opts {
  const char *out, *pin, *ca, *alpn, *qlog;
  int insecure, verbose;
  uint64_t timeout_s, key_update;
} fetch_opts;

/* ---- output files ---- */

static const char *base_name(const char *path) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  return *b ? b : "index.html";
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int open_output(dl *d) {
  struct stat st;
  d->fd = open(d->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (d->fd < 0) {
    p2pq_cli_err("cannot write %s: %s", d->out_path, strerror(errno));
    return -1;
  }
  d->regular = fstat(d->fd, &st) == 0 && S_ISREG(st.st_mode);
  return 0;
}

/* A finished download's file is closed at once (many URLs, few fds). */
static int close_output(dl *d) {
  int rv = 0;
  if (d->fd > STDOUT_FILENO)
    rv = close(d->fd);
  d->fd = -1;
  return rv;
}

static int open_outputs(fetcher *f, const char *out) {
  int several = f->n > 1;
  if (several && strcmp(out, "-") == 0) {
    p2pq_cli_err("-o - (stdout) takes one URL; give a directory for %zu URLs", f->n);
    return P2PQ_CLI_USAGE;
  }
  if (several && !is_dir(out) && mkdir(out, 0755) != 0) {
    p2pq_cli_err("cannot create output directory %s: %s", out, strerror(errno));
    return P2PQ_CLI_FAIL;
  }
  for (size_t i = 0; i < f->n; i++) {
    dl *d = &f->dls[i];
    size_t l;
    if (strcmp(out, "-") == 0) {
      d->fd = STDOUT_FILENO;
      continue;
    }
    l = strlen(out) + strlen(d->url.path) + 16;
    if ((d->out_path = malloc(l)) == NULL)
      return P2PQ_CLI_FAIL;
    if (several || is_dir(out))
      snprintf(d->out_path, l, "%s/%s", out, base_name(d->url.path));
    else
      snprintf(d->out_path, l, "%s", out);
    for (size_t j = 0; j < i; j++)
      if (f->dls[j].out_path && strcmp(f->dls[j].out_path, d->out_path) == 0) {
        p2pq_cli_err("two URLs would both be saved as %s; fetch them separately",
                     d->out_path);
        return P2PQ_CLI_USAGE;
      }
    /* one output is opened now, so that a bad -o fails before any network
     * traffic; many are opened as their requests start (bounded fds) */
    if (!several && open_output(d) != 0)
      return P2PQ_CLI_FAIL;
  }
  return 0;
}

static void close_outputs(fetcher *f) {
  for (size_t i = 0; i < f->n; i++) {
    dl *d = &f->dls[i];
    close_output(d);
    /* no half files that look complete; only files, never /dev/null & co */
    if (d->failed && d->regular && d->out_path != NULL)
      unlink(d->out_path);
    free(d->out_path);
  }
}

/* ---- events ---- */

static void finish(fetcher *f) {
  if (f->closing_ticks == 0 && f->done + f->failed == f->n) {
    p2pq_conn_close(f->conn, 1, f->use_h3 ? P2PQ_H3_NO_ERROR : 0, "done", p2pq_runtime_now());
    f->closing_ticks = 1;
  }
}

/* HTTP/3: a GET per pending URL; the glue opens the streams as the peer's
 * stream limit allows. */
static void start_h3_requests(fetcher *f) {
  for (; f->next_req < f->n && f->active < f->max_active; f->next_req++) {
    dl *d = &f->dls[f->next_req];
    char auth[P2PQ_URL_HOST_MAX + 16];
    int64_t sid;
    int rv;
    p2pq_h3_field h[4] = {{":method", 7, "GET", 3}, {":scheme", 7, "https", 5}};
    snprintf(auth, sizeof(auth), d->url.addr.family == 6 ? "[%s]:%u" : "%s:%u", d->url.host,
             (unsigned)d->url.addr.port);
    h[2] = (p2pq_h3_field){":authority", 10, auth, strlen(auth)};
    h[3] = (p2pq_h3_field){":path", 5, d->url.path, strlen(d->url.path)};
    if (d->fd < 0 && open_output(d) != 0)
      rv = P2PQ_ERR_IO; /* open_output said why */
    else
      rv = p2pq_h3_conn_submit_request(p2pq_h3app_h3(f->h3), h, 4, 1, &sid);
    if (rv != 0) {
      if (rv != P2PQ_ERR_IO)
        p2pq_cli_err("cannot request %s: %s", d->url.path, p2pq_strerror(rv));
      d->failed = 1;
      f->failed++;
      continue;
    }
    d->stream_id = (uint64_t)sid;
    d->started = 1;
    f->active++;
  }
  (void)p2pq_h3app_flush(f->h3, p2pq_runtime_now());
  finish(f);
}

/* Opens a stream per pending URL while the peer's stream limit allows; the
 * rest wait for MAX_STREAMS (retried every loop turn). */
static void start_requests(fetcher *f) {
  if (f->use_h3) {
    if (f->h3 != NULL)
      start_h3_requests(f);
    return;
  }
  for (; f->next_req < f->n && f->active < f->max_active; f->next_req++) {
    dl *d = &f->dls[f->next_req];
    uint8_t req[P2PQ_HQ_PATH_MAX + 8];
    int len = p2pq_hq_format_request(d->url.path, req, sizeof(req));
    int rv = len < 0 ? len : p2pq_conn_open_stream(f->conn, 1, &d->stream_id);
    if (rv == P2PQ_ERR_STREAM_LIMIT || rv == P2PQ_ERR_AGAIN)
      break;
    if (rv == 0) {
      if (d->fd < 0 && open_output(d) != 0)
        rv = P2PQ_ERR_IO; /* open_output said why */
      else if (p2pq_stream_write(f->conn, d->stream_id, req, (size_t)len, 1) != len)
        rv = P2PQ_ERR_STATE;
      if (rv != 0)
        p2pq_stream_reset(f->conn, d->stream_id, P2PQ_HQ_ERR_INTERNAL);
    }
    if (rv != 0) {
      if (rv != P2PQ_ERR_IO)
        p2pq_cli_err("cannot request %s: %s", d->url.path, p2pq_strerror(rv));
      d->failed = 1;
      f->failed++;
      continue;
    }
    d->started = 1;
    f->active++;
  }
  finish(f);
}

static dl *find_dl(fetcher *f, uint64_t id) {
  for (size_t i = 0; i < f->n; i++)
    if (f->dls[i].started && f->dls[i].stream_id == id)
      return &f->dls[i];
  return NULL;
}

static void fail_dl(fetcher *f, dl *d, const char *fmt, const char *arg) {
  if (d->done || d->failed)
    return;
  p2pq_cli_err(fmt, d->url.path, arg);
  d->failed = 1;
  f->failed++;
  f->active--;
  close_output(d);
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Body bytes for d; 0, or -1 once the download failed. */
static int dl_write(fetcher *f, dl *d, const uint8_t *p, size_t n) {
  if (n == 0)
    return 0;
  if (write_all(d->fd, p, n) != 0) {
    fail_dl(f, d, "cannot save %s: %s", strerror(errno));
    finish(f);
    return -1;
  }
  d->bytes += (uint64_t)n;
  p2pq_cli_progress_add(&f->prog, (uint64_t)n, p2pq_runtime_now());
  return 0;
}

static void dl_complete(fetcher *f, dl *d) {
  if (close_output(d) != 0) {
    fail_dl(f, d, "cannot save %s: %s", strerror(errno));
    finish(f);
    return;
  }
  d->done = 1;
  f->done++;
  f->active--;
  f->prog.files_done++;
  if (f->verbose)
    fprintf(stderr, "p2pquic: %s: %llu bytes\n", d->url.path, (unsigned long long)d->bytes);
  finish(f);
}

/* A response header section: 1xx are skipped, anything but 200 fails the URL. */
static void h3_headers(fetcher *f, dl *d, const p2pq_h3_event *ev) {
  const char *status = NULL;
  char why[64];
  for (size_t i = 0; i < ev->nfields; i++)
    if (strcmp(ev->fields[i].name, ":status") == 0)
      status = ev->fields[i].value;
  if (status != NULL && status[0] == '1')
    return;
  d->got_headers = 1;
  if (status != NULL && strcmp(status, "200") == 0)
    return;
  snprintf(why, sizeof(why), "status %s%s", status ? status : "missing",
           status && strcmp(status, "404") == 0 ? ", no such file" : "");
  fail_dl(f, d, "server refused %s (%s)", why);
  (void)p2pq_h3app_cancel(f->h3, ev->stream_id, P2PQ_H3_REQUEST_CANCELLED);
  finish(f);
}

static void h3_events(fetcher *f) {
  p2pq_h3_event ev;
  while (f->h3 != NULL && p2pq_h3app_poll(f->h3, &ev, p2pq_runtime_now())) {
    dl *d = ev.stream_id >= 0 ? find_dl(f, (uint64_t)ev.stream_id) : NULL;
    int live = d != NULL && !d->done && !d->failed;
    switch (ev.type) {
    case P2PQ_H3_EV_HEADERS:
      if (live && !d->got_headers)
        h3_headers(f, d, &ev);
      break;
    case P2PQ_H3_EV_DATA:
      if (live)
        (void)dl_write(f, d, ev.data, ev.len);
      break;
    case P2PQ_H3_EV_FIN:
      if (live && d->got_headers)
        dl_complete(f, d);
      break;
    case P2PQ_H3_EV_STREAM_RESET:
    case P2PQ_H3_EV_STREAM_ERROR:
      if (live) {
        fail_dl(f, d, "server reset %s (%s)", p2pq_h3_errname(ev.error_code));
        finish(f);
      }
      break;
    case P2PQ_H3_EV_CONN_ERROR:
      p2pq_cli_err("HTTP/3 error from %s: %s", f->server, p2pq_h3_errname(ev.error_code));
      break;
    default: break;
    }
  }
}

static void on_readable(fetcher *f, uint64_t id) {
  dl *d = find_dl(f, id);
  if (d == NULL || d->done || d->failed)
    return;
  for (;;) {
    int fin = 0;
    int64_t n = p2pq_stream_read(f->conn, id, f->buf, READ_CHUNK, &fin);
    if (n < 0)
      return;
    if (n > 0) {
      if (write_all(d->fd, f->buf, (size_t)n) != 0) {
        fail_dl(f, d, "cannot save %s: %s", strerror(errno));
        p2pq_stream_stop_sending(f->conn, id, P2PQ_HQ_ERR_INTERNAL);
        finish(f);
        return;
      }
      d->bytes += (uint64_t)n;
      p2pq_cli_progress_add(&f->prog, (uint64_t)n, p2pq_runtime_now());
    }
    if (fin) {
      if (close_output(d) != 0) {
        fail_dl(f, d, "cannot save %s: %s", strerror(errno));
        finish(f);
        return;
      }
      d->done = 1;
      f->done++;
      f->active--;
      f->prog.files_done++;
      if (f->verbose)
        fprintf(stderr, "p2pquic: %s: %llu bytes\n", d->url.path,
                (unsigned long long)d->bytes);
      finish(f);
      return;
    }
    if (n == 0)
      return;
  }
}

static int closed_code(fetcher *f, int error) {
  if (f->done + f->failed == f->n)
    return f->failed ? P2PQ_CLI_FAIL : P2PQ_CLI_OK;
  switch (error) {
  case P2PQ_ERR_HANDSHAKE_TIMEOUT:
  case P2PQ_ERR_IDLE_TIMEOUT:
    if (!f->connected) {
      p2pq_cli_err("no QUIC answer from %s within %llu s: is 'p2pquic serve' running there "
                   "and the port open?", f->server, (unsigned long long)f->timeout_s);
      break;
    }
    p2pq_cli_err("connection to %s timed out (the server went silent)", f->server);
    break;
  case P2PQ_ERR_PEER_AUTH:
  case P2PQ_ERR_TLS:
  case P2PQ_ERR_TLS_ALERT:
    if (f->pin_text != NULL && !f->connected)
      p2pq_cli_err("the server's key does not match --pin %s (%s); check the fingerprint "
                   "'p2pquic serve' printed", f->pin_text, p2pq_strerror(error));
    else
      p2pq_cli_err("TLS handshake with %s failed: %s", f->server, p2pq_strerror(error));
    break;
  default:
    p2pq_cli_err("connection to %s closed before the downloads finished: %s", f->server,
                 p2pq_strerror(error));
  }
  return P2PQ_CLI_FAIL;
}

static void print_stats(p2pq_runtime *rt, p2pq_conn *c, int error) {
  p2pq_conn_stats cs;
  p2pq_runtime_stats rs;
  p2pq_conn_get_stats(c, &cs);
  p2pq_runtime_get_stats(rt, &rs);
  fprintf(stderr,
          "p2pquic: connection closed: %s\n"
          "  packets sent %llu recv %llu lost %llu; srtt %.3f ms min_rtt %.3f ms; cwnd %llu; "
          "pmtu %llu\n"
          "  datagrams rx %llu in %llu syscalls, tx %llu in %llu syscalls (%llu EAGAIN, %llu "
          "errors); GSO %s GRO %s\n",
          p2pq_strerror(error), (unsigned long long)cs.pkts_sent,
          (unsigned long long)cs.pkts_recv, (unsigned long long)cs.pkts_lost,
          (double)cs.srtt_ns / 1e6, (double)cs.min_rtt_ns / 1e6, (unsigned long long)cs.cwnd,
          (unsigned long long)cs.pmtu, (unsigned long long)rs.rx_datagrams,
          (unsigned long long)rs.rx_syscalls, (unsigned long long)rs.tx_datagrams,
          (unsigned long long)rs.tx_syscalls, (unsigned long long)rs.tx_eagain,
          (unsigned long long)rs.tx_errors, p2pq_runtime_gso(rt, 0) ? "on" : "off",
          p2pq_runtime_gro(rt, 0) ? "on" : "off");
}

/* --key-update N: a new key phase every N packets (sent + received), as soon
 * as the peer has answered the previous one. */
static void maybe_key_update(fetcher *f) {
  p2pq_conn_stats st;
  p2pq_conn_get_stats(f->conn, &st);
  if (st.pkts_sent + st.pkts_recv < f->next_key_update)
    return;
  if (p2pq_conn_key_update(f->conn, p2pq_runtime_now()) == 0) {
    f->next_key_update = st.pkts_sent + st.pkts_recv + f->key_update;
    if (f->verbose)
      fprintf(stderr, "p2pquic: key update %llu\n", (unsigned long long)st.key_updates + 1);
  }
}

static int on_event(void *user, p2pq_runtime *rt, const p2pq_event *ev) {
  fetcher *f = user;
  if (f->h3 != NULL && ev->conn != NULL && ev->type != P2PQ_EV_CLOSED) {
    (void)p2pq_h3app_on_event(f->h3, ev, p2pq_runtime_now());
    h3_events(f);
  }
  switch (ev->type) {
  case P2PQ_EV_NONE:
    if (f->h3 != NULL)
      (void)p2pq_h3app_flush(f->h3, p2pq_runtime_now());
    if (!f->connected && p2pq_runtime_unreachable(rt, &f->dls[0].url.addr) == ECONNREFUSED) {
      p2pq_cli_err("nothing listens on %s (ICMP port unreachable): is 'p2pquic serve' running "
                   "there?", f->server);
      return P2PQ_CLI_FAIL + 0x100;
    }
    /* downloads that finished make room under max_active */
    if (f->connected && f->closing_ticks == 0 && f->next_req < f->n)
      start_requests(f);
    if (f->key_update > 0 && f->connected && f->closing_ticks == 0)
      maybe_key_update(f);
    /* the close went out in the turn after it was asked for */
    if (f->closing_ticks > 0 && ++f->closing_ticks > 2) {
      if (f->verbose && f->conn != NULL) /* CLOSED comes only after the closing period */
        print_stats(rt, f->conn, P2PQ_ERR_CLOSED);
      return (f->failed ? P2PQ_CLI_FAIL : P2PQ_CLI_OK) + 0x100;
    }
    break;
  case P2PQ_EV_CONNECTED:
    f->connected = 1;
    if (f->verbose)
      fprintf(stderr, "p2pquic: connected to %s (ALPN %s)\n", f->server,
              p2pq_conn_alpn(ev->conn));
    f->use_h3 = p2pq_conn_alpn(ev->conn) != NULL && strcmp(p2pq_conn_alpn(ev->conn), "h3") == 0;
    if (f->use_h3 && f->h3 == NULL) {
      p2pq_h3_config cfg;
      p2pq_h3_config_default(&cfg, 0);
      cfg.rand = p2pq_runtime_random;
      if (p2pq_h3app_new(&f->h3, ev->conn, &cfg) != 0) {
        p2pq_cli_err("out of memory");
        return P2PQ_CLI_FAIL + 0x100;
      }
    }
    start_requests(f);
    break;
  case P2PQ_EV_STREAMS_AVAILABLE:
    if (f->closing_ticks == 0)
      start_requests(f); /* URLs that waited for the peer's stream limit */
    break;
  case P2PQ_EV_STREAM_READABLE:
    if (!f->use_h3)
      on_readable(f, ev->stream_id);
    break;
  case P2PQ_EV_STREAM_RESET: {
    if (f->use_h3)
      break; /* the glue passed it to the h3 layer */
    dl *d = find_dl(f, ev->stream_id);
    if (d != NULL) {
      fail_dl(f, d, "server refused %s (%s)",
              ev->error_code == P2PQ_HQ_ERR_NOT_FOUND ? "no such file" : "bad request");
      finish(f);
    }
    break;
  }
  case P2PQ_EV_CLOSED:
    f->conn = NULL;
    p2pq_h3app_free(f->h3); /* its connection goes now */
    f->h3 = NULL;
    if (f->verbose)
      print_stats(rt, ev->conn, ev->error);
    return closed_code(f, ev->error) + 0x100; /* never 0: stop the loop */
  default: break;
  }
  return 0;
}

/* ---- options ---- */

static int parse_opts(int argc, char **argv, fetch_opts *o, fetcher *f) {
  static const struct option opts[] = {
      {"output", required_argument, NULL, 'o'}, {"pin", required_argument, NULL, 'p'},
      {"ca", required_argument, NULL, 'C'},     {"insecure", no_argument, NULL, 'k'},
      {"alpn", required_argument, NULL, 'a'},   {"qlog", required_argument, NULL, 'q'},
      {"timeout", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
      {"key-update", required_argument, NULL, 'K'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  int c;
  char *end;
  memset(o, 0, sizeof(*o));
  o->timeout_s = 10;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:p:kvh", opts, NULL)) != -1) {
    switch (c) {
    case 'o': o->out = optarg; break;
    case 'p': o->pin = optarg; break;
    case 'C': o->ca = optarg; break;
    case 'k': o->insecure = 1; break;
    case 'a': o->alpn = optarg; break;
    case 'q': o->qlog = optarg; break;
    case 'v': o->verbose = 1; break;
    case 't':
      o->timeout_s = strtoull(optarg, &end, 10);
      if (*end != '\0' || o->timeout_s == 0 || o->timeout_s > 3600)
        return p2pq_cli_usage_err("fetch", "--timeout wants whole seconds (1..3600), not '%s'",
                                  optarg);
      break;
    case 'K':
      o->key_update = strtoull(optarg, &end, 10);
      if (*end != '\0' || o->key_update == 0)
        return p2pq_cli_usage_err("fetch", "--key-update wants a packet count (> 0), not '%s'",
                                  optarg);
      break;
    case 'h': p2pq_cli_usage("fetch"); return -1;
    default: return p2pq_cli_usage_err("fetch", "bad option for fetch");
    }
  }
  f->n = (size_t)(argc - optind);
  if (f->n == 0)
    return p2pq_cli_usage_err("fetch", "fetch needs at least one URL "
                                       "(https://HOST:PORT/path)");
  if (o->out == NULL)
    return p2pq_cli_usage_err("fetch", "fetch needs -o PATH (a file, '-' for stdout, or a "
                                       "directory for several URLs)");
  if (!!o->pin + o->insecure + !!o->ca != 1)
    return p2pq_cli_usage_err("fetch", "say how to check the server: --pin sha256:... (the "
                                       "fingerprint 'p2pquic serve' printed), --ca FILE, or "
                                       "--insecure (exactly one)");
  if (o->alpn != NULL && strcmp(o->alpn, "hq-interop") != 0 && strcmp(o->alpn, "h3") != 0)
    return p2pq_cli_usage_err("fetch", "--alpn %s is not supported; use h3 (the default) or "
                                       "hq-interop", o->alpn);
  if ((f->dls = calloc(f->n, sizeof(dl))) == NULL)
    return P2PQ_CLI_FAIL;
  for (size_t i = 0; i < f->n; i++) {
    const char *u = argv[optind + (int)i];
    int rv = p2pq_url_parse((const uint8_t *)u, strlen(u), &f->dls[i].url);
    f->dls[i].fd = -1;
    if (rv == P2PQ_ERR_UNSUPPORTED)
      return p2pq_cli_usage_err("fetch", "cannot fetch '%s': only https:// URLs with an IP "
                                         "address or localhost as host are supported", u);
    if (rv != 0)
      return p2pq_cli_usage_err("fetch", "cannot parse URL '%s' (%s): use "
                                         "https://HOST:PORT/path", u, p2pq_strerror(rv));
    if (i > 0 && !p2pq_addr_equal(&f->dls[i].url.addr, &f->dls[0].url.addr))
      return p2pq_cli_usage_err("fetch", "all URLs must name the same server (one "
                                         "connection); '%s' does not", u);
  }
  return 0;
}

static int make_creds(const fetch_opts *o, p2pq_creds **out) {
  p2pq_creds_config cc;
  uint8_t pin[32];
  int rv;
  memset(&cc, 0, sizeof(cc));
  if (o->pin != NULL) {
    if (p2pq_fingerprint_parse(o->pin, pin) != 0) {
      p2pq_cli_usage_err("fetch", "--pin '%s' is not a fingerprint: use sha256:<64 hex "
                                  "digits> as printed by 'p2pquic serve'", o->pin);
      return P2PQ_CLI_USAGE;
    }
    cc.verify = P2PQ_VERIFY_PIN;
    cc.pins = (const uint8_t(*)[32])pin;
    cc.n_pins = 1;
  } else if (o->ca != NULL) {
    cc.verify = P2PQ_VERIFY_CA;
    cc.ca_file = o->ca;
  } else {
    cc.verify = P2PQ_VERIFY_NONE;
  }
  if ((rv = p2pq_creds_new(out, &cc)) != 0) {
    p2pq_cli_err("cannot set up TLS: %s%s%s", p2pq_strerror(rv), o->ca ? " (check --ca " : "",
                 o->ca ? o->ca : "");
    return P2PQ_CLI_FAIL;
  }
  return 0;
}

static int run(fetcher *f, const fetch_opts *o, p2pq_creds *creds) {
  /* default: h3 first, hq-interop for servers that only speak that */
  const char *alpn[2] = {"h3", "hq-interop"};
  static const uint8_t zero[16];
  p2pq_runtime *rt = NULL;
  p2pq_runtime_config rc;
  p2pq_config qc;
  p2pq_addr any;
  char err[512], as[P2PQ_ADDR_STRLEN];
  const p2pq_url *u = &f->dls[0].url;
  int rv;
  if (u->addr.family == 4)
    p2pq_addr_v4(&any, zero, 0);
  else
    p2pq_addr_v6(&any, zero, 0);
  memset(&rc, 0, sizeof(rc));
  rc.bind = &any;
  rc.n_bind = 1;
  rc.qlog_dir = o->qlog;
  rc.icmp_errors = 1;
  memset(&qc, 0, sizeof(qc));
  qc.creds = creds;
  qc.alpn = alpn;
  qc.n_alpn = 2;
  if (o->alpn != NULL) {
    alpn[0] = o->alpn;
    qc.n_alpn = 1;
  }
  p2pq_settings_default(&qc.settings);
  qc.settings.handshake_timeout_ms = o->timeout_s * 1000;
  if ((rv = p2pq_runtime_new(&rt, &rc, &qc, err, sizeof(err))) != 0) {
    p2pq_cli_err("%s", err[0] ? err : p2pq_strerror(rv));
    return P2PQ_CLI_FAIL;
  }
  f->server = p2pq_addr_format(&u->addr, as, sizeof(as));
  p2pq_cli_progress_init(&f->prog, f->n, p2pq_runtime_now());
  rv = p2pq_runtime_connect(rt, &f->conn, &u->addr, strcmp(u->host, "localhost") == 0 ||
                                                         o->ca != NULL ? u->host : NULL);
  if (rv != 0) {
    p2pq_cli_err("cannot connect to %s: %s", f->server, p2pq_strerror(rv));
    p2pq_runtime_free(rt);
    return P2PQ_CLI_FAIL;
  }
  p2pq_cli_catch_signals(rt, 130 + 0x100);
  /* the handshake timeout bounds the wait; the loop itself needs no deadline */
  rv = p2pq_runtime_run(rt, P2PQ_TSTAMP_MAX, on_event, f);
  p2pq_cli_catch_signals(NULL, 0);
  if (rv >= 0x100)
    rv -= 0x100;
  else {
    p2pq_cli_err("runtime failed: %s", p2pq_strerror(rv));
    rv = P2PQ_CLI_FAIL;
  }
  if (rv == 130)
    p2pq_cli_err("interrupted");
  if (f->connected || f->done > 0)
    p2pq_cli_progress_done(&f->prog, p2pq_runtime_now());
  p2pq_h3app_free(f->h3);
  f->h3 = NULL;
  p2pq_runtime_free(rt);
  return rv;
}

/* Concurrent downloads: one output file each, so stay well inside the fd
 * limit; 256 keeps a few streams' credit in use without flooding. */
static size_t max_downloads(void) {
  struct rlimit rl;
  size_t n = 256;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur < n + 32)
    n = rl.rlim_cur > 40 ? (size_t)rl.rlim_cur - 32 : 8;
  return n;
}

int p2pq_cli_fetch(int argc, char **argv) {
  fetch_opts o;
  fetcher f;
  p2pq_creds *creds = NULL;
  int rv;
  memset(&f, 0, sizeof(f));
  if ((rv = parse_opts(argc, argv, &o, &f)) == 0 && (rv = make_creds(&o, &creds)) == 0 &&
      (rv = open_outputs(&f, o.out)) == 0) {
    f.verbose = o.verbose;
    f.pin_text = o.pin;
    f.timeout_s = o.timeout_s;
    f.key_update = f.next_key_update = o.key_update;
    f.max_active = max_downloads();
    f.buf = malloc(READ_CHUNK);
    rv = f.buf != NULL ? run(&f, &o, creds) : P2PQ_CLI_FAIL;
    for (size_t i = 0; i < f.n; i++)
      if (!f.dls[i].done)
        f.dls[i].failed = 1;
    if (rv == 0 && f.done != f.n)
      rv = P2PQ_CLI_FAIL;
  }
  if (f.dls != NULL)
    close_outputs(&f);
  free(f.dls);
  free(f.buf);
  p2pq_creds_free(creds);
  return rv < 0 ? P2PQ_CLI_OK : rv;
}
