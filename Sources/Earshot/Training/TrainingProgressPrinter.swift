import Foundation

/// Prints training progress on stderr: a redrawn one-line bar when stderr is a terminal,
/// otherwise one line every 100 steps; always one line per epoch.
///
/// Basic usage: `try trainer.train(output: dir, progress: TrainingProgressPrinter().callAsFunction)`.
public final class TrainingProgressPrinter: @unchecked Sendable {
  private let terminal: Bool
  private let interval: Int
  private var lastDraw = Date.distantPast
  private var drawn = false
  private let unit: String

  /// - Parameters:
  ///   - terminal: redraw a bar in place; default: whether stderr is a terminal.
  ///   - interval: steps between lines when not a terminal; default 100.
  ///   - unit: what the speed counts per second, "utt" (utterances) or "clips"; default "utt".
  public init(terminal: Bool = isatty(STDERR_FILENO) != 0, interval: Int = 100, unit: String = "utt") {
    self.terminal = terminal
    self.interval = max(interval, 1)
    self.unit = unit
  }

  /// Handles one event.
  public func callAsFunction(_ event: TrainingEvent) {
    switch event {
    case .step(let p):
      if terminal {
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || p.batch == p.batches else { return }
        lastDraw = now
        let width = 24
        let filled = p.batches == 0 ? 0 : width * p.batch / p.batches
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        write("\r\u{1B}[K" + "epoch \(p.epoch)/\(p.epochs) [\(bar)] \(p.batch)/\(p.batches) " + stats(p))
        drawn = true
      } else if p.step % interval == 0 {
        write("epoch \(p.epoch)/\(p.epochs) batch \(p.batch)/\(p.batches) " + stats(p) + "\n")
      }
    case .epoch(let m):
      var line = "epoch \(m.epoch): loss \(String(format: "%.4f", m.trainLoss))"
      if let wer = m.validWER {
        line += String(format: ", valid WER %.2f%%", 100 * wer)
        if let acc = m.validUtteranceAccuracy { line += String(format: ", accuracy %.2f%%", 100 * acc) }
      }
      line += String(format: ", lr %.2g, %.0f s, %.1f \(unit)/s", m.learningRate, m.seconds, m.utterancesPerSecond)
      if m.best { line += " (best)" }
      write((terminal && drawn ? "\r\u{1B}[K" : "") + line + "\n")
      drawn = false
    case .checkpoint:
      break
    case let .stopped(epoch, step, checkpoint):
      write((terminal && drawn ? "\r\u{1B}[K" : "") + "stopped in epoch \(epoch) at step \(step); checkpoint: \(checkpoint)\n")
      drawn = false
    }
  }

  private func stats(_ p: TrainingProgress) -> String {
    String(format: "step %d loss %.4f %.1f \(unit)/s ETA ", p.step, p.meanLoss, p.utterancesPerSecond) + Self.duration(p.etaSeconds)
  }

  static func duration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
  }

  private func write(_ s: String) {
    FileHandle.standardError.write(Data(s.utf8))
  }
}
