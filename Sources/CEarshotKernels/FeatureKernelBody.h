// The feature kernels, written once over a vector of EK_W floats and included once per
// instruction set by FeatureKernels.c (which defines EK_W and EK_SUFFIX and wraps the include
// in a target attribute). No include guard on purpose. Contraction is off in the including
// file, so every level rounds exactly as the scalar Swift code it replaces.

#define EK_CAT2(a, b) a##_##b
#define EK_CAT(a, b) EK_CAT2(a, b)
#define N(name) EK_CAT(name, EK_SUFFIX)

typedef float N(fvf) __attribute__((vector_size(EK_W * 4)));
typedef int N(fvi) __attribute__((vector_size(EK_W * 4)));
#define VF N(fvf)
#define VI N(fvi)
#define W EK_W
#define B EK_FRAME_BLOCK

static inline __attribute__((always_inline)) VF N(fload)(const float *p) {
  VF v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline __attribute__((always_inline)) void N(fstore)(VF v, float *p) { memcpy(p, &v, sizeof v); }

static inline __attribute__((always_inline)) VF N(fsplat)(float x) {
  VF v;
  for (int i = 0; i < W; i++) v[i] = x;
  return v;
}

static inline __attribute__((always_inline)) VF N(fselect)(VI m, VF a, VF b) {
  return (VF)(((VI)a & m) | ((VI)b & ~m));
}

// ln x for positive normal x: x = m 2^e, m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s),
// s = (m - 1) / (m + 1), odd series to s^11. Operation for operation FastLog.swift's logVector.
static inline __attribute__((always_inline)) VF N(ln)(VF x) {
  VI bits = (VI)x;
  VI exponent = ((bits >> 23) & 0xFF) - 127;
  VF mantissa = (VF)((bits & 0x007FFFFF) | 0x3F800000);
  VI big = mantissa > N(fsplat)(1.4142135f);
  mantissa = N(fselect)(big, mantissa * 0.5f, mantissa);
  exponent = exponent - big;  // big lanes are -1: exponent + 1
  VF s = (mantissa - 1.0f) / (mantissa + 1.0f);
  VF s2 = s * s;
  VF series = N(fsplat)(1.0f / 11);
  series = series * s2 + 1.0f / 9;
  series = series * s2 + 1.0f / 7;
  series = series * s2 + 1.0f / 5;
  series = series * s2 + 1.0f / 3;
  series = series * s2 + 1.0f;
  VF e = __builtin_convertvector(exponent, VF);
  return e * 0.693145751953125f + (2.0f * s * series + e * 1.428606765330187e-6f);
}

static void N(window_frames)(const float *x, long hop, long count, const float *window, long n,
                             double *out, long ldout) {
  for (long f = 0; f < count; f++) {
    const float *src = x + f * hop;
    double *dst = out + f * ldout;
    for (long i = 0; i < n; i++) dst[i] = (double)(src[i] * window[i]);
  }
}

static void N(power_block)(const double *z, long ldz, long bins, long count, int magnitude,
                           float *spectrum) {
  for (long f = 0; f < count; f++) {
    const double *row = z + f * ldz;
    if (magnitude) {
      for (long k = 0; k < bins; k++) {
        double re = row[2 * k], im = row[2 * k + 1];
        spectrum[k * B + f] = (float)__builtin_sqrt(re * re + im * im);
      }
    } else {
      for (long k = 0; k < bins; k++) {
        double re = row[2 * k], im = row[2 * k + 1];
        spectrum[k * B + f] = (float)(re * re + im * im);
      }
    }
  }
}

static void N(mel_block)(const float *spectrum, long bands, const long *start, const long *offsets,
                         const float *weights, float *mel) {
  for (long m = 0; m < bands; m++) {
    const float *w = weights + offsets[m];
    long n = offsets[m + 1] - offsets[m];
    const float *s = spectrum + start[m] * B;
    for (long lane = 0; lane < B; lane += W) {
      VF a = N(fsplat)(0), b = a, c = a, d = a;
      long j = 0;
      for (; j + 4 <= n; j += 4) {
        a = a + w[j] * N(fload)(s + j * B + lane);
        b = b + w[j + 1] * N(fload)(s + (j + 1) * B + lane);
        c = c + w[j + 2] * N(fload)(s + (j + 2) * B + lane);
        d = d + w[j + 3] * N(fload)(s + (j + 3) * B + lane);
      }
      for (; j < n; j++) a = a + w[j] * N(fload)(s + j * B + lane);
      N(fstore)((a + b) + (c + d), mel + m * B + lane);
    }
  }
}

static void N(mel_rows)(const float *mel, long bands, long count, int mode, float floor, float scale,
                        float offset, float *out, long ldout) {
  float lanes[B];
  for (long m = 0; m < bands; m++) {
    for (long lane = 0; lane < B; lane += W) {
      VF v = N(fload)(mel + m * B + lane);
      if (mode != 0) {
        VF fl = N(fsplat)(floor);
        v = N(ln)(N(fselect)(v < fl, fl, v));
        if (mode == 2) v = scale * v - offset;
      }
      N(fstore)(v, lanes + lane);
    }
    for (long f = 0; f < count; f++) out[f * ldout + m] = lanes[f];
  }
}

static void N(log_floor)(float *values, long count, float floor) {
  VF fl = N(fsplat)(floor);
  long i = 0;
  for (; i + W <= count; i += W) {
    VF v = N(fload)(values + i);
    N(fstore)(N(ln)(N(fselect)(v < fl, fl, v)), values + i);
  }
  if (i < count) {
    float tmp[W];
    for (long j = 0; j < W; j++) tmp[j] = i + j < count ? (values[i + j] < floor ? floor : values[i + j]) : 1.0f;
    N(fstore)(N(ln)(N(fload)(tmp)), tmp);
    for (long j = 0; i + j < count; j++) values[i + j] = tmp[j];
  }
}

static const ek_feature_kernels N(feature_kernels) = {
  .level = EK_LEVEL,
  .window_frames = N(window_frames),
  .power_block = N(power_block),
  .mel_block = N(mel_block),
  .mel_rows = N(mel_rows),
  .log_floor = N(log_floor),
};

#undef B
#undef VF
#undef VI
#undef W
#undef N
#undef EK_CAT
#undef EK_CAT2
