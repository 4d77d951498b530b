import Foundation

/// Owned scratch storage for kernels: a raw Float buffer freed with the object.
final class FloatBuffer {
  let count: Int
  let pointer: UnsafeMutablePointer<Float>
  /// `zeroed: false` leaves the contents undefined (for buffers written before they are read).
  init(count: Int, zeroed: Bool = true) {
    self.count = count
    pointer = .allocate(capacity: max(count, 1))
    if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
  }
  deinit { pointer.deallocate() }
}

/// One direction of one LSTM layer, PyTorch `nn.LSTM` semantics and gate order (i, f, g, o).
///
/// For each frame, with `x` the input and `h'`, `c'` the previous states (zero at the start):
/// ```
/// [i f g o] = x W_ih^T + b_ih + h' W_hh^T + b_hh
/// i, f, o = sigmoid(.), g = tanh(.)
/// c = f * c' + i * g,   h = o * tanh(c)
/// ```
/// The input projection of every frame of the batch is one GEMM (BLAS); only `h' W_hh^T` runs
/// frame by frame, as one (batch, hidden) x (hidden, 4 hidden) product per step with W_hh
/// packed once per call (``Kernels``).
/// A reverse LSTM (`reverse = true`) starts at each sequence's own last frame, as PyTorch does
/// with packed sequences. Matches `torch.nn.LSTM` on a `PackedSequence` within 1e-5.
public struct LSTM: Parameterized, Sendable {
  /// Features per input frame.
  public let inputSize: Int
  /// Features of the hidden state `h` (and the cell `c`).
  public let hiddenSize: Int
  /// Whether the layer runs from each sequence's last frame to its first.
  public let reverse: Bool
  /// W_ih, (4 hiddenSize, inputSize), row blocks i, f, g, o (PyTorch `weight_ih_l{k}`).
  public var weightIH: Matrix { didSet { packedIH = PackOnce(); quantizedIH = PackOnce() } }
  /// W_hh, (4 hiddenSize, hiddenSize) (PyTorch `weight_hh_l{k}`).
  public var weightHH: Matrix { didSet { packedHH = PackOnce(); quantizedHH = PackOnce() } }
  /// b_ih, (1, 4 hiddenSize) (PyTorch `bias_ih_l{k}`).
  public var biasIH: Matrix
  /// b_hh, (1, 4 hiddenSize) (PyTorch `bias_hh_l{k}`).
  public var biasHH: Matrix
  /// W_hh packed for the recurrent kernel by the first inference call and reused by later
  /// ones (a short clip spends as long packing as multiplying); replaced, empty, whenever
  /// W_hh changes. Training packs per call (its weights change every step).
  private var packedHH = PackOnce<PackedMatrix>()
  /// W_ih packed likewise, for input projections of at most ``packedProjectionRows`` rows.
  private var packedIH = PackOnce<PackedMatrix>()
  /// W_hh and W_ih quantized to 8 bits, made likewise for the products in ``int8Products``.
  private var quantizedHH = PackOnce<QuantizedMatrix>()
  private var quantizedIH = PackOnce<QuantizedMatrix>()

  /// The products inference (``callAsFunction(_:)``) runs in 8-bit integers
  /// (``QuantizedMatrix``); default none. Training (``forward(_:)``) always runs in floats.
  /// ``BiLSTM/inferencePrecision`` sets it per layer.
  public var int8Products: Int8Products = []

