/* The per-row half of multi-adapter serving, as Punica's BGMV kernel does it: each row of a
 * batch takes its own adapter's LoRA factors and task head straight from the adapter arena, in
 * place, with no copy of the factors into a per-batch tensor. onnxruntime runs the base layer
 * (x·W1 + b1) for the whole batch; this module adds, for each row b with slot s = slots[b]:
 *
 *   h[b]   = relu(pre[b] + (scale·B)ᵀ[s] · (Aᵀ[s] · x[b]))
 *   out[b] = softmax(Hᵀ[s] · h[b] + c[s])
 *
 * with the arena's layouts (offchain/runner/executor/adapterArena.ts): Aᵀ [S,R,d],
 * (scale·B)ᵀ [S,k,R], Hᵀ [S,C,k], c [S,C], each slot padded to the arena's rank R and class
 * count C. The kernel reads only a slot's own rank and classes (the arena's per-slot counts),
 * not its padding: a rank-8, 2-class adapter in the runner's default arena (R = 16, C = 8)
 * costs half the reads of A and a quarter of those of its head. Padded classes get probability
 * 0, as in the gather graph.
 *
 * The loops use the vector types of GCC (12 or newer) and Clang; on x86-64 a second copy is
 * compiled for AVX2 and FMA and chosen at load time where the processor has them. Every argument
 * is checked (types, lengths, slot range) and a wrong one throws a TypeError or RangeError:
 * nothing is read out of bounds. */
#include <math.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LANES 8
typedef float vf __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(LANES * sizeof(float))));
#define INLINE static inline __attribute__((always_inline))

INLINE vf load(const float *p) {
  vf v;
  memcpy(&v, p, sizeof v); /* an unaligned load */
  return v;
}

INLINE void store(float *p, vf v) { memcpy(p, &v, sizeof v); }

/* max(v, 0) lane by lane: a comparison gives each lane all ones or all zeros. */
INLINE vf relu(vf v) {
  const vf zero = {0};
  return (vf)((vi)v & (v > zero));
}

INLINE float lane_sum(vf v) {
  float s = 0;
  for (int i = 0; i < LANES; i++) s += v[i];
  return s;
}

/* a·b over n floats, with four independent vector accumulators so that consecutive
 * multiply-adds do not wait on each other. */
INLINE float dot(const float *a, const float *b, size_t n) {
  vf acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
  size_t i = 0;
  for (; i + 4 * LANES <= n; i += 4 * LANES) {
    acc0 += load(a + i) * load(b + i);
    acc1 += load(a + i + LANES) * load(b + i + LANES);
    acc2 += load(a + i + 2 * LANES) * load(b + i + 2 * LANES);
    acc3 += load(a + i + 3 * LANES) * load(b + i + 3 * LANES);
  }
  for (; i + LANES <= n; i += LANES) acc0 += load(a + i) * load(b + i);
  float s = lane_sum((acc0 + acc1) + (acc2 + acc3));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

/* Pairwise sums of adjacent lanes of a then b, in AVX's hadd order:
 * [a0+a1, a2+a3, b0+b1, b2+b3, a4+a5, a6+a7, b4+b5, b6+b7]. */
INLINE vf pair_sums(vf a, vf b) {
  return __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14) +
         __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15);
}

/* out[j] = m[j]·v over the first `width` floats (a multiple of LANES) of LANES rows j of m,
 * `stride` floats apart, as one vector: each row's products are summed across lanes by a
 * transposing tree of pair sums, which costs far less than LANES separate horizontal sums. */
INLINE vf rows_dot(const float *m, size_t stride, const float *v, size_t width) {
  vf p[LANES];
  for (int t = 0; t < LANES; t++) {
    vf acc = {0};
    for (size_t q = 0; q < width; q += LANES) acc += load(m + t * stride + q) * load(v + q);
    p[t] = acc;
  }
  vf s0123 = pair_sums(pair_sums(p[0], p[1]), pair_sums(p[2], p[3]));
  vf s4567 = pair_sums(pair_sums(p[4], p[5]), pair_sums(p[6], p[7]));
  /* s0123 holds rows 0-3's sums of lanes 0-3 then of lanes 4-7; so does s4567 for rows 4-7. */
  return __builtin_shufflevector(s0123, s4567, 0, 1, 2, 3, 8, 9, 10, 11) +
         __builtin_shufflevector(s0123, s4567, 4, 5, 6, 7, 12, 13, 14, 15);
}

typedef struct {
  size_t rows, d, k, rank, classes;
  const float *pre, *features, *a_t, *scaled_b_t, *head_t, *head_bias;
  const uint16_t *slot_ranks, *slot_classes;
  const int32_t *slots;
  float *out;
  float *down, *hidden; /* scratch: rank and k floats */
} Batch;

/* h = relu(pre + (scale·B)ᵀ · down) over k units, where down holds the slot's `used` ranks
 * followed by zeros up to the arena's rank: a vector of units at a time, reading each unit's
 * row of (scale·B)ᵀ up to `used` rounded up to whole vectors, where the arena's rank allows. */
