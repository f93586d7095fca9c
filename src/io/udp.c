/* UDP sockets: options, recvmmsg with GRO/PKTINFO/TOS, sendmmsg with GSO. */
#include "io/udp.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p2pq/error.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

static void set_int(int fd, int level, int opt, int v) {
  (void)setsockopt(fd, level, opt, &v, sizeof(v));
}

/* Asks for want bytes; past net.core.[rw]mem_max only the FORCE variant
 * (CAP_NET_ADMIN) helps, so try it when the plain one was capped. The kernel
 * reports twice what it granted (it counts its own overhead). */
static void size_buffer(int fd, int opt, int force_opt, size_t want) {
  int v = want > (size_t)(1 << 29) ? (1 << 29) : (int)want, got = 0;
  socklen_t gl = sizeof(got);
  set_int(fd, SOL_SOCKET, opt, v);
  if (getsockopt(fd, SOL_SOCKET, opt, &got, &gl) == 0 && got / 2 < v)
    set_int(fd, SOL_SOCKET, force_opt, v);
}

static void set_rx_options(p2pq_udp_sock *s, int no_gro) {
  if (s->bound.family == 4) {
    set_int(s->fd, IPPROTO_IP, IP_PKTINFO, 1);
    set_int(s->fd, IPPROTO_IP, IP_RECVTOS, 1);
    set_int(s->fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
  } else {
    set_int(s->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
    set_int(s->fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
    set_int(s->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE);
  }
  if (!no_gro) {
    int one = 1;
    s->gro = setsockopt(s->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  }
}

static int detect_gso(int fd) {
  int v = 0;
  socklen_t l = sizeof(v);
  return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &l) == 0;
}

static int is_any(const p2pq_addr *a) {
  static const uint8_t zero[16];
  return memcmp(a->ip, zero, p2pq_addr_iplen(a)) == 0;
}

int p2pq_udp_open(p2pq_udp_sock *s, const p2pq_addr *bind_to, size_t sock_buf, int no_gso,
                  int no_gro, char *err, size_t errcap) {
  struct sockaddr_storage ss;
  socklen_t sl;
  char as[P2PQ_ADDR_STRLEN];
  memset(s, 0, sizeof(*s));
  s->fd = -1;
  if (bind_to->family != 4 && bind_to->family != 6) {
    snprintf(err, errcap, "cannot bind: no address family given");
    return P2PQ_ERR_CONFIG;
  }
  p2pq_addr_format(bind_to, as, sizeof(as));
  s->fd = socket(bind_to->family == 4 ? AF_INET : AF_INET6,
                 SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    snprintf(err, errcap, "cannot open a UDP socket for %s: %s", as, strerror(errno));
    return P2PQ_ERR_IO;
  }
  if (bind_to->family == 6) {
    set_int(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    s->v6only = 1;
  }
  sl = (socklen_t)p2pq_addr_to_sockaddr(bind_to, &ss);
  if (bind(s->fd, (struct sockaddr *)&ss, sl) != 0) {
    snprintf(err, errcap, "cannot bind %s: %s", as, strerror(errno));
    close(s->fd);
    s->fd = -1;
    return P2PQ_ERR_IO;
  }
  sl = sizeof(ss);
  getsockname(s->fd, (struct sockaddr *)&ss, &sl);
  p2pq_addr_from_sockaddr(&s->bound, (struct sockaddr *)&ss);
  s->wildcard = is_any(&s->bound);
  size_buffer(s->fd, SO_RCVBUF, SO_RCVBUFFORCE, sock_buf);
  size_buffer(s->fd, SO_SNDBUF, SO_SNDBUFFORCE, sock_buf);
  set_rx_options(s, no_gro);
  s->gso = !no_gso && detect_gso(s->fd);
  return 0;
}

void p2pq_udp_recverr(p2pq_udp_sock *s) {
  if (s->bound.family == 4)
    set_int(s->fd, IPPROTO_IP, IP_RECVERR, 1);
  else
    set_int(s->fd, IPPROTO_IPV6, IPV6_RECVERR, 1);
}

int p2pq_udp_read_error(const p2pq_udp_sock *s, p2pq_addr *dst, int *err) {
  _Alignas(8) uint8_t ctrl[512];
  struct sockaddr_storage name;
  struct msghdr h;
  struct cmsghdr *cm;
  uint8_t body[64];
  struct iovec iov = {body, sizeof(body)};
  memset(&h, 0, sizeof(h));
  h.msg_name = &name;
  h.msg_namelen = sizeof(name);
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = ctrl;
  h.msg_controllen = sizeof(ctrl);
  if (recvmsg(s->fd, &h, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
    return 0;
  *err = 0;
  p2pq_addr_from_sockaddr(dst, (struct sockaddr *)&name);
  for (cm = CMSG_FIRSTHDR(&h); cm != NULL; cm = CMSG_NXTHDR(&h, cm)) {
    struct sock_extended_err ee;
    if (!((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) ||
          (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR)))
      continue;
    memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
    if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6)
      *err = (int)ee.ee_errno;
  }
  return 1;
}

void p2pq_udp_close(p2pq_udp_sock *s) {
  if (s->fd >= 0)
    close(s->fd);
  s->fd = -1;
}

/* ---- receive ---- */

int p2pq_udp_rxbatch_init(p2pq_udp_rxbatch *b, size_t buf_size) {
  memset(b, 0, sizeof(*b));
  b->bufs = malloc(buf_size * P2PQ_UDP_BATCH);
  if (b->bufs == NULL)
    return P2PQ_ERR_NOMEM;
  b->buf_size = buf_size;
  return 0;
}

void p2pq_udp_rxbatch_clear(p2pq_udp_rxbatch *b) {
  free(b->bufs);
  b->bufs = NULL;
}

int p2pq_udp_recv(const p2pq_udp_sock *s, p2pq_udp_rxbatch *b) {
  int i, n;
  for (i = 0; i < P2PQ_UDP_BATCH; i++) {
    struct msghdr *h = &b->msgs[i].msg_hdr;
    b->iov[i].iov_base = b->bufs + (size_t)i * b->buf_size;
    b->iov[i].iov_len = b->buf_size;
    h->msg_name = &b->names[i];
    h->msg_namelen = sizeof(b->names[i]);
    h->msg_iov = &b->iov[i];
    h->msg_iovlen = 1;
    h->msg_control = b->ctrl[i];
    h->msg_controllen = P2PQ_UDP_CTRL;
    h->msg_flags = 0;
  }
  do {
    n = recvmmsg(s->fd, b->msgs, P2PQ_UDP_BATCH, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED) ? 0
                                                                               : P2PQ_ERR_IO;
  return n;
}

void p2pq_udp_rx_get(const p2pq_udp_sock *s, const p2pq_udp_rxbatch *b, int i,
                     p2pq_udp_rx *out) {
  const struct msghdr *h = &b->msgs[i].msg_hdr;
  struct cmsghdr *cm;
  memset(out, 0, sizeof(*out));
  out->data = b->bufs + (size_t)i * b->buf_size;
  out->len = b->msgs[i].msg_len;
  out->segment = out->len;
  if (h->msg_flags & MSG_TRUNC)
    out->len = 0; /* a cut datagram is useless: the caller drops len 0 */
  p2pq_addr_from_sockaddr(&out->remote, (const struct sockaddr *)&b->names[i]);
  out->local = s->bound;
  for (cm = CMSG_FIRSTHDR(h); cm != NULL; cm = CMSG_NXTHDR((struct msghdr *)h, cm)) {
    if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
      memcpy(out->local.ip, &pi.ipi_addr, 4);
    } else if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TOS) {
      out->ecn = *(const uint8_t *)CMSG_DATA(cm) & 3;
    } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
      memcpy(out->local.ip, &pi.ipi6_addr, 16);
    } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_TCLASS) {
      int tc;
      memcpy(&tc, CMSG_DATA(cm), sizeof(tc));
      out->ecn = tc & 3;
    } else if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
      int seg;
      memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
      if (seg > 0 && (size_t)seg < out->segment)
        out->segment = (size_t)seg;
    }
  }
}

/* ---- send ---- */

int p2pq_udp_txbatch_init(p2pq_udp_txbatch *b, size_t slot_size) {
  memset(b, 0, sizeof(*b));
  b->bufs = malloc(slot_size * P2PQ_UDP_BATCH);
  if (b->bufs == NULL)
    return P2PQ_ERR_NOMEM;
  b->slot_size = slot_size;
  return 0;
}

void p2pq_udp_txbatch_clear(p2pq_udp_txbatch *b) {
  free(b->bufs);
  b->bufs = NULL;
}

uint8_t *p2pq_udp_tx_slot(p2pq_udp_txbatch *b) {
  if (b->n >= P2PQ_UDP_BATCH)
    return NULL;
  return b->bufs + (size_t)b->n * b->slot_size;
}

static size_t put_cmsg(uint8_t *ctrl, size_t off, int level, int type, const void *data,
                       size_t len) {
  struct cmsghdr *cm = (struct cmsghdr *)(void *)(ctrl + off);
  memset(cm, 0, CMSG_SPACE(len));
  cm->cmsg_level = level;
  cm->cmsg_type = type;
  cm->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(cm), data, len);
  return off + CMSG_SPACE(len);
}