  /// Products of an LSTM that inference can run in 8 bits.
  public struct Int8Products: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// h' W_hh^T: its input, h = o tanh(c), lies in (-1, 1).
    public static let recurrent = Int8Products(rawValue: 1)
    /// x W_ih^T: best only where x is another LSTM's output, bounded as h is.
    public static let input = Int8Products(rawValue: 2)
  }

  /// A layer with PyTorch's default initialisation: every tensor uniform in
  /// (-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)), drawn W_ih, W_hh, b_ih, b_hh in that order.
  public init(inputSize: Int, hiddenSize: Int, reverse: Bool = false, generator: inout SeededGenerator) {
    precondition(inputSize >= 1 && hiddenSize >= 1,
      "LSTM: inputSize \(inputSize) and hiddenSize \(hiddenSize) must be >= 1")
    self.inputSize = inputSize
    self.hiddenSize = hiddenSize
    self.reverse = reverse
    let k = 1 / Float(hiddenSize).squareRoot()
    weightIH = generator.uniformMatrix(rows: 4 * hiddenSize, cols: inputSize, -k, k)
    weightHH = generator.uniformMatrix(rows: 4 * hiddenSize, cols: hiddenSize, -k, k)
    biasIH = generator.uniformMatrix(rows: 1, cols: 4 * hiddenSize, -k, k)
    biasHH = generator.uniformMatrix(rows: 1, cols: 4 * hiddenSize, -k, k)
  }

  /// A layer with all parameters zero (a gradient accumulator, or a target for loading).
  public init(inputSize: Int, hiddenSize: Int, reverse: Bool = false) {
    self.inputSize = inputSize
    self.hiddenSize = hiddenSize
    self.reverse = reverse
    weightIH = Matrix(rows: 4 * hiddenSize, cols: inputSize)
    weightHH = Matrix(rows: 4 * hiddenSize, cols: hiddenSize)
    biasIH = Matrix(rows: 1, cols: 4 * hiddenSize)
    biasHH = Matrix(rows: 1, cols: 4 * hiddenSize)
  }

  /// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` (the caller adds `_l{k}` and `_reverse`).
  public var namedParameters: [NamedParameter<LSTM>] {
    let g = 4 * hiddenSize
    return [
      NamedParameter(name: "weight_ih", shape: [g, inputSize], path: \.weightIH),
      NamedParameter(name: "weight_hh", shape: [g, hiddenSize], path: \.weightHH),
      NamedParameter(name: "bias_ih", shape: [g], path: \.biasIH),
      NamedParameter(name: "bias_hh", shape: [g], path: \.biasHH),
    ]
  }

  /// Runs the layer over a batch: (T*B, inputSize) -> (T*B, hiddenSize), time-major.
  ///
  /// Padding rows of the output are zero. The cache keeps what ``backward(_:cache:into:)``
  /// needs (the gate activations, the cells and the hidden states, step by step).
  public func forward(_ x: SequenceBatch) -> (output: SequenceBatch, cache: LSTMCache) {
    precondition(x.features == inputSize, "LSTM: input has \(x.features) features, the layer expects \(inputSize)")
    let cache = LSTMCache(steps: x.maxLength, lengths: x.lengths, inputSize: inputSize,
                          hiddenSize: hiddenSize, reverse: reverse)
    let b = x.batchSize, h = hiddenSize, g = 4 * hiddenSize
    let steps = x.maxLength
    let rows = steps * b
    // Xs: the input in step order (for reverse, step s of sequence b is frame lengths[b]-1-s).
    if reverse {
      x.data.data.withUnsafeBufferPointer { px in
        cache.stepInput = FloatBuffer(count: rows * inputSize)
        forEachStepRow(lengths: x.lengths, steps: steps) { s, bb, t in
          (cache.stepInput!.pointer + (s * b + bb) * inputSize)
            .update(from: px.baseAddress! + (t * b + bb) * inputSize, count: inputSize)
        }
      }
    }
    var output = Matrix(rows: rows, cols: h)
    x.data.data.withUnsafeBufferPointer { px in
      weightIH.data.withUnsafeBufferPointer { wih in
        weightHH.data.withUnsafeBufferPointer { whh in
          let xs = reverse ? UnsafePointer(cache.stepInput!.pointer) : px.baseAddress!
          let gates = cache.gates.pointer, cells = cache.cells.pointer
          let tanhCells = cache.tanhCells.pointer, hidden = cache.hidden.pointer
          // G = Xs W_ih^T, all frames at once; the cell kernel adds b_ih + b_hh.
          sgemm(transA: false, transB: true, m: rows, n: g, k: inputSize, alpha: 1,
                a: xs, lda: inputSize, b: wih.baseAddress!, ldb: inputSize,
                beta: 0, c: gates, ldc: g)
          let bias = combinedBias()
          let kernels = Kernels.best
          let recurrent = PackedMatrix(whh.baseAddress!, ldb: h, transposed: true, k: h, n: g, kernels: kernels)
          for s in 0..<steps {
            let gs = gates + s * b * g
            if s > 0 {
              // G_s += H_{s-1} W_hh^T, W_hh packed once above.
              recurrent.multiply(hidden + (s - 1) * b * h, ldx: h, rows: b, into: gs, ldy: g, reverse: s & 1 == 1)
            }
            for bb in 0..<b where s < x.lengths[bb] {
              let r = s * b + bb
              kernels.lstmCellForward(gs + bb * g, bias: bias.pointer, hiddenSize: h,
                                      cellPrevious: s > 0 ? UnsafePointer(cells + (r - b) * h) : nil,
                                      cell: cells + r * h, tanhCell: tanhCells + r * h, hidden: hidden + r * h,
                                      keepGates: true)
            }
            // Finished sequences keep h = 0 in the step buffer (it was zero-initialised).
          }
        }
      }
    }
    output.data.withUnsafeMutableBufferPointer { po in
      let hidden = cache.hidden.pointer
      if reverse {
        forEachStepRow(lengths: x.lengths, steps: steps) { s, bb, t in
          (po.baseAddress! + (t * b + bb) * h).update(from: hidden + (s * b + bb) * h, count: h)
        }
      } else if rows > 0 {
        po.baseAddress!.update(from: hidden, count: rows * h)
      }
    }
    cache.input = x.data
    return (SequenceBatch(data: output, lengths: x.lengths), cache)
  }

  /// Runs the layer without keeping anything for backward: (T*B, inputSize) -> (T*B, hiddenSize).
  public func callAsFunction(_ x: SequenceBatch) -> SequenceBatch {
    precondition(x.features == inputSize, "LSTM: input has \(x.features) features, the layer expects \(inputSize)")
    var output = Matrix(rows: x.data.rows, cols: hiddenSize)
    output.data.withUnsafeMutableBufferPointer { po in
      if let p = po.baseAddress { infer(x, into: p, outputStride: hiddenSize) }
    }
    return SequenceBatch(data: output, lengths: x.lengths)
  }

  /// Inference into caller-owned rows: writes h of frame `t` of sequence `b` to
  /// `output + (t * batchSize + b) * outputStride` (hiddenSize floats) and leaves padding rows
  /// untouched. Same arithmetic as ``forward(_:)``, but it keeps only the current h and c and
  /// projects the input a chunk of steps at a time, so its buffers stay in cache.
  func infer(_ x: SequenceBatch, into output: UnsafeMutablePointer<Float>, outputStride: Int) {
    let b = x.batchSize, h = hiddenSize, g = 4 * hiddenSize, n = inputSize
    let steps = x.maxLength, lengths = x.lengths
    guard steps > 0 && b > 0 else { return }
    let chunkRows = b < 4 ? inferenceChunkRowsSmallBatch : inferenceChunkRows
    let chunk = max(1, min(steps, chunkRows / b))            // steps per input projection
    let gateBuffer = FloatBuffer(count: chunk * b * g, zeroed: false)
    // Every row is written when all sequences share the longest length (always at batch 1);
    // otherwise rows past a sequence's end are zero rather than whatever memory held.
    let stepInput = reverse ? FloatBuffer(count: chunk * b * n, zeroed: lengths.contains { $0 != steps }) : nil
    let state = FloatBuffer(count: 2 * b * h)                // h (b, H), then c (b, H)
    let hState = state.pointer, cState = state.pointer + b * h
    let gates = gateBuffer.pointer
    let bias = combinedBias()
    let kernels = Kernels.best
    x.data.data.withUnsafeBufferPointer { px in
      weightIH.data.withUnsafeBufferPointer { wih in
        weightHH.data.withUnsafeBufferPointer { whh in
          let recurrent: RecurrentProduct = int8Products.contains(.recurrent)
            ? .int8(quantizedHH.value { QuantizedMatrix(whh.baseAddress!, ldb: h, transposed: true, k: h, n: g) })
            : .float(packedHH.value { PackedMatrix(whh.baseAddress!, ldb: h, transposed: true, k: h, n: g, kernels: kernels) })
          let projection8 = !int8Products.contains(.input) ? nil : quantizedIH.value {
            QuantizedMatrix(wih.baseAddress!, ldb: n, transposed: true, k: n, n: g)
          }
          var s0 = 0
          while s0 < steps {
            let count = min(chunk, steps - s0), rows = count * b
            // G = Xs W_ih^T for steps s0 ..< s0 + count; the cell kernel adds b_ih + b_hh
            let xs: UnsafePointer<Float>
            if let stepInput {
              // step s of sequence bb is frame lengths[bb] - 1 - s
              for s in s0..<(s0 + count) {
                for bb in 0..<b where s < lengths[bb] {
                  (stepInput.pointer + ((s - s0) * b + bb) * n)
                    .update(from: px.baseAddress! + ((lengths[bb] - 1 - s) * b + bb) * n, count: n)
                }
              }
              xs = UnsafePointer(stepInput.pointer)
            } else {
              xs = px.baseAddress! + s0 * b * n
            }
            if let projection8 {
              gates.update(repeating: 0, count: rows * g)   // the product adds into y
              projection8.multiply(xs, ldx: n, rows: rows, into: gates, ldy: g)
            } else if b < 4 && rows <= packedProjectionRows {
              let projection = packedIH.value {
                PackedMatrix(wih.baseAddress!, ldb: n, transposed: true, k: n, n: g, kernels: kernels)
              }
              gates.update(repeating: 0, count: rows * g)   // the packed product adds into y
              projection.multiply(xs, ldx: n, rows: rows, into: gates, ldy: g)
            } else {
              sgemm(transA: false, transB: true, m: rows, n: g, k: n, alpha: 1,
                    a: xs, lda: n, b: wih.baseAddress!, ldb: n, beta: 0, c: gates, ldc: g)
            }
            for s in s0..<(s0 + count) {
              let gs = gates + (s - s0) * b * g
              // G_s += H_{s-1} W_hh^T
              if s > 0 { recurrent.multiply(hState, rows: b, into: gs, step: s) }
              for bb in 0..<b where s < lengths[bb] {
                let hh = hState + bb * h
                kernels.lstmCellForward(gs + bb * g, bias: bias.pointer, hiddenSize: h,
                                        cellPrevious: s > 0 ? UnsafePointer(cState + bb * h) : nil,
                                        cell: cState + bb * h, tanhCell: nil, hidden: hh, keepGates: false)
                let t = reverse ? lengths[bb] - 1 - s : s
                (output + (t * b + bb) * outputStride).update(from: hh, count: h)
              }
            }
            s0 += count
          }
        }
      }
    }
  }

  /// b_ih + b_hh, which the cell kernel adds to each step's pre-activations.
  private func combinedBias() -> FloatBuffer {
    let g = 4 * hiddenSize
    let bias = FloatBuffer(count: g, zeroed: false)
    for j in 0..<g { bias.pointer[j] = biasIH.data[j] + biasHH.data[j] }
    return bias
  }

  /// Backpropagation through time.
  ///
  /// - Parameters:
  ///   - gradient: dL/d(output), (T*B, hiddenSize), time-major; padding rows are ignored.
  ///   - cache: from the ``forward(_:)`` that produced the output.
  ///   - grads: gradients of the parameters; this call adds into them.
  /// - Returns: dL/d(input), (T*B, inputSize); padding rows are zero.
  public func backward(_ gradient: Matrix, cache: LSTMCache, into grads: inout LSTM) -> Matrix {
    let b = cache.lengths.count, h = hiddenSize, g = 4 * hiddenSize
    let steps = cache.steps, rows = steps * b
    precondition(gradient.rows == rows && gradient.cols == h,
      "LSTM.backward: gradient is \(gradient.shapeDescription), output was \(rows)x\(h)")
    let lengths = cache.lengths
    // Every row of dG is written below: the gate gradients of real frames, zero for padding.
    let dGates = FloatBuffer(count: rows * g, zeroed: false)
    let dhNext = FloatBuffer(count: b * h)
    let dcNext = FloatBuffer(count: b * h)
    var dInput = Matrix(rows: rows, cols: inputSize)
    gradient.data.withUnsafeBufferPointer { pdo in
      weightHH.data.withUnsafeBufferPointer { whh in
        let kernels = Kernels.best
        // W_hh (4H, H) as B of dh' = dG W_hh
        let recurrent = PackedMatrix(whh.baseAddress!, ldb: h, transposed: false, k: g, n: h, kernels: kernels)
        let gates = cache.gates.pointer, cells = cache.cells.pointer
        let tanhCells = cache.tanhCells.pointer
        let dG = dGates.pointer
        for s in stride(from: steps - 1, through: 0, by: -1) {
          for bb in 0..<b {
            let dgRow = dG + (s * b + bb) * g
            guard s < lengths[bb] else {
              // Not started yet (in backward order): no gradient flows, and none leaves.
              (dcNext.pointer + bb * h).update(repeating: 0, count: h)
              dgRow.update(repeating: 0, count: g)
              continue
            }
            let t = reverse ? lengths[bb] - 1 - s : s
            let dOut = pdo.baseAddress! + (t * b + bb) * h
            let row = gates + (s * b + bb) * g
            let tc = tanhCells + (s * b + bb) * h
            let dhn = dhNext.pointer + bb * h
            let dcn = dcNext.pointer + bb * h
            let cp: UnsafePointer<Float>? = s > 0 ? UnsafePointer(cells + ((s - 1) * b + bb) * h) : nil
            kernels.lstmCellBackward(gates: row, tanhCell: tc, cellPrevious: cp, outputGradient: dOut,
                                     hiddenGradient: dhn, cellGradient: dcn, gateGradient: dgRow, hiddenSize: h)
          }
          if s > 0 {
            // dh' = dG_s W_hh (rows not yet started are zero in dG_s)
            dhNext.pointer.update(repeating: 0, count: b * h)
            recurrent.multiply(dG + s * b * g, ldx: g, rows: b, into: dhNext.pointer, ldy: h, reverse: s & 1 == 1)
          }
        }
      }
    }
    // Parameter gradients as whole-sequence GEMMs.
    let dG = dGates.pointer
    let hidden = cache.hidden.pointer
    grads.weightHH.data.withUnsafeMutableBufferPointer { dwhh in
      if steps > 1 {
        // dW_hh += sum_s dG_s^T H_{s-1}
        sgemm(transA: true, transB: false, m: g, n: h, k: (steps - 1) * b, alpha: 1,
              a: dG + b * g, lda: g, b: hidden, ldb: h, beta: 1, c: dwhh.baseAddress!, ldc: h)
      }
    }
    grads.biasIH.data.withUnsafeMutableBufferPointer { dbi in
      grads.biasHH.data.withUnsafeMutableBufferPointer { dbh in
        for r in 0..<rows {
          let p = dG + r * g
          var j = 0
          while j + 8 <= g {
            let v = load8(p + j)
            store8(load8(dbi.baseAddress! + j) + v, dbi.baseAddress! + j)
            store8(load8(dbh.baseAddress! + j) + v, dbh.baseAddress! + j)
            j += 8
          }
          while j < g { dbi[j] += p[j]; dbh[j] += p[j]; j += 1 }
        }
      }
    }
    cache.input.data.withUnsafeBufferPointer { px in
      let xs = reverse ? UnsafePointer(cache.stepInput!.pointer) : px.baseAddress!
      grads.weightIH.data.withUnsafeMutableBufferPointer { dwih in
        // dW_ih += dG^T Xs
        sgemm(transA: true, transB: false, m: g, n: inputSize, k: rows, alpha: 1,
              a: dG, lda: g, b: xs, ldb: inputSize, beta: 1, c: dwih.baseAddress!, ldc: inputSize)
      }
    }
    weightIH.data.withUnsafeBufferPointer { wih in
      if reverse {
        let dxs = FloatBuffer(count: rows * inputSize, zeroed: false)   // written by the GEMM (beta 0)
        sgemm(transA: false, transB: false, m: rows, n: inputSize, k: g, alpha: 1,
              a: dG, lda: g, b: wih.baseAddress!, ldb: inputSize, beta: 0, c: dxs.pointer, ldc: inputSize)
        dInput.data.withUnsafeMutableBufferPointer { pdx in
          forEachStepRow(lengths: lengths, steps: steps) { s, bb, t in
            (pdx.baseAddress! + (t * b + bb) * inputSize)
              .update(from: dxs.pointer + (s * b + bb) * inputSize, count: inputSize)
          }
        }
      } else {
        dInput.data.withUnsafeMutableBufferPointer { pdx in
          // dX = dG W_ih (rows of padding frames are zero in dG, so zero here)
          sgemm(transA: false, transB: false, m: rows, n: inputSize, k: g, alpha: 1,
                a: dG, lda: g, b: wih.baseAddress!, ldb: inputSize, beta: 0, c: pdx.baseAddress!, ldc: inputSize)
        }
      }
    }
    return dInput
  }
}

