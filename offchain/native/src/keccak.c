/* keccak256 over the Keccak-f[1600] permutation, written from the Keccak reference
 * (FIPS 202, section 3) in its usual lane-by-lane form. Little-endian hosts only: the state's
 * lanes are read and written as bytes in memory order. */
#include "keccak.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "keccak.c assumes a little-endian host"
#endif

#define RATE 136
#define ROUNDS 24
/* Unrolled, the table lookups and rotation counts become constants: about 4x faster. */
#define UNROLL_5 _Pragma("GCC unroll 5")
#define UNROLL_24 _Pragma("GCC unroll 24")
#define ROTL64(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

/* Round constants of the iota step. */
static const uint64_t ROUND_CONSTANTS[ROUNDS] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* rho and pi together: walking the lanes in pi's order, each is rotated by the next offset. */
static const int RHO_OFFSETS[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                    27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
static const int PI_LANES[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                 15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

static void keccak_f1600(uint64_t state[25]) {
  uint64_t column[5];
  for (int round = 0; round < ROUNDS; round++) {
    /* theta: each lane absorbs the parity of two neighbouring columns */
    UNROLL_5
    for (int x = 0; x < 5; x++)
      column[x] = state[x] ^ state[x + 5] ^ state[x + 10] ^ state[x + 15] ^ state[x + 20];
    UNROLL_5
    for (int x = 0; x < 5; x++) {
      uint64_t d = column[(x + 4) % 5] ^ ROTL64(column[(x + 1) % 5], 1);
      for (int y = 0; y < 25; y += 5) state[y + x] ^= d;
    }
    /* rho and pi */
    uint64_t carried = state[1];
    UNROLL_24
    for (int i = 0; i < 24; i++) {
      int lane = PI_LANES[i];
      uint64_t next = state[lane];
      state[lane] = ROTL64(carried, RHO_OFFSETS[i]);
      carried = next;
    }
    /* chi: the only non-linear step, row by row */
    UNROLL_5
    for (int y = 0; y < 25; y += 5) {
      for (int x = 0; x < 5; x++) column[x] = state[y + x];
      for (int x = 0; x < 5; x++) state[y + x] ^= (~column[(x + 1) % 5]) & column[(x + 2) % 5];
    }
    /* iota */
    state[0] ^= ROUND_CONSTANTS[round];
  }
}

static void absorb_block(uint64_t state[25], const uint8_t *block, size_t length) {
  uint8_t *bytes = (uint8_t *)state;
  for (size_t i = 0; i < length; i++) bytes[i] ^= block[i];
}

void keccak256(const uint8_t *input, size_t length, uint8_t out[32]) {
  uint64_t state[25];
  memset(state, 0, sizeof state);
  while (length >= RATE) {
    absorb_block(state, input, RATE);
    keccak_f1600(state);
    input += RATE;
    length -= RATE;
  }
  absorb_block(state, input, length);
  uint8_t *bytes = (uint8_t *)state;
  bytes[length] ^= 0x01;   /* Keccak's padding: a 1 bit after the message ... */
  bytes[RATE - 1] ^= 0x80; /* ... and a 1 bit at the end of the block */
  keccak_f1600(state);
  memcpy(out, state, 32);
}
