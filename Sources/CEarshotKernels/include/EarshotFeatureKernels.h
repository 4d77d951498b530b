// Vectorised kernels of EarshotFeatures (the spectrogram -> mel -> log path), compiled once
// per instruction set like EarshotKernels.h and picked at run time. Every level gives the
// same bits: no fused multiply-adds, and each sum adds in the same order as the scalar code.
#ifndef EARSHOT_FEATURE_KERNELS_H
#define EARSHOT_FEATURE_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Frames per block: the lanes of the vertical (frame-parallel) kernels below.
enum { EK_FRAME_BLOCK = 16 };

/// One set of feature kernels, all for one instruction set.
typedef struct ek_feature_kernels {
  /// The level these kernels were compiled for (EK_LEVEL_* of EarshotKernels.h).
  int level;

  /// Windows `count` frames for a Double FFT: out[f * ldout + i] = (double)x[f * hop + i] *
  /// window[i] for i < n, in double (librosa's float64 window).
  void (*window_frames)(const float *x, long hop, long count, const double *window, long n,
                        double *out, long ldout);

  /// The last step of a real FFT of even length 2 * half done as a complex FFT of length half:
  /// z holds that FFT's half values (re, im interleaved) and room for one more; on return it
  /// holds the real input's spectrum X_k, k = 0...half. cosine[k] = cos(pi k / half) and
  /// sine[k] = sin(pi k / half) for k <= half.
  void (*real_split)(double *z, const double *cosine, const double *sine, long half);

  /// real_split, then power_block, in one pass: `count` <= EK_FRAME_BLOCK complex FFTs of
  /// length half (frame f at z + f * ldz doubles, left as they are) -> the power (or magnitude)
  /// of bins 0...half of each frame's real input, frame-parallel: spectrum[k * EK_FRAME_BLOCK
  /// + f]. The same bits as the two kernels in turn.
  void (*split_power_block)(const double *z, long ldz, const double *cosine, const double *sine,
                            long half, long count, int magnitude, float *spectrum);

  /// |X_k|^2 (or |X_k| when `magnitude` is non-zero), in double then rounded to float, of
  /// `count` <= EK_FRAME_BLOCK spectra of `bins` complex values (re, im interleaved; frame f
  /// starts at z + f * ldz doubles), written frame-parallel: spectrum[k * EK_FRAME_BLOCK + f].
  void (*power_block)(const double *z, long ldz, long bins, long count, int magnitude,
                      float *spectrum);

  /// Sparse filterbank over a frame-parallel block: for each band m < bands,
  /// mel[m * EK_FRAME_BLOCK + f] = sum_j weights[offsets[m] + j] * spectrum[(start[m] + j) *
  /// EK_FRAME_BLOCK + f] for j < offsets[m + 1] - offsets[m], summed as four partial sums
  /// (j mod 4, the tail into the first) added as (s0 + s1) + (s2 + s3).
  void (*mel_block)(const float *spectrum, long bands, const long *start, const long *offsets,
                    const float *weights, float *mel);

  /// Frame-parallel mel block -> `count` time-major rows: out[f * ldout + m] is, for
  /// mel[m * EK_FRAME_BLOCK + f] = v, `v` (mode 0), ln(max(v, floor)) (mode 1) or
  /// scale * ln(max(v, floor)) - offset (mode 2). ln is the same series as FastLog.swift's
  /// logVector (max relative error 2.4e-7).
  void (*mel_rows)(const float *mel, long bands, long count, int mode, float floor, float scale,
                   float offset, float *out, long ldout);

  /// Natural log of max(x, floor) for `count` values, in place: logInPlace of FastLog.swift.
  void (*log_floor)(float *values, long count, float floor);

  /// A dense product per row, for the MFCC's DCT: y[f * count + c] = sum over j < size, in
  /// order of j, of basis[j * stride + c] * x[f * size + j], for f < frames and c < count.
  /// `stride` >= count is a multiple of 16 and the basis is zero past `count` in each row.
  /// With count <= size, y may be x (in place).
  void (*dct_rows)(const float *x, long frames, long size, const float *basis, long stride,
                   long count, float *y);
} ek_feature_kernels;

/// The feature kernels of `level` (EK_LEVEL_*), lowered to what the CPU supports; pass
/// ek_best_level() for the fastest.
const ek_feature_kernels *ek_feature_kernels_for(int level);

#ifdef __cplusplus
}
#endif
#endif
