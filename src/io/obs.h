/* Observability files for the runtime: the NSS key log ($SSLKEYLOGFILE) and
 * one qlog JSON-SEQ file (.sqlog) per connection, fed by the endpoint hooks. */
#ifndef P2PQ_IO_OBS_H
#define P2PQ_IO_OBS_H

#include <stdio.h>

#include "p2pq/quic.h"

typedef struct p2pq_io_qlog_file {
  p2pq_conn *conn;
  FILE *f;
  int confirmed; /* the application saw the connection (connect / CONN_NEW) */
  char *path;
} p2pq_io_qlog_file;

typedef struct p2pq_io_obs {
  FILE *keylog;
  char *qlog_dir;
  p2pq_io_qlog_file *files;
  size_t n, cap;
  unsigned counter;
  int is_server;
} p2pq_io_obs;

/* keylog_file NULL: $SSLKEYLOGFILE if set; "": off. qlog_dir NULL: off (the
 * directory is created if missing). err says what failed. */
int p2pq_io_obs_init(p2pq_io_obs *o, const char *keylog_file, const char *qlog_dir,
                     int is_server, char *err, size_t errcap);
void p2pq_io_obs_clear(p2pq_io_obs *o);

/* The endpoint hooks (user = the p2pq_io_obs). */
void p2pq_io_obs_keylog(void *user, const char *line);
void p2pq_io_obs_qlog(void *user, p2pq_conn *c, const char *record, size_t len);

/* A connection starts (opens its qlog file) / ends (closes it). */
void p2pq_io_obs_conn_start(p2pq_io_obs *o, p2pq_conn *c);
void p2pq_io_obs_conn_end(p2pq_io_obs *o, p2pq_conn *c);
/* Called once every queued event was handed out: files opened by the hook for
 * connections the application never saw belong to connections the endpoint
 * dropped at once (unauthenticated Initials); close and remove them so that
 * junk cannot exhaust file descriptors. */
void p2pq_io_obs_sweep(p2pq_io_obs *o);

#endif
