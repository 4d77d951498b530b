// 8-bit products for inference (EarshotKernels.h, "8-bit products"): B quantized per column
// to int8, each row of x to uint8 (zero point 128) with its own scale, sums in exact int32.
// Three builds, picked at run time: AVX-512 VNNI (vpdpbusd: 64 multiply-adds per instruction,
// four times a float FMA's 16), AVX2 (vpmaddwd, about a float FMA's pace) and portable C.
// Integer sums are exact and the float steps around them are the same IEEE operations in the
// same order in every build (no contraction), so all give the same bits.
#include "EarshotKernels.h"
#include "CPUFeatures.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#define Q8_PW 128          // columns per panel
#define Q8_GROUP 4         // k values per 32-bit lane (vpdpbusd's four bytes)
#define Q8_STACK_ROW 2048  // quantized row bytes kept on the stack; longer rows use malloc

long ek_q8_columns(long n) { return (n + Q8_PW - 1) / Q8_PW * Q8_PW; }

static long q8_depth(long k) { return (k + Q8_GROUP - 1) / Q8_GROUP * Q8_GROUP; }

long ek_q8_packed_bytes(long k, long n) { return ek_q8_columns(n) * q8_depth(k); }

void ek_q8_pack(const float *b, long ldb, int transposed, long k, long n, int8_t *packed,
                float *scales, int32_t *offsets) {
  long columns = ek_q8_columns(n), depth = q8_depth(k), groups = depth / Q8_GROUP;
  memset(packed, 0, (size_t)(columns * depth));
  for (long j = 0; j < columns; j++) {
    scales[j] = 0;
    offsets[j] = 0;
    if (j >= n) continue;
#define B_AT(kk) (transposed ? b[j * ldb + (kk)] : b[(kk) * ldb + j])
    float top = 0;
    int bad = 0;
    for (long kk = 0; kk < k; kk++) {
      float a = fabsf(B_AT(kk));
      bad |= !(a <= FLT_MAX);
      top = a > top ? a : top;
    }
    if (bad) {  // a NaN or an infinity: its outputs are NaN, as a float product's would be
      scales[j] = NAN;
      continue;
    }
    if (!(top > 0)) continue;  // an all-zero column: scale 0, outputs unchanged
    float scale = top / 127.0f, inverse = 127.0f / top;
    long sum = 0;
    long p = j / Q8_PW, c = j % Q8_PW;
    for (long kk = 0; kk < k; kk++) {
      float q = rintf(B_AT(kk) * inverse);
      int v = q > 127 ? 127 : q < -127 ? -127 : (int)q;
      packed[((p * groups + kk / Q8_GROUP) * Q8_PW + c) * Q8_GROUP + kk % Q8_GROUP] = (int8_t)v;
      sum += v;
    }
#undef B_AT
    scales[j] = scale;
    offsets[j] = (int32_t)(128 * sum);
  }
}

// Row x (k floats) to uint8 u[kk] = rint(x[kk] * 127 / max|x|) + 128, padded with 128 to
// `depth`; returns the row's scale max|x| / 127 (0 for a zero row; NaN when x holds a NaN or
// an infinity, so that the row's outputs become NaN as a float product's would).
static float q8_quantize_row_portable(const float *x, long k, long depth, uint8_t *u) {
  float top = 0;
  int bad = 0;
  for (long kk = 0; kk < k; kk++) {
    float a = fabsf(x[kk]);
    bad |= !(a <= FLT_MAX);
    top = a > top ? a : top;
  }
  if (bad) {
    memset(u, 128, (size_t)depth);
    return NAN;
  }
  float inverse = top > 0 ? 127.0f / top : 0.0f;
  for (long kk = 0; kk < k; kk++) u[kk] = (uint8_t)((int)rintf(x[kk] * inverse) + 128);
  for (long kk = k; kk < depth; kk++) u[kk] = 128;
  return top / 127.0f;
}

typedef int32_t q8_vi __attribute__((vector_size(16)));  // 4 columns, one int32 lane each