void p2pq_udp_tx_commit(p2pq_udp_txbatch *b, p2pq_udp_sock *s, size_t len, size_t segment,
                        const p2pq_addr *local, const p2pq_addr *remote, int ecn) {
  int i = b->n;
  struct msghdr *h = &b->msgs[i].msg_hdr;
  uint8_t *ctrl = b->ctrl[i];
  size_t off = 0;
  b->sock = s;
  memset(h, 0, sizeof(*h));
  b->iov[i].iov_base = b->bufs + (size_t)i * b->slot_size;
  b->iov[i].iov_len = len;
  h->msg_name = &b->names[i];
  h->msg_namelen = (socklen_t)p2pq_addr_to_sockaddr(remote, &b->names[i]);
  h->msg_iov = &b->iov[i];
  h->msg_iovlen = 1;
  if (s->wildcard && local != NULL && local->family == s->bound.family && !is_any(local)) {
    if (local->family == 4) {
      struct in_pktinfo pi;
      memset(&pi, 0, sizeof(pi));
      memcpy(&pi.ipi_spec_dst, local->ip, 4);
      off = put_cmsg(ctrl, off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
    } else {
      struct in6_pktinfo pi;
      memset(&pi, 0, sizeof(pi));
      memcpy(&pi.ipi6_addr, local->ip, 16);
      off = put_cmsg(ctrl, off, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
    }
  }
  if (ecn != 0) {
    int v = ecn & 3;
    off = s->bound.family == 4 ? put_cmsg(ctrl, off, IPPROTO_IP, IP_TOS, &v, sizeof(v))
                               : put_cmsg(ctrl, off, IPPROTO_IPV6, IPV6_TCLASS, &v, sizeof(v));
  }
  b->gso_cmsg[i] = 0;
  b->seg[i] = len;
  if (segment > 0 && segment < len) {
    uint16_t g = (uint16_t)segment;
    size_t before = off;
    off = put_cmsg(ctrl, off, SOL_UDP, UDP_SEGMENT, &g, sizeof(g));
    b->gso_cmsg[i] = off - before;
    b->seg[i] = segment;
  }
  h->msg_control = off ? ctrl : NULL;
  h->msg_controllen = off;
  b->n++;
}

/* GSO refused (old kernel, device without checksum offload): send the
 * segments of message i one by one and stop using GSO on this socket. */
static void send_split(p2pq_udp_txbatch *b, p2pq_udp_sock *s, int i) {
  struct msghdr h = b->msgs[i].msg_hdr;
  struct iovec iov;
  uint8_t *p = b->iov[i].iov_base;
  size_t left = b->iov[i].iov_len, seg = b->seg[i];
  s->gso = 0;
  h.msg_controllen -= b->gso_cmsg[i];
  if (h.msg_controllen == 0)
    h.msg_control = NULL;
  h.msg_iov = &iov;
  while (left > 0) {
    size_t l = left < seg ? left : seg;
    iov.iov_base = p;
    iov.iov_len = l;
    b->syscalls++;
    if (sendmsg(s->fd, &h, 0) < 0) {
      b->errors++;
      return; /* the rest counts as lost */
    }
    b->datagrams++;
    p += l;
    left -= l;
  }
}

static uint64_t count_dgrams(const p2pq_udp_txbatch *b, int from, int to) {
  uint64_t n = 0;
  for (int i = from; i < to; i++)
    n += (b->iov[i].iov_len + b->seg[i] - 1) / b->seg[i];
  return n;
}

int p2pq_udp_flush(p2pq_udp_txbatch *b) {
  p2pq_udp_sock *s = b->sock;
  while (b->sent < b->n) {
    int r = sendmmsg(s->fd, b->msgs + b->sent, (unsigned)(b->n - b->sent), 0);
    b->syscalls++;
    if (r > 0) {
      b->datagrams += count_dgrams(b, b->sent, b->sent + r);
      b->sent += r;
      continue;
    }
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      b->eagain++;
      return P2PQ_ERR_AGAIN;
    }
    if (b->gso_cmsg[b->sent] != 0 && (errno == EIO || errno == EINVAL || errno == EMSGSIZE ||
                                       errno == EOPNOTSUPP))
      send_split(b, s, b->sent);
    else
      b->errors++; /* unreachable, refused, ...: the datagram is lost */
    b->sent++;
  }
  b->n = b->sent = 0;
  return 0;
}
