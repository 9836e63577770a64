/* The runner's signature hot path in one native module: keccak256 (and a Merkle level of it),
 * and secp256k1 recovery and signing on the system's libsecp256k1 (0.2 or newer), faster than
 * the 2019 copy inside the secp256k1 npm package (`npm run bench:payments` times both). Each
 * call crosses into C once, where the npm keccak binding takes four crossings per hash.
 *
 * Arguments are checked here and a wrong type or length throws a TypeError; a signature that
 * does not recover returns null, so that the caller can say why in its own terms. */
#include <node_api.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "keccak.h"

#define CHECK_NAPI(env, call)                                     \
  do {                                                            \
    if ((call) != napi_ok) {                                      \
      napi_throw_error((env), NULL, "N-API call failed: " #call); \
      return NULL;                                                \
    }                                                             \
  } while (0)

/* Reads `value` as a Uint8Array; `expected` 0 takes any length. Throws and returns
 * false otherwise. */
static bool get_bytes(napi_env env, napi_value value, const char *name, size_t expected,
                      const uint8_t **data, size_t *length) {
  bool is_typed_array = false;
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array ||
      napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a Uint8Array", name);
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  if (expected != 0 && *length != expected) {
    char message[96];
    snprintf(message, sizeof message, "%s must be %zu bytes, got %zu", name, expected, *length);
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  *data = raw ? (const uint8_t *)raw : (const uint8_t *)"";
  return true;
}

/* The call's first `count` arguments and the module's context; throws and returns false if
 * fewer were given. */
static bool get_args(napi_env env, napi_callback_info info, size_t count, napi_value *args,
                     secp256k1_context **context) {
  size_t given = count;
  if (napi_get_cb_info(env, info, &given, args, NULL, (void **)context) != napi_ok) {
    napi_throw_error(env, NULL, "could not read the call's arguments");
    return false;
  }
  if (given < count) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return false;
  }
  return true;
}

/* keccak256(bytes: Uint8Array, out: Uint8Array of 32): out. The caller's buffer: creating a
 * Buffer here would cost several times the hash of a short message. */
static napi_value keccak256_js(napi_env env, napi_callback_info info) {
  napi_value args[2];
  secp256k1_context *context;
  const uint8_t *input, *out;
  size_t length, out_length;
  if (!get_args(env, info, 2, args, &context)) return NULL;
  if (!get_bytes(env, args[0], "bytes", 0, &input, &length)) return NULL;
  if (!get_bytes(env, args[1], "out", 32, &out, &out_length)) return NULL;
  keccak256(input, length, (uint8_t *)out);
  return args[1];
}

/* hashSortedPairs(nodes: Uint8Array of 64·n bytes, out: Uint8Array of 32·n): out. One level of
 * a Merkle tree as OpenZeppelin's MerkleProof checks it: each parent is keccak256 of its two
 * 32-byte children, the smaller first. A whole level in one call: a call per pair would cost
 * more in crossings than in hashing. */
static napi_value hash_sorted_pairs_js(napi_env env, napi_callback_info info) {
  napi_value args[2];
  secp256k1_context *context;
  const uint8_t *nodes, *out;
  size_t length, out_length;
  if (!get_args(env, info, 2, args, &context)) return NULL;
  if (!get_bytes(env, args[0], "nodes", 0, &nodes, &length)) return NULL;
  if (!get_bytes(env, args[1], "out", 0, &out, &out_length)) return NULL;
  if (length % 64 != 0 || out_length != length / 2) {
    napi_throw_type_error(env, NULL, "nodes must be whole pairs of 32-byte nodes, and out half as long");
    return NULL;
  }
  uint8_t pair[64];
  for (size_t at = 0; at < length; at += 64) {
    const uint8_t *left = nodes + at, *right = nodes + at + 32;
    bool ordered = memcmp(left, right, 32) <= 0;
    memcpy(pair, ordered ? left : right, 32);
    memcpy(pair + 32, ordered ? right : left, 32);
    keccak256(pair, sizeof pair, (uint8_t *)out + at / 2);
  }
  return args[1];
}

/* ecdsaRecoverAddress(digest: 32 bytes, signature: r ‖ s, 64 bytes, recid: 0 to 3): Buffer (the
 * 20-byte address: the last 20 bytes of keccak256 of the uncompressed public key), or null
 * when the signature does not recover to a key. */
static napi_value ecdsa_recover_address_js(napi_env env, napi_callback_info info) {
  napi_value args[3], result;
  secp256k1_context *context;
  const uint8_t *digest, *compact;
  size_t length;
  int32_t recid;
  if (!get_args(env, info, 3, args, &context)) return NULL;
  if (!get_bytes(env, args[0], "digest", 32, &digest, &length)) return NULL;
  if (!get_bytes(env, args[1], "signature", 64, &compact, &length)) return NULL;
  if (napi_get_value_int32(env, args[2], &recid) != napi_ok || recid < 0 || recid > 3) {
    napi_throw_type_error(env, NULL, "recid must be an integer from 0 to 3");
    return NULL;
  }
  secp256k1_ecdsa_recoverable_signature signature;
  secp256k1_pubkey public_key;
  uint8_t serialized[65], hash[32];
  size_t serialized_length = sizeof serialized;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(context, &signature, compact, recid) ||
      !secp256k1_ecdsa_recover(context, &public_key, &signature, digest)) {
    CHECK_NAPI(env, napi_get_null(env, &result));
    return result;
  }
  secp256k1_ec_pubkey_serialize(context, serialized, &serialized_length, &public_key,
                                SECP256K1_EC_UNCOMPRESSED);
  keccak256(serialized + 1, 64, hash); /* without the 0x04 prefix */
  CHECK_NAPI(env, napi_create_buffer_copy(env, 20, hash + 12, NULL, &result));
  return result;
}