static void q8_product_portable(const float *x, long ldx, long rows, long k, const int8_t *packed,
                                const float *scales, const int32_t *offsets, long n, float *y,
                                long ldy) {
#pragma clang fp contract(off)
  long depth = q8_depth(k), groups = depth / Q8_GROUP, panels = ek_q8_columns(n) / Q8_PW;
  uint8_t stack[Q8_STACK_ROW];
  uint8_t *u = depth <= Q8_STACK_ROW ? stack : malloc((size_t)depth);
  enum { V = Q8_PW / 4 };  // vectors per panel
  for (long r = 0; r < rows; r++) {
    float sx = q8_quantize_row_portable(x + r * ldx, k, depth, u);
    for (long p = 0; p < panels; p++) {
      q8_vi acc[V];
      for (int c = 0; c < V; c++) acc[c] = (q8_vi){0, 0, 0, 0};
      const int8_t *panel = packed + p * groups * Q8_PW * Q8_GROUP;
      for (long g = 0; g < groups; g++) {
        const uint8_t *ug = u + g * Q8_GROUP;
        int32_t u0 = ug[0], u1 = ug[1], u2 = ug[2], u3 = ug[3];
        const int8_t *wg = panel + g * Q8_PW * Q8_GROUP;
        for (int c = 0; c < V; c++) {
          // four columns' 4 bytes each; byte i of a lane, sign-extended, by shifts
          q8_vi w;
          memcpy(&w, wg + c * 16, 16);
          acc[c] += ((w << 24) >> 24) * u0 + ((w << 16) >> 24) * u1 + ((w << 8) >> 24) * u2 + (w >> 24) * u3;
        }
      }
      for (int c = 0; c < V; c++) {
        for (int i = 0; i < 4; i++) {
          long j = p * Q8_PW + c * 4 + i;
          if (j >= n) break;
          float d = (float)(acc[c][i] - offsets[j]);
          float s = scales[j] * sx;
          float t = d * s;
          y[r * ldy + j] = y[r * ldy + j] + t;
        }
      }
    }
  }
  if (u != stack) free(u);
}

#if defined(__x86_64__)
#define Q8_TARGET __attribute__((target("avx512f,avx512vnni")))

Q8_TARGET static float q8_quantize_row_vnni(const float *x, long k, long depth, uint8_t *u) {
  __m512 top = _mm512_setzero_ps();
  __mmask16 bad = 0;
  const __m512 inf = _mm512_set1_ps(INFINITY);
  long kk = 0;
  for (; kk < k; kk += 16) {
    __mmask16 m = k - kk >= 16 ? 0xffff : (__mmask16)((1u << (k - kk)) - 1);
    __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + kk));
    bad |= _mm512_mask_cmp_ps_mask(m, a, inf, _CMP_NLT_UQ);  // NaN or infinity
    top = _mm512_max_ps(top, a);
  }
  float t = _mm512_reduce_max_ps(top);
  if (bad) {
    memset(u, 128, (size_t)depth);
    return NAN;
  }
  float inverse = t > 0 ? 127.0f / t : 0.0f;
  const __m512 vi = _mm512_set1_ps(inverse);
  const __m512i zero = _mm512_set1_epi32(128);
  for (kk = 0; kk < depth; kk += 16) {
    long left = k - kk;
    __mmask16 m = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    // masked-off lanes load 0, which quantizes to 128, the padding value
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + kk), vi)), zero);
    long count = depth - kk < 16 ? depth - kk : 16;
    _mm512_mask_cvtepi32_storeu_epi8(u + kk, (__mmask16)((1u << count) - 1), q);
  }
  return t / 127.0f;
}

// R rows x C vectors of one panel (R * C <= 16): rows of `u` (stride `depth` bytes), panel
// columns [c0 * 16, (c0 + C) * 16); y += (acc - offset) * (scale * sx), for columns below `valid`.
Q8_TARGET static inline __attribute__((always_inline)) void q8_tile(
    int R, int C, const uint8_t *u, long depth, const float *sx, const int8_t *panel, long c0,
    const float *scales, const int32_t *offsets, float *y, long ldy, long valid) {
  __m512i acc[16];
  for (int a = 0; a < R * C; a++) acc[a] = _mm512_setzero_si512();
  long groups = depth / Q8_GROUP;
  const int8_t *wp = panel + c0 * 64;
  for (long g = 0; g < groups; g++, wp += Q8_PW * Q8_GROUP) {
    __m512i w[8];
    for (int c = 0; c < C; c++) w[c] = _mm512_load_si512((const void *)(wp + c * 64));
    for (int r = 0; r < R; r++) {
      int32_t four;
      memcpy(&four, u + r * depth + g * Q8_GROUP, 4);
      __m512i xb = _mm512_set1_epi32(four);
      for (int c = 0; c < C; c++) acc[r * C + c] = _mm512_dpbusd_epi32(acc[r * C + c], xb, w[c]);
    }
  }
  for (int c = 0; c < C; c++) {
    long col = (c0 + c) * 16, count = valid - col;
    if (count <= 0) continue;
    __mmask16 m = count >= 16 ? 0xffff : (__mmask16)((1u << count) - 1);
    __m512 scale = _mm512_loadu_ps(scales + col);
    __m512i offset = _mm512_loadu_si512((const void *)(offsets + col));
    for (int r = 0; r < R; r++) {
      __m512 d = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r * C + c], offset));
      __m512 t = _mm512_mul_ps(d, _mm512_mul_ps(scale, _mm512_set1_ps(sx[r])));
      float *yp = y + r * ldy + col;
      _mm512_mask_storeu_ps(yp, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, yp), t));
    }
  }
}