INLINE void adapted_hidden(const Batch *b, const float *pre, const float *b_t, size_t used, float *h) {
  const size_t R = b->rank, width = (used + LANES - 1) / LANES * LANES;
  size_t j = 0;
  if (R % LANES == 0) {
    for (; j + LANES <= b->k; j += LANES)
      store(h + j, relu(load(pre + j) + rows_dot(b_t + j * R, R, b->down, width)));
  }
  for (; j < b->k; j++) {
    float z = pre[j] + dot(b_t + j * R, b->down, used);
    h[j] = z > 0 ? z : 0;
  }
}

INLINE void softmax(float *p, size_t n) {
  if (n == 0) return;
  float max = p[0];
  for (size_t c = 1; c < n; c++) max = p[c] > max ? p[c] : max;
  float sum = 0;
  for (size_t c = 0; c < n; c++) sum += (p[c] = expf(p[c] - max));
  for (size_t c = 0; c < n; c++) p[c] /= sum;
}

/* down = Aᵀ·x over the rank's rows of Aᵀ (each d floats), four rows at a time: each vector of
 * x is loaded once for four multiply-adds, which also run independently of each other. */
INLINE void down_projection(const float *a_t, const float *x, size_t d, size_t rank, float *down) {
  size_t q = 0;
  for (; q + 4 <= rank; q += 4) {
    const float *a0 = a_t + q * d, *a1 = a0 + d, *a2 = a1 + d, *a3 = a2 + d;
    vf acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
    size_t i = 0;
    for (; i + LANES <= d; i += LANES) {
      const vf xv = load(x + i);
      acc0 += load(a0 + i) * xv;
      acc1 += load(a1 + i) * xv;
      acc2 += load(a2 + i) * xv;
      acc3 += load(a3 + i) * xv;
    }
    float s0 = lane_sum(acc0), s1 = lane_sum(acc1), s2 = lane_sum(acc2), s3 = lane_sum(acc3);
    for (; i < d; i++) s0 += a0[i] * x[i], s1 += a1[i] * x[i], s2 += a2[i] * x[i], s3 += a3[i] * x[i];
    down[q] = s0, down[q + 1] = s1, down[q + 2] = s2, down[q + 3] = s3;
  }
  for (; q < rank; q++) down[q] = dot(a_t + q * d, x, d);
}

INLINE void adapt_rows_body(const Batch *b) {
  const size_t d = b->d, k = b->k, R = b->rank, C = b->classes;
  for (size_t row = 0; row < b->rows; row++) {
    const size_t s = (size_t)b->slots[row], rank = b->slot_ranks[s], classes = b->slot_classes[s];
    down_projection(b->a_t + s * R * d, b->features + row * d, d, rank, b->down);
    /* The padded entries of (scale·B)ᵀ are zero, but 0·NaN is not: clear what an earlier row
     * or malloc left past this slot's rank, as adapted_hidden may read it. */
    memset(b->down + rank, 0, (R - rank) * sizeof(float));
    adapted_hidden(b, b->pre + row * k, b->scaled_b_t + s * k * R, rank, b->hidden);
    float *logits = b->out + row * C;
    const float *head_t = b->head_t + s * C * k;
    for (size_t c = 0; c < classes; c++) logits[c] = b->head_bias[s * C + c] + dot(head_t + c * k, b->hidden, k);
    softmax(logits, classes);
    memset(logits + classes, 0, (C - classes) * sizeof(float));
  }
}

static void adapt_rows_portable(const Batch *b) { adapt_rows_body(b); }

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void adapt_rows_avx2(const Batch *b) { adapt_rows_body(b); }

static void (*select_kernel(const char **name))(const Batch *) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    *name = "avx2+fma";
    return adapt_rows_avx2;
  }
  *name = "portable";
  return adapt_rows_portable;
}
#else
static void (*select_kernel(const char **name))(const Batch *) {
  *name = "portable";
  return adapt_rows_portable;
}
#endif

static void (*adapt_rows)(const Batch *);
static const char *kernel_name;

/* ---- N-API: argument checks and the exported function ---- */

static bool throw_type(napi_env env, const char *name, const char *what) {
  char message[128];
  snprintf(message, sizeof message, "%s must be %s", name, what);
  napi_throw_type_error(env, NULL, message);
  return false;
}

/* Reads a typed array of the given type and exact length (in elements). */
static bool get_array(napi_env env, napi_value value, const char *name, napi_typedarray_type want,
                      const char *type_name, size_t expected, void **data) {
  bool is_typed_array = false;
  napi_typedarray_type type;
  size_t length;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array ||
      napi_get_typedarray_info(env, value, &type, &length, data, NULL, NULL) != napi_ok || type != want)
    return throw_type(env, name, type_name);
  if (length != expected) {
    char message[160];
    snprintf(message, sizeof message, "%s must hold %zu values, got %zu", name, expected, length);
    napi_throw_range_error(env, NULL, message);
    return false;
  }
  return true;
}

