#include "quic/ackrange.h"

#include <string.h>

void p2pq_ackrange_init(p2pq_ackrange *a) { memset(a, 0, sizeof(*a)); }

int p2pq_ackrange_contains(const p2pq_ackrange *a, uint64_t pn) {
  size_t i;
  if (pn < a->floor)
    return 1;
  for (i = 0; i < a->n; i++) {
    if (pn > a->largest[i])
      return 0;
    if (pn >= a->smallest[i])
      return 1;
  }
  return 0;
}

static void remove_at(p2pq_ackrange *a, size_t i) {
  memmove(&a->smallest[i], &a->smallest[i + 1], (a->n - i - 1) * sizeof(uint64_t));
  memmove(&a->largest[i], &a->largest[i + 1], (a->n - i - 1) * sizeof(uint64_t));
  a->n--;
}

static void insert_at(p2pq_ackrange *a, size_t i, uint64_t pn) {
  if (a->n == P2PQ_ACKRANGE_MAX) {
    /* forget the oldest interval; later packets below it count as duplicates */
    a->floor = a->largest[a->n - 1] + 1;
    a->n--;
    if (i > a->n)
      return;
  }
  memmove(&a->smallest[i + 1], &a->smallest[i], (a->n - i) * sizeof(uint64_t));
  memmove(&a->largest[i + 1], &a->largest[i], (a->n - i) * sizeof(uint64_t));
  a->smallest[i] = a->largest[i] = pn;
  a->n++;
}

int p2pq_ackrange_add(p2pq_ackrange *a, uint64_t pn) {
  size_t i;
  if (pn < a->floor)
    return 1;
  /* the common case, in-order arrival, touches only interval 0 */
  for (i = 0; i < a->n; i++) {
    if (pn > a->largest[i]) {
      if (pn == a->largest[i] + 1) {
        a->largest[i] = pn;
        if (i > 0 && a->smallest[i - 1] == pn + 1) {
          a->largest[i] = a->largest[i - 1];
          remove_at(a, i - 1);
        }
      } else if (i > 0 && a->smallest[i - 1] == pn + 1) {
        a->smallest[i - 1] = pn;
      } else {
        insert_at(a, i, pn);
      }
      return 0;
    }
    if (pn >= a->smallest[i])
      return 1;
  }
  /* below every interval */
  if (a->n > 0 && a->smallest[a->n - 1] == pn + 1) {
    a->smallest[a->n - 1] = pn;
    return 0;
  }
  if (a->n < P2PQ_ACKRANGE_MAX)
    insert_at(a, a->n, pn);
  else
    return 1;
  return 0;
}

void p2pq_ackrange_drop_below(p2pq_ackrange *a, uint64_t pn) {
  while (a->n > 0 && a->largest[a->n - 1] < pn)
    a->n--;
  if (a->n > 0 && a->smallest[a->n - 1] < pn)
    a->smallest[a->n - 1] = pn;
  if (pn > a->floor)
    a->floor = pn;
}