Q8_TARGET static void q8_product_vnni(const float *x, long ldx, long rows, long k,
                                      const int8_t *packed, const float *scales,
                                      const int32_t *offsets, long n, float *y, long ldy) {
  long depth = q8_depth(k), groups = depth / Q8_GROUP, panels = ek_q8_columns(n) / Q8_PW;
  uint8_t stack[4 * Q8_STACK_ROW] __attribute__((aligned(64)));
  uint8_t *u = 4 * depth <= (long)sizeof stack ? stack : malloc((size_t)(4 * depth));
  for (long r = 0; r < rows;) {
    // 4 x 4 tiles while 4 rows are left (4 weight loads and 4 broadcasts per 16 vpdpbusd),
    // then one row at a time as 1 x 8 (8 loads and a broadcast per 8)
    int R = rows - r >= 4 ? 4 : 1;
    float sx[4];
    for (int i = 0; i < R; i++) sx[i] = q8_quantize_row_vnni(x + (r + i) * ldx, k, depth, u + i * depth);
    for (long p = 0; p < panels; p++) {
      const int8_t *panel = packed + p * groups * Q8_PW * Q8_GROUP;
      long valid = n - p * Q8_PW < Q8_PW ? n - p * Q8_PW : Q8_PW;
      const float *sp = scales + p * Q8_PW;
      const int32_t *op = offsets + p * Q8_PW;
      float *yp = y + r * ldy + p * Q8_PW;
      if (R == 4) {
        q8_tile(4, 4, u, depth, sx, panel, 0, sp, op, yp, ldy, valid);
        q8_tile(4, 4, u, depth, sx, panel, 4, sp, op, yp, ldy, valid);
      } else {
        q8_tile(1, 8, u, depth, sx, panel, 0, sp, op, yp, ldy, valid);
      }
    }
    r += R;
  }
  if (u != stack) free(u);
}

// AVX2: 8 columns per vector. vpmaddwd on 16-bit lanes is exact (vpmaddubsw would saturate):
// each 32-bit lane of weights holds a column's bytes b0..b3, split by shifts into 16-bit
// (b0, b2) and (b1, b3), multiplied by the row's (u0, u2) and (u1, u3).
#define Q8_AVX2 __attribute__((target("avx2,fma")))

Q8_AVX2 static inline __attribute__((always_inline)) void q8_tile_avx2(
    int R, const uint8_t *u, long depth, const float *sx, const int8_t *panel, long c0,
    const float *scales, const int32_t *offsets, float *y, long ldy, long valid) {
  enum { C = 4 };
  __m256i acc[2 * C];
  for (int a = 0; a < R * C; a++) acc[a] = _mm256_setzero_si256();
  long groups = depth / Q8_GROUP;
  const int8_t *wp = panel + c0 * 32;
  for (long g = 0; g < groups; g++, wp += Q8_PW * Q8_GROUP) {
    __m256i even[2], odd[2];
    for (int r = 0; r < R; r++) {
      const uint8_t *ug = u + r * depth + g * Q8_GROUP;
      even[r] = _mm256_set1_epi32((int)(ug[0] | (uint32_t)ug[2] << 16));
      odd[r] = _mm256_set1_epi32((int)(ug[1] | (uint32_t)ug[3] << 16));
    }
    for (int c = 0; c < C; c++) {
      __m256i w = _mm256_load_si256((const __m256i *)(wp + c * 32));
      __m256i we = _mm256_srai_epi16(_mm256_slli_epi16(w, 8), 8), wo = _mm256_srai_epi16(w, 8);
      for (int r = 0; r < R; r++)
        acc[r * C + c] = _mm256_add_epi32(acc[r * C + c], _mm256_add_epi32(_mm256_madd_epi16(we, even[r]),
                                                                           _mm256_madd_epi16(wo, odd[r])));
    }
  }
  for (int c = 0; c < C; c++) {
    long col = (c0 + c) * 8, count = valid - col;
    if (count <= 0) continue;
    __m256 scale = _mm256_loadu_ps(scales + col);
    __m256i offset = _mm256_loadu_si256((const __m256i *)(offsets + col));
    for (int r = 0; r < R; r++) {
      __m256 d = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r * C + c], offset));
      __m256 t = _mm256_mul_ps(d, _mm256_mul_ps(scale, _mm256_set1_ps(sx[r])));
      float *yp = y + r * ldy + col;
      if (count >= 8) {
        _mm256_storeu_ps(yp, _mm256_add_ps(_mm256_loadu_ps(yp), t));
      } else {
        float lanes[8];
        _mm256_storeu_ps(lanes, t);
        for (long i = 0; i < count; i++) yp[i] = yp[i] + lanes[i];
      }
    }
  }
}

