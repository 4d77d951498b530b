// Times the library path of `earshot features` in-process, best of N runs:
//   load:    AudioFile.loadMono(path:)
//   compute: FeatureExtractor(options:) + callAsFunction(samples)
// and prints one JSON object on stdout. Driven by scripts/bench/features; see its README.
//
// Usage: earshot-features-bench FILE --kind logmel|mfcc|fbank [--runs 5] [--fft-size 512]
//          [--window-length 400] [--hop-length 160] [--mel-bands 80] [--mfcc-count 20]
//          [--save OUT.npy]
import Earshot
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

struct Arguments {
  var file = ""
  var kind = FeatureKind.logmel
  var runs = 5
  var fftSize = 512
  var windowLength = 400
  var hopLength = 160
  var melBands = 80
  var mfccCount = 20
  var save: String?

  init(_ argv: [String]) {
    var rest = argv.dropFirst()
    func value(_ name: String) -> String {
      guard let v = rest.popFirst() else { fail("\(name) needs a value") }
      return v
    }
    func integer(_ name: String) -> Int {
      let v = value(name)
      guard let n = Int(v), n >= 1 else { fail("\(name) must be a positive integer (got \(v))") }
      return n
    }
    while let a = rest.popFirst() {
      switch a {
      case "--kind":
        let v = value(a)
        guard let k = FeatureKind(rawValue: v), [.logmel, .mfcc, .fbank, .pcen].contains(k) else {
          fail("--kind must be logmel, mfcc, fbank or pcen (got \(v))")
        }
        kind = k
      case "--runs": runs = integer(a)
      case "--fft-size": fftSize = integer(a)
      case "--window-length": windowLength = integer(a)
      case "--hop-length": hopLength = integer(a)
      case "--mel-bands": melBands = integer(a)
      case "--mfcc-count": mfccCount = integer(a)
      case "--save": save = value(a)
      default:
        guard !a.hasPrefix("-"), file.isEmpty else { fail("unknown argument \(a)") }
        file = a
      }
    }
    guard !file.isEmpty else { fail("give an audio file") }
  }

  /// The options `earshot features` builds for the same flags.
  var options: FeatureOptions {
    var o = FeatureOptions(kind: kind, sampleRate: 16_000)
    if kind == .fbank {
      o.fbank.melBands = melBands
    } else {
      o.spectrogram.fftSize = fftSize
      o.spectrogram.windowLength = windowLength
      o.spectrogram.hopLength = hopLength
      o.mel.melBands = melBands
      o.mfcc.mfccCount = mfccCount
      if kind == .pcen { o.spectrogram.power = PCENOptions.recommendedSpectrumPower }   // as `earshot features --kind pcen`
    }
    return o
  }
}

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("earshot-features-bench: \(message)\n".utf8))
  exit(64)
}

func now() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func median(_ xs: [Double]) -> Double {
  let s = xs.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

let args = Arguments(CommandLine.arguments)
let options = args.options
var load: [Double] = []
var compute: [Double] = []
var total: [Double] = []
var result: FeatureMatrix?
do {
  // One untimed warm-up (page cache, FFTW wisdom-free planning, allocator), then N timed runs.
  for run in 0...args.runs {
    let t0 = now()
    let audio = try AudioFile.loadMono(path: args.file)
    let t1 = now()
    let extractor = try FeatureExtractor(options: options)
    let features = try extractor(audio.samples)
    let t2 = now()
    if run > 0 {
      load.append(t1 - t0)
      compute.append(t2 - t1)
      total.append(t2 - t0)
    }
    result = features
  }
} catch {
  fail("\(args.file): \(error)")
}
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
if let path = args.save, let m = result {
  do { try NumpyArray(m).data().write(to: URL(fileURLWithPath: path)) } catch { fail("\(path): \(error)") }
}
func seconds(_ xs: [Double]) -> String { "{\"best\": \(xs.min()!), \"median\": \(median(xs))}" }
print(
  """
  {"tool": "earshot-library", "kind": "\(args.kind.rawValue)", "runs": \(args.runs), \
  "load": \(seconds(load)), "compute": \(seconds(compute)), "load_compute": \(seconds(total)), \
  "frames": \(result!.frames), "bins": \(result!.bins), "peak_rss_kb": \(usage.ru_maxrss)}
  """)
