/* The simulation's only randomness: xoshiro256** seeded through splitmix64, so one
 * 64-bit seed fixes every loss, jitter, port choice and endpoint random byte. */
#include "sim_internal.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sim_rng_next(sim_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

uint64_t sim_rand(sim *s) { return sim_rng_next(sim_rng_of(s)); }

uint64_t sim_rand_below(sim *s, uint64_t n) {
  /* Reject the top partial range so every value is equally likely. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
  do
    x = sim_rand(s);
  while (x >= limit);
  return x % n;
}

double sim_rand_double(sim *s) { return (double)(sim_rand(s) >> 11) * 0x1.0p-53; }

void sim_rand_fill(void *sim_ptr, uint8_t *out, size_t len) {
  sim *s = sim_ptr;
  while (len) {
    uint64_t x = sim_rand(s);
    for (int i = 0; i < 8 && len; i++, len--, x >>= 8)
      *out++ = (uint8_t)x;
  }
}
