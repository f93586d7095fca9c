/* p2pquic keygen: a new Ed25519 key and its fingerprint. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "crypto/cert.h"

static int write_key(const char *path, const char *pem, size_t len, int force) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), 0600);
  size_t off = 0;
  if (fd < 0) {
    if (errno == EEXIST)
      p2pq_cli_err("%s already exists; pass --force to overwrite it", path);
    else
      p2pq_cli_err("cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  while (off < len) {
    ssize_t n = write(fd, pem + off, len - off);
    if (n < 0) {
      p2pq_cli_err("cannot write %s: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    off += (size_t)n;
  }
  if (close(fd) != 0) {
    p2pq_cli_err("cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

int p2pq_cli_keygen(int argc, char **argv) {
  static const struct option opts[] = {
      {"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  const char *out = NULL;
  char *pem = NULL, fps[P2PQ_FINGERPRINT_STRLEN];
  size_t len = 0;
  uint8_t fp[32];
  int c, force = 0, rv;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:fh", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'f': force = 1; break;
    case 'h': p2pq_cli_usage("keygen"); return P2PQ_CLI_OK;
    default: return p2pq_cli_usage_err("keygen", "bad option for keygen");
    }
  }
  if (optind < argc)
    return p2pq_cli_usage_err("keygen", "unexpected argument '%s'", argv[optind]);
  if (out == NULL)
    return p2pq_cli_usage_err("keygen", "keygen needs -o FILE (where to write the key)");
  if ((rv = p2pq_key_generate_ed25519(&pem, &len)) != 0 ||
      (rv = p2pq_fingerprint_from_key_pem(pem, len, fp)) != 0) {
    p2pq_cli_err("cannot make a key: %s", p2pq_strerror(rv));
    free(pem);
    return P2PQ_CLI_FAIL;
  }
  rv = write_key(out, pem, len, force);
  free(pem);
  if (rv != 0)
    return P2PQ_CLI_FAIL;
  p2pq_fingerprint_format(fp, fps);
  printf("%s\n", fps);
  return P2PQ_CLI_OK;
}