static bool get_size(napi_env env, napi_value value, const char *name, size_t *out) {
  int64_t n;
  if (napi_get_value_int64(env, value, &n) != napi_ok || n <= 0 || n > (1 << 20))
    return throw_type(env, name, "a positive whole number of at most 2^20");
  *out = (size_t)n;
  return true;
}

/* The row's slot is in the arena, and its rank and class count within the arena's. */
static bool check_slot(napi_env env, const Batch *b, size_t row, size_t slots) {
  char message[160];
  const int32_t s = b->slots[row];
  if (s < 0 || (size_t)s >= slots)
    snprintf(message, sizeof message, "slot %d of row %zu is outside the arena's %zu slots", s, row, slots);
  else if (b->slot_ranks[s] > b->rank || b->slot_classes[s] > b->classes)
    snprintf(message, sizeof message, "slot %d claims rank %u and %u classes, over the arena's %zu and %zu", s,
             b->slot_ranks[s], b->slot_classes[s], b->rank, b->classes);
  else
    return true;
  napi_throw_range_error(env, NULL, message);
  return false;
}

static size_t typed_length(napi_env env, napi_value value) {
  bool is_typed_array = false;
  napi_typedarray_type type;
  size_t length = 0;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return 0;
  napi_get_typedarray_info(env, value, &type, &length, NULL, NULL, NULL);
  return length;
}

/* adaptRows(pre, features, slots, aT, scaledBT, headWeightT, headBias, slotRanks, slotClasses,
 * d, k, rank, classes, out): out. pre [n,k], features [n,d], slots Int32Array [n], the arena's
 * four arrays over S slots, its rank and class count per slot (Uint16Array [S], at most rank and
 * classes), out [n,classes]; S is read from headBias (S·classes values) and every length is
 * checked. */
static napi_value adapt_rows_js(napi_env env, napi_callback_info info) {
  napi_value args[14];
  size_t given = 14;
  if (napi_get_cb_info(env, info, &given, args, NULL, NULL) != napi_ok || given < 14) {
    napi_throw_type_error(env, NULL, "adaptRows takes 14 arguments");
    return NULL;
  }
  Batch b;
  if (!get_size(env, args[9], "d", &b.d) || !get_size(env, args[10], "k", &b.k) ||
      !get_size(env, args[11], "rank", &b.rank) || !get_size(env, args[12], "classes", &b.classes))
    return NULL;
  b.rows = typed_length(env, args[2]);
  const size_t slots = typed_length(env, args[6]) / b.classes;
  const napi_typedarray_type f32 = napi_float32_array;
  const char *floats = "a Float32Array";
  void *p[10];
  if (!get_array(env, args[2], "slots", napi_int32_array, "an Int32Array", b.rows, &p[0]) ||
      !get_array(env, args[0], "pre", f32, floats, b.rows * b.k, &p[1]) ||
      !get_array(env, args[1], "features", f32, floats, b.rows * b.d, &p[2]) ||
      !get_array(env, args[3], "aT", f32, floats, slots * b.rank * b.d, &p[3]) ||
      !get_array(env, args[4], "scaledBT", f32, floats, slots * b.k * b.rank, &p[4]) ||
      !get_array(env, args[5], "headWeightT", f32, floats, slots * b.classes * b.k, &p[5]) ||
      !get_array(env, args[6], "headBias", f32, floats, slots * b.classes, &p[6]) ||
      !get_array(env, args[7], "slotRanks", napi_uint16_array, "a Uint16Array", slots, &p[7]) ||
      !get_array(env, args[8], "slotClasses", napi_uint16_array, "a Uint16Array", slots, &p[8]) ||
      !get_array(env, args[13], "out", f32, floats, b.rows * b.classes, &p[9]))
    return NULL;
  b.slots = p[0];
  b.pre = p[1], b.features = p[2], b.a_t = p[3], b.scaled_b_t = p[4], b.head_t = p[5], b.head_bias = p[6];
  b.slot_ranks = p[7], b.slot_classes = p[8];
  b.out = p[9];
  for (size_t row = 0; row < b.rows; row++)
    if (!check_slot(env, &b, row, slots)) return NULL;
  float *scratch = malloc((b.rank + b.k) * sizeof(float));
  if (scratch == NULL) {
    napi_throw_error(env, NULL, "out of memory for the kernel's scratch");
    return NULL;
  }
  b.down = scratch, b.hidden = scratch + b.rank;
  adapt_rows(&b);
  free(scratch);
  return args[13];
}

static napi_value init(napi_env env, napi_value exports) {
  adapt_rows = select_kernel(&kernel_name);
  napi_value fn, name;
  if (napi_create_function(env, "adaptRows", NAPI_AUTO_LENGTH, adapt_rows_js, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "adaptRows", fn) != napi_ok ||
      napi_create_string_utf8(env, kernel_name, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_set_named_property(env, exports, "kernel", name) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
