/// How a frame that reaches past either end of the signal is filled.
enum EdgeMode {
  /// Zeros.
  case zero
  /// `numpy.pad(mode="reflect")`: x[-1] = x[1].
  case reflect
  /// Kaldi's mirror: x[-1] = x[0].
  case symmetric
}

/// Where frames start and how many there are, for a signal of a given length.
struct Framing {
  /// Samples per frame.
  var frameLength: Int
  /// Samples between frame starts.
  var hop: Int
  /// Start of frame 0 relative to sample 0 (negative with centring).
  var firstStart: Int
  /// How samples outside [0, n) are filled.
  var edge: EdgeMode
  /// Frames for a signal of n samples.
  var frameCount: (Int) -> Int

  /// Maps a sample index outside [0, n) into it, or nil for zero (always, when n is 0).
  @inline(__always)
  func sourceIndex(_ index: Int, count n: Int) -> Int? {
    if index >= 0 && index < n { return index }
    // Nothing to mirror in an empty signal: zeros, whatever the mode.
    if n == 0 { return nil }
    switch edge {
    case .zero: return nil
    case .reflect:
      if n == 1 { return 0 }
      let period = 2 * (n - 1)
      var i = index % period
      if i < 0 { i += period }
      return i < n ? i : period - i
    case .symmetric:
      // Mirrored with the edge repeated: period 2n, and the second half runs backwards. (A
      // loop that reflected until inside took O(|index| / n) steps: hours for a 1-sample
      // signal and a 2^20-sample frame.)
      var i = index % (2 * n)
      if i < 0 { i += 2 * n }
      return i < n ? i : 2 * n - 1 - i
    }
  }
}

/// Cuts a stream of samples into frames: blocks go in, complete frames come out, in bounded
/// memory (the signal's head, for mirroring, plus about one frame of history).
struct Framer {
  let framing: Framing
  /// The first `frameLength` samples: left-edge mirroring reads them.
  private var head: [Float] = []
  /// Samples `bufferStart ..< bufferStart + buffer.count` of the signal.
  private var buffer: [Float] = []
  private var bufferStart = 0
  private var nextFrame = 0
  private(set) var totalSamples = 0

  init(framing: Framing) { self.framing = framing }

  /// Adds samples; calls `body(first, count)` for the frames that lie wholly inside what has
  /// been seen (or need only left-edge mirroring of the retained head): `count` frames, frame f
  /// at `first + f * hop`. Frames inside `samples` come as one run read in place, frames that
  /// straddle the previous block as a run from the buffer, a mirrored or padded frame alone,
  /// from a copy. Only the first `frameLength` samples of the block and its unfinished tail
  /// are copied (an hour of audio is not copied again on its way to the frames).
  mutating func feed(_ samples: [Float], body: (UnsafePointer<Float>, Int) -> Void) {
    let length = framing.frameLength
    if head.count < length {
      head += samples.prefix(length - head.count)
    }
    let blockStart = totalSamples
    totalSamples += samples.count
    // A frame that starts before this block ends within its first `length` samples.
    buffer += samples.prefix(length)
    let bufferEnd = bufferStart + buffer.count
    // A frame may be emitted early only if no sample past the end is needed.
    var frame = [Float](repeating: 0, count: length)
    while true {
      let start = framing.firstStart + nextFrame * framing.hop
      let end = start + length
      guard end <= totalSamples else { break }
      if start < 0 && framing.edge != .zero && totalSamples < length + 1 { break }
      if start >= blockStart {
        // This frame and every later one that ends by `totalSamples`, in place in `samples`.
        let run = (totalSamples - end) / framing.hop + 1
        samples.withUnsafeBufferPointer { body($0.baseAddress! + (start - blockStart), run) }
        nextFrame += run
      } else if start >= bufferStart {
        // Frames that begin before this block: they end by `bufferEnd` (see above).
        let run = (bufferEnd - end) / framing.hop + 1
        buffer.withUnsafeBufferPointer { body($0.baseAddress! + (start - bufferStart), run) }
        nextFrame += run
      } else {
        fill(&frame, start: start, signalLength: nil)
        frame.withUnsafeBufferPointer { body($0.baseAddress!, 1) }
        nextFrame += 1
      }
    }
    keepTail(of: samples, from: blockStart)
  }

  /// Emits the remaining frames, mirroring or zero-padding past the end, one at a time
  /// (`body(frame, 1)`).
  mutating func finish(body: (UnsafePointer<Float>, Int) -> Void) {
    let count = framing.frameCount(totalSamples)
    var frame = [Float](repeating: 0, count: framing.frameLength)
    while nextFrame < count {
      let start = framing.firstStart + nextFrame * framing.hop
      fill(&frame, start: start, signalLength: totalSamples)
      frame.withUnsafeBufferPointer { body($0.baseAddress!, 1) }
      nextFrame += 1
    }
  }

  private func fill(_ frame: inout [Float], start: Int, signalLength: Int?) {
    let length = framing.frameLength
    let n = signalLength ?? Int.max
    frame.withUnsafeMutableBufferPointer { out in
      buffer.withUnsafeBufferPointer { buf in
        if start >= bufferStart && start + length <= bufferStart + buf.count && start + length <= n {
          // The common case: a plain copy.
          out.baseAddress!.update(from: buf.baseAddress! + (start - bufferStart), count: length)
          return
        }
        for j in 0..<length {
          let i = start + j
          let source: Int?
          if signalLength != nil {
            source = framing.sourceIndex(i, count: n)
          } else {
            source = i >= 0 ? i : framing.sourceIndex(i, count: totalSamples)
          }
          guard let s = source else {
            out[j] = 0
            continue
          }
          if s >= bufferStart && s < bufferStart + buf.count {
            out[j] = buf[s - bufferStart]
          } else {
            precondition(s < head.count, "sample \(s) dropped before frame at \(start) used it")
            out[j] = head[s]
          }
        }
      }
    }
  }

  /// Keeps in `buffer` what later frames and `finish` need: from the next frame's start, and
  /// at least the last `frameLength + 1` samples (the right edge's mirror), to the end of
  /// `samples`, which began at sample `blockStart`.
  private mutating func keepTail(of samples: [Float], from blockStart: Int) {
    let nextStart = framing.firstStart + nextFrame * framing.hop
    let keepFrom = max(0, min(nextStart, totalSamples - framing.frameLength - 1))
    if keepFrom >= blockStart {
      buffer = Array(samples[(keepFrom - blockStart)...])
    } else {
      // The block is shorter than what must stay: the old buffer's part from `keepFrom`, then
      // the whole block (its first samples are already at the buffer's end).
      // (`keepFrom` never decreases, so it is at or past `bufferStart`.)
      buffer.removeFirst(keepFrom - bufferStart)
      buffer += samples.dropFirst(min(samples.count, framing.frameLength))
    }
    bufferStart = keepFrom
  }
}
