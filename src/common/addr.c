#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "p2pq/error.h"
#include "p2pq/types.h"

void p2pq_addr_v4(p2pq_addr *a, const uint8_t ip[4], uint16_t port) {
  memset(a, 0, sizeof(*a));
  a->family = 4;
  a->port = port;
  memcpy(a->ip, ip, 4);
}

void p2pq_addr_v6(p2pq_addr *a, const uint8_t ip[16], uint16_t port) {
  memset(a, 0, sizeof(*a));
  a->family = 6;
  a->port = port;
  memcpy(a->ip, ip, 16);
}

size_t p2pq_addr_iplen(const p2pq_addr *a) {
  return a->family == 4 ? 4 : a->family == 6 ? 16 : 0;
}

static int parse_port(const char *s, uint16_t *port) {
  char *end;
  long v;
  if (*s == '\0')
    return P2PQ_ERR_MALFORMED;
  v = strtol(s, &end, 10);
  if (*end != '\0' || v < 0 || v > 65535)
    return P2PQ_ERR_MALFORMED;
  *port = (uint16_t)v;
  return 0;
}

int p2pq_addr_parse(p2pq_addr *a, const char *s, int default_port) {
  char host[64];
  const char *port_s = NULL;
  uint16_t port = 0;
  size_t n;
  memset(a, 0, sizeof(*a));
  if (s == NULL)
    return P2PQ_ERR_INVALID_ARG;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || (size_t)(close - s - 1) >= sizeof(host))
      return P2PQ_ERR_MALFORMED;
    n = (size_t)(close - s - 1);
    memcpy(host, s + 1, n);
    host[n] = '\0';
    if (close[1] == ':')
      port_s = close + 2;
    else if (close[1] != '\0')
      return P2PQ_ERR_MALFORMED;
  } else {
    const char *colon = strchr(s, ':');
    if (colon != NULL && strchr(colon + 1, ':') == NULL) {
      n = (size_t)(colon - s); /* IPv4 with port */
      port_s = colon + 1;
    } else {
      n = strlen(s); /* IPv4 or bare IPv6 without port */
    }
    if (n >= sizeof(host))
      return P2PQ_ERR_MALFORMED;
    memcpy(host, s, n);
    host[n] = '\0';
  }
  if (port_s != NULL) {
    if (parse_port(port_s, &port) != 0)
      return P2PQ_ERR_MALFORMED;
  } else if (default_port >= 0 && default_port <= 65535) {
    port = (uint16_t)default_port;
  } else {
    return P2PQ_ERR_MALFORMED;
  }
  if (inet_pton(AF_INET, host, a->ip) == 1) {
    a->family = 4;
  } else if (inet_pton(AF_INET6, host, a->ip) == 1) {
    a->family = 6;
  } else {
    memset(a, 0, sizeof(*a));
    return P2PQ_ERR_MALFORMED;
  }
  a->port = port;
  return 0;
}

char *p2pq_addr_format(const p2pq_addr *a, char *out, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  if (cap == 0)
    return out;
  if (a->family == 4) {
    inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
    snprintf(out, cap, "%s:%u", ip, a->port);
  } else if (a->family == 6) {
    inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
    snprintf(out, cap, "[%s]:%u", ip, a->port);
  } else {
    snprintf(out, cap, "(none)");
  }
  return out;
}

int p2pq_addr_equal_ip(const p2pq_addr *a, const p2pq_addr *b) {
  return a->family == b->family && memcmp(a->ip, b->ip, p2pq_addr_iplen(a)) == 0;
}

int p2pq_addr_equal(const p2pq_addr *a, const p2pq_addr *b) {
  return p2pq_addr_equal_ip(a, b) && a->port == b->port;
}

int p2pq_addr_from_sockaddr(p2pq_addr *a, const struct sockaddr *sa) {
  memset(a, 0, sizeof(*a));
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    a->family = 4;
    memcpy(a->ip, &in->sin_addr, 4);
    a->port = ntohs(in->sin_port);
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
    a->family = 6;
    memcpy(a->ip, &in6->sin6_addr, 16);
    a->port = ntohs(in6->sin6_port);
    return 0;
  }
  return P2PQ_ERR_UNSUPPORTED;
}

size_t p2pq_addr_to_sockaddr(const p2pq_addr *a, void *ss) {
  if (a->family == 4) {
    struct sockaddr_in *in = ss;
    memset(in, 0, sizeof(*in));
    in->sin_family = AF_INET;
    in->sin_port = htons(a->port);
    memcpy(&in->sin_addr, a->ip, 4);
    return sizeof(*in);
  }
  if (a->family == 6) {
    struct sockaddr_in6 *in6 = ss;
    memset(in6, 0, sizeof(*in6));
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a->port);
    memcpy(&in6->sin6_addr, a->ip, 16);
    return sizeof(*in6);
  }
  return 0;
}
