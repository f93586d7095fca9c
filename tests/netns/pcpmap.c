/* pcpmap: asks a PCP server (RFC 6887) for a UDP MAP, through the project's own
 * PCP codec (src/nat/pcp.c), so the lab checks that codec against miniupnpd.
 * Debian has no PCP command-line client.
 *
 *   pcpmap GATEWAY INTERNAL_PORT [LIFETIME]
 * Prints "pcp result=NAME external=IP:PORT lifetime=N"; exit 0 on SUCCESS.
 * Retries per RFC 6887 8.1.1 (but only 4 times, 250 ms doubling: bounded). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "nat/pcp.h"
#include "p2pq/error.h"
#include "p2pq/types.h"

/* A UDP socket connected to the gateway's PCP port; *local gets our address. */
static int pcp_socket(const p2pq_addr *gw, p2pq_addr *local) {
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  sl = (socklen_t)p2pq_addr_to_sockaddr(gw, &ss);
  if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
    goto fail;
  sl = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
      p2pq_addr_from_sockaddr(local, (struct sockaddr *)&ss) < 0)
    goto fail;
  return fd;
fail:
  close(fd);
  return -1;
}

/* Sends req until a response with our nonce comes; 0 and *resp, or -1. */
static int pcp_exchange(int fd, const p2pq_pcp_map_req *req, const uint8_t *msg, size_t len,
                        p2pq_pcp_resp *resp) {
  int wait_ms = 250;

  for (int attempt = 0; attempt < 4; attempt++, wait_ms *= 2) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (send(fd, msg, len, 0) != (ssize_t)len)
      return -1;
    while (poll(&pfd, 1, wait_ms) > 0) {
      uint8_t buf[P2PQ_PCP_MAX_LEN];
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n > 0 && p2pq_pcp_parse_response(buf, (size_t)n, resp) == 0 &&
          resp->opcode == P2PQ_PCP_OP_MAP && resp->has_map &&
          memcmp(resp->nonce, req->nonce, sizeof(req->nonce)) == 0)
        return 0;
    }
  }
  return -1;
}

int main(int argc, char **argv) {
  p2pq_pcp_map_req req;
  p2pq_pcp_resp resp;
  p2pq_addr gw;
  uint8_t msg[P2PQ_PCP_MAX_LEN];
  size_t len;
  long port, life = 120;
  int fd, rc;
  char b[P2PQ_ADDR_STRLEN];

  if (argc < 3 || argc > 4 || p2pq_addr_parse(&gw, argv[1], P2PQ_PCP_SERVER_PORT) < 0 ||
      gw.family != 4) {
    fprintf(stderr, "usage: pcpmap GATEWAY INTERNAL_PORT [LIFETIME]\n");
    return 2;
  }
  port = strtol(argv[2], NULL, 10);
  if (argc == 4)
    life = strtol(argv[3], NULL, 10);
  if (port <= 0 || port > 65535 || life < 0 || life > 86400)
    return 2;
  memset(&req, 0, sizeof(req));
  req.lifetime = (uint32_t)life;
  req.protocol = 17;
  req.internal_port = (uint16_t)port;
  if (getrandom(req.nonce, sizeof(req.nonce), 0) != (ssize_t)sizeof(req.nonce))
    return 1;
  if ((fd = pcp_socket(&gw, &req.client)) < 0) {
    perror("pcpmap: socket");
    return 1;
  }
  if ((rc = p2pq_pcp_build_map(&req, msg, sizeof(msg), &len)) < 0) {
    fprintf(stderr, "pcpmap: build: %s\n", p2pq_strerror(rc));
    close(fd);
    return 1;
  }
  rc = pcp_exchange(fd, &req, msg, len, &resp);
  close(fd);
  if (rc < 0) {
    printf("pcp no answer from %s\n", p2pq_addr_format(&gw, b, sizeof(b)));
    return 1;
  }
  printf("pcp result=%s external=%s lifetime=%u\n", p2pq_pcp_result_name(resp.result),
         p2pq_addr_format(&resp.external, b, sizeof(b)), (unsigned)resp.lifetime);
  return resp.result == P2PQ_PCP_SUCCESS ? 0 : 1;
}