/// Below batch 4, input projections of at most this many rows (a clip of a few seconds) use
/// W_ih packed once for the recurrent kernel instead of BLAS, which repacks W_ih on every
/// call: `earshot transcribe` of 500 isolated digits (about 40 frames each) about 10% less
/// CPU, of 380 connected strings (decoded in stretches of speech) 3-4% less, same transcripts
/// (4 and 2 interleaved runs beside training).
let packedProjectionRows = 256

/// Rows (steps x batch) per input-projection GEMM in inference: large enough for an efficient
/// GEMM, small enough that the gate buffer (rows x 4H floats) stays in L2/L3.
let inferenceChunkRows = 256

/// Rows per input-projection GEMM below batch 4. OpenBLAS repacks W_ih (up to 2 MB) for every
/// GEMM, which a 256-row GEMM does not amortise; at batch 1 x 1000 frames on the bench model,
/// 1024 rows measured 3-4% faster overall (4 of 4 interleaved runs; no gain at batch 16).
let inferenceChunkRowsSmallBatch = 1024

/// Calls `body(step, sequence, frame)` for every real frame of a reverse-ordered batch, where
/// step `s` of sequence `b` is frame `lengths[b] - 1 - s`.
@inline(__always)
func forEachStepRow(lengths: [Int], steps: Int, _ body: (Int, Int, Int) -> Void) {
  for s in 0..<steps {
    for (b, n) in lengths.enumerated() where s < n { body(s, b, n - 1 - s) }
  }
}

