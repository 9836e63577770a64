#ifndef OPENLORA_KECCAK_H
#define OPENLORA_KECCAK_H

#include <stddef.h>
#include <stdint.h>

/* keccak256 as Ethereum uses it: Keccak-f[1600], rate 136 bytes, the original 0x01 padding
 * (not SHA3-256's 0x06), 32 bytes out. */
void keccak256(const uint8_t *input, size_t length, uint8_t out[32]);

#endif