/* ecdsaSign(digest: 32 bytes, privateKey: 32 bytes): Buffer (r ‖ s ‖ recid, 65 bytes). The
 * nonce is RFC 6979's, so a signature is a function of key and digest; s is always low. */
static napi_value ecdsa_sign_js(napi_env env, napi_callback_info info) {
  napi_value args[2], result;
  secp256k1_context *context;
  const uint8_t *digest, *private_key;
  size_t length;
  if (!get_args(env, info, 2, args, &context)) return NULL;
  if (!get_bytes(env, args[0], "digest", 32, &digest, &length)) return NULL;
  if (!get_bytes(env, args[1], "privateKey", 32, &private_key, &length)) return NULL;
  secp256k1_ecdsa_recoverable_signature signature;
  if (!secp256k1_ecdsa_sign_recoverable(context, &signature, digest, private_key, NULL, NULL)) {
    napi_throw_error(env, NULL, "privateKey is not a valid secp256k1 secret key");
    return NULL;
  }
  uint8_t *out;
  int recid;
  CHECK_NAPI(env, napi_create_buffer(env, 65, (void **)&out, &result));
  secp256k1_ecdsa_recoverable_signature_serialize_compact(context, out, &recid, &signature);
  out[64] = (uint8_t)recid;
  return result;
}

static void destroy_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  secp256k1_context_destroy((secp256k1_context *)data);
}

/* One context per Node environment (the main thread and each worker load the module anew),
 * randomized against side channels when signing. */
static napi_value init(napi_env env, napi_value exports) {
  secp256k1_context *context = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
  uint8_t seed[32];
  /* Randomization only blinds signing; a context without it is still correct. */
  if (getrandom(seed, sizeof seed, 0) == sizeof seed && !secp256k1_context_randomize(context, seed))
    napi_throw_error(env, NULL, "could not randomize the secp256k1 context");
  CHECK_NAPI(env, napi_set_instance_data(env, context, destroy_context, NULL));
  napi_property_descriptor properties[] = {
      {"keccak256", NULL, keccak256_js, NULL, NULL, NULL, napi_enumerable, context},
      {"ecdsaRecoverAddress", NULL, ecdsa_recover_address_js, NULL, NULL, NULL, napi_enumerable, context},
      {"ecdsaSign", NULL, ecdsa_sign_js, NULL, NULL, NULL, napi_enumerable, context},
      {"hashSortedPairs", NULL, hash_sorted_pairs_js, NULL, NULL, NULL, napi_enumerable, context},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
