// Times Earshot's 3-layer BiLSTM (256 per direction, 80 inputs, Linear to 29, log-softmax):
//   lstm-bench infer BATCH FRAMES THREADS REPS
//   lstm-bench infer8 BATCH FRAMES THREADS REPS    (inference with InferencePrecision.int8)
//   lstm-bench train BATCH FRAMES THREADS REPS     (forward, CTC, backward, Adam)
// Prints one line: mode, shape, threads, median and min milliseconds, peak RSS in MiB, minor
// page faults per timed call (memory the process had to be handed anew).
// Run through scripts/bench/lstm, which also runs PyTorch on the same shapes.
import Earshot
import Foundation

let args = CommandLine.arguments
guard args.count == 6, let batch = Int(args[2]), let frames = Int(args[3]),
      let threads = Int(args[4]), let reps = Int(args[5]), ["infer", "infer8", "train"].contains(args[1]) else {
  FileHandle.standardError.write("usage: lstm-bench infer|infer8|train BATCH FRAMES THREADS REPS\n".data(using: .utf8)!)
  exit(64)
}
let mode = args[1]
Neural.setThreads(threads)
// As `earshot train` does (its trainers call it when a run starts); inference does not.
if mode == "train" { Neural.keepFreedMemory() }
var arch = ModelArchitecture()
arch.inputSize = 80
arch.hiddenSize = 256
arch.numLayers = 3
arch.outputSize = 29
var generator = SeededGenerator(seed: 1)
var model = SequenceModel(architecture: arch, generator: &generator)
if mode == "infer8" { model.inferencePrecision = .int8 }
let input = SequenceBatch(data: generator.normalMatrix(rows: frames * batch, cols: 80),
                          lengths: [Int](repeating: frames, count: batch))
let targets = (0..<batch).map { _ in (0..<(frames / 6)).map { _ in 1 + Int(generator.next() % 28) } }
var grads = model.zeroGradients()
var adam = Adam()
var sink: Float = 0

@MainActor func once() {
  if mode != "train" {
    let lp = model.logProbabilities(input)
    sink += lp.data.data[0]
  } else {
    let (lp, cache) = model.forward(input, training: true, generator: &generator)
    let ctc = CTCLoss(zeroInfinity: true)(lp, targets: targets)
    grads.zeroAll()
    _ = model.backward(ctc.gradient, cache: cache, into: &grads)
    adam.update(&model, gradients: grads)
    sink += ctc.loss
  }
}

once()  // warm-up
var times: [Double] = []
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let faultsBefore = usage.ru_minflt
for _ in 0..<reps {
  let start = DispatchTime.now().uptimeNanoseconds
  once()
  times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
}
times.sort()
getrusage(RUSAGE_SELF.rawValue, &usage)
let faultsPerStep = (usage.ru_minflt - faultsBefore) / reps
print(String(format: "earshot %@ batch=%d frames=%d threads=%d median_ms=%.1f min_ms=%.1f peak_rss_mib=%.0f faults_per_step=%d check=%g",
             mode, batch, frames, threads, times[times.count / 2], times[0], Double(usage.ru_maxrss) / 1024, faultsPerStep,
             Double(sink))
      + " blas=\(Neural.blasKernels)" + (Neural.blasKernelsOverride == nil ? "" : "(earshot-override)"))