/// W_hh as inference multiplies by it: packed floats or 8-bit columns.
private enum RecurrentProduct {
  case float(PackedMatrix)
  case int8(QuantizedMatrix)

  /// y (rows, 4 hiddenSize) += h (rows, hiddenSize) W_hh^T at step `step`. The float product
  /// walks its panels in alternate directions step by step, so that the ones used last (still
  /// in cache) come first.
  @inline(__always)
  func multiply(_ h: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, step: Int) {
    switch self {
    case .float(let m): m.multiply(h, ldx: m.k, rows: rows, into: y, ldy: m.n, reverse: step & 1 == 1)
    case .int8(let m): m.multiply(h, ldx: m.k, rows: rows, into: y, ldy: m.n)
    }
  }
}

/// A packed matrix (``PackedMatrix``, ``QuantizedMatrix``) made once, on first use, by
/// whichever thread asks first; later callers share it (it is only read after it is made).
final class PackOnce<Packed: AnyObject>: @unchecked Sendable {
  private let lock = NSLock()
  private var packed: Packed?

  func value(_ make: () -> Packed) -> Packed {
    lock.lock()
    defer { lock.unlock() }
    if let packed { return packed }
    let made = make()
    packed = made
    return made
  }
}

/// What ``LSTM/forward(_:)`` keeps for ``LSTM/backward(_:cache:into:)``, stored step-major:
/// row `s * batchSize + b` is step `s` of sequence `b` (frame `s`, or `length - 1 - s` when
/// reversed).
public final class LSTMCache {
  let steps: Int
  let lengths: [Int]
  var input: Matrix
  /// The input in step order (reverse layers only), (T*B, inputSize).
  var stepInput: FloatBuffer?
  /// Activated gates i, f, g, o, (T*B, 4H).
  let gates: FloatBuffer
  /// Cells c and tanh(c), (T*B, H) each.
  let cells: FloatBuffer
  let tanhCells: FloatBuffer
  /// Hidden states h, (T*B, H); zero after a sequence ends.
  let hidden: FloatBuffer

  init(steps: Int, lengths: [Int], inputSize: Int, hiddenSize: Int, reverse: Bool) {
    self.steps = steps
    self.lengths = lengths
    self.input = Matrix(rows: 0, cols: inputSize)
    let rows = steps * lengths.count
    // Gates are all written by the input projection; cells and tanh(c) are read only for
    // real frames, which forward writes. Only `hidden` must start at zero (padding rows).
    gates = FloatBuffer(count: rows * 4 * hiddenSize, zeroed: false)
    cells = FloatBuffer(count: rows * hiddenSize, zeroed: false)
    tanhCells = FloatBuffer(count: rows * hiddenSize, zeroed: false)
    hidden = FloatBuffer(count: rows * hiddenSize)
  }
}