Q8_AVX2 static void q8_product_avx2(const float *x, long ldx, long rows, long k,
                                    const int8_t *packed, const float *scales,
                                    const int32_t *offsets, long n, float *y, long ldy) {
  long depth = q8_depth(k), groups = depth / Q8_GROUP, panels = ek_q8_columns(n) / Q8_PW;
  uint8_t stack[2 * Q8_STACK_ROW];
  uint8_t *u = 2 * depth <= (long)sizeof stack ? stack : malloc((size_t)(2 * depth));
  for (long r = 0; r < rows;) {
    int R = rows - r >= 2 ? 2 : 1;  // 2 rows x 4 vectors: 8 accumulators, 4 broadcasts, 3 temporaries
    float sx[2];
    for (int i = 0; i < R; i++) sx[i] = q8_quantize_row_portable(x + (r + i) * ldx, k, depth, u + i * depth);
    for (long p = 0; p < panels; p++) {
      const int8_t *panel = packed + p * groups * Q8_PW * Q8_GROUP;
      long valid = n - p * Q8_PW < Q8_PW ? n - p * Q8_PW : Q8_PW;
      for (long c0 = 0; c0 < Q8_PW / 8; c0 += 4) {
        if (R == 2)
          q8_tile_avx2(2, u, depth, sx, panel, c0, scales + p * Q8_PW, offsets + p * Q8_PW, y + r * ldy + p * Q8_PW, ldy, valid);
        else
          q8_tile_avx2(1, u, depth, sx, panel, c0, scales + p * Q8_PW, offsets + p * Q8_PW, y + r * ldy + p * Q8_PW, ldy, valid);
      }
    }
    r += R;
  }
  if (u != stack) free(u);
}

#endif

// The best build this CPU runs, asked once (CPUID traps to the hypervisor in a VM,
// microseconds a call) and kept: -1 until then.
static int q8_cpu = -1;

static int q8_cpu_level(void) {
  int known = __atomic_load_n(&q8_cpu, __ATOMIC_RELAXED);
  if (known >= 0) return known;
  int level = EK_Q8_PORTABLE;
#if defined(__x86_64__)
  int features = ek_cpu_features();
  unsigned a, b, c, d;
  if (features & EK_CPU_AVX2_FMA) level = EK_Q8_AVX2;
  if ((features & EK_CPU_AVX512_F_VL) && __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((c >> 11) & 1))
    level = EK_Q8_VNNI;  // AVX512_VNNI
#endif
  __atomic_store_n(&q8_cpu, level, __ATOMIC_RELAXED);
  return level;
}

int ek_q8_best_level(void) {
  int level = q8_cpu_level();
  const char *cap = getenv("EARSHOT_KERNELS");
  if (cap && strcmp(cap, "portable") == 0) level = EK_Q8_PORTABLE;
  if (cap && strcmp(cap, "avx2") == 0 && level > EK_Q8_AVX2) level = EK_Q8_AVX2;
  return level;
}

void ek_q8_product(int level, const float *x, long ldx, long rows, long k, const int8_t *packed,
                   const float *scales, const int32_t *offsets, long n, float *y, long ldy) {
  int cpu = q8_cpu_level();
  if (level > cpu) level = cpu;
#if defined(__x86_64__)
  if (level == EK_Q8_VNNI) {
    q8_product_vnni(x, ldx, rows, k, packed, scales, offsets, n, y, ldy);
    return;
  }
  if (level == EK_Q8_AVX2) {
    q8_product_avx2(x, ldx, rows, k, packed, scales, offsets, n, y, ldy);
    return;
  }
#endif
  q8_product_portable(x, ldx, rows, k, packed, scales, offsets, n, y, ldy);
}
