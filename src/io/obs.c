/* Key log and per-connection qlog files. */
#include "io/obs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int p2pq_io_obs_init(p2pq_io_obs *o, const char *keylog_file, const char *qlog_dir,
                     int is_server, char *err, size_t errcap) {
  memset(o, 0, sizeof(*o));
  o->is_server = is_server;
  if (keylog_file == NULL)
    keylog_file = getenv("SSLKEYLOGFILE");
  if (keylog_file != NULL && keylog_file[0] != '\0') {
    o->keylog = fopen(keylog_file, "a");
    if (o->keylog == NULL) {
      snprintf(err, errcap, "cannot open key log file %s: %s (unset SSLKEYLOGFILE or fix it)",
               keylog_file, strerror(errno));
      return P2PQ_ERR_IO;
    }
  }
  if (qlog_dir != NULL) {
    struct stat st;
    if (mkdir(qlog_dir, 0755) != 0 && errno != EEXIST) {
      snprintf(err, errcap, "cannot create qlog directory %s: %s", qlog_dir, strerror(errno));
      p2pq_io_obs_clear(o);
      return P2PQ_ERR_IO;
    }
    if (stat(qlog_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      snprintf(err, errcap, "qlog path %s is not a directory", qlog_dir);
      p2pq_io_obs_clear(o);
      return P2PQ_ERR_IO;
    }
    o->qlog_dir = strdup(qlog_dir);
    if (o->qlog_dir == NULL) {
      p2pq_io_obs_clear(o);
      return P2PQ_ERR_NOMEM;
    }
  }
  return 0;
}

void p2pq_io_obs_clear(p2pq_io_obs *o) {
  size_t i;
  if (o->keylog != NULL)
    fclose(o->keylog);
  for (i = 0; i < o->n; i++) {
    fclose(o->files[i].f);
    free(o->files[i].path);
  }
  free(o->files);
  free(o->qlog_dir);
  memset(o, 0, sizeof(*o));
}

void p2pq_io_obs_keylog(void *user, const char *line) {
  p2pq_io_obs *o = user;
  if (o->keylog == NULL)
    return;
  fputs(line, o->keylog);
  fputc('\n', o->keylog);
  fflush(o->keylog); /* readers (Wireshark) follow the file live */
}

static p2pq_io_qlog_file *find(p2pq_io_obs *o, const p2pq_conn *c) {
  for (size_t i = 0; i < o->n; i++)
    if (o->files[i].conn == c)
      return &o->files[i];
  return NULL;
}

static void open_file(p2pq_io_obs *o, p2pq_conn *c, int confirmed) {
  char path[4096];
  FILE *f;
  const char *role = o->is_server ? "server" : "client";
  if (o->n == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 8;
    p2pq_io_qlog_file *nf = realloc(o->files, cap * sizeof(*nf));
    if (nf == NULL)
      return;
    o->files = nf;
    o->cap = cap;
  }
  snprintf(path, sizeof(path), "%s/%s-%ld-%u.sqlog", o->qlog_dir, role, (long)getpid(),
           o->counter++);
  f = fopen(path, "w");
  if (f == NULL) {
    fprintf(stderr, "p2pquic: cannot write qlog file %s: %s\n", path, strerror(errno));
    return;
  }
  setvbuf(f, NULL, _IOFBF, 1 << 16);
  /* the endpoint writes the JSON-SEQ header record itself, first */
  o->files[o->n].conn = c;
  o->files[o->n].f = f;
  o->files[o->n].confirmed = confirmed;
  o->files[o->n].path = strdup(path);
  o->n++;
}

void p2pq_io_obs_conn_start(p2pq_io_obs *o, p2pq_conn *c) {
  p2pq_io_qlog_file *q;
  if (o->qlog_dir == NULL)
    return;
  if ((q = find(o, c)) != NULL)
    q->confirmed = 1;
  else
    open_file(o, c, 1);
}

static void drop(p2pq_io_obs *o, p2pq_io_qlog_file *q, int remove) {
  fclose(q->f);
  if (remove && q->path != NULL)
    unlink(q->path);
  free(q->path);
  *q = o->files[--o->n];
}

void p2pq_io_obs_conn_end(p2pq_io_obs *o, p2pq_conn *c) {
  p2pq_io_qlog_file *q = find(o, c);
  if (q != NULL)
    drop(o, q, 0);
}

void p2pq_io_obs_sweep(p2pq_io_obs *o) {
  size_t i = 0;
  while (i < o->n) {
    if (!o->files[i].confirmed)
      drop(o, &o->files[i], 1);
    else
      i++;
  }
}

void p2pq_io_obs_qlog(void *user, p2pq_conn *c, const char *record, size_t len) {
  p2pq_io_obs *o = user;
  p2pq_io_qlog_file *q;
  if (o->qlog_dir == NULL)
    return;
  if ((q = find(o, c)) == NULL) {
    open_file(o, c, 0);
    if ((q = find(o, c)) == NULL)
      return;
  }
  fwrite(record, 1, len, q->f);
}
