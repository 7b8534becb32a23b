import BumpKit
import Foundation

/// Shows training progress: on a terminal a bar per epoch, redrawn in place with `\r`
/// (epoch i/N, bar, loss, validation loss, samples/s, ETA) and left as a finished line when
/// the epoch ends; otherwise one plain line per epoch.
final class ProgressReporter {
  let interactive: Bool
  private let barWidth = 24
  private let clock = ContinuousClock()
  private var lastDraw: ContinuousClock.Instant?
  private var lineOpen = false

  init(interactive: Bool = Console.outputIsTerminal) { self.interactive = interactive }

  /// Reports one event from ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``.
  func report(_ p: TrainingProgress) {
    switch p.event {
    case .batch:
      guard interactive else { return }
      // Redraw at most 20 times a second: a terminal is slower than a small batch.
      let now = clock.now
      if let lastDraw, now - lastDraw < .milliseconds(50), p.batch + 1 < p.batches { return }
      lastDraw = now
      draw(p, done: Double(p.batch + 1) / Double(p.batches), final: false)
    case .epoch:
      if interactive {
        draw(p, done: 1, final: true)
      } else {
        Console.line(plainLine(p))
      }
    }
  }

  /// Ends a half-drawn line (before an error message or the summary).
  func finish() {
    if lineOpen {
      Console.write("\n")
      lineOpen = false
    }
  }

  private func draw(_ p: TrainingProgress, done: Double, final: Bool) {
    let filled = Int((done * Double(barWidth)).rounded(.down))
    let bar =
      String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled)
    var text = "\r\(epochText(p)) \(bar) loss \(formatted(p.loss))"
    if let v = p.validationLoss { text += "  val loss \(formatted(v))" }
    text += "  \(Self.rate(p.samplesPerSecond)) samples/s  "
    text +=
      final && p.epoch + 1 == p.epochs
      ? "\(Self.duration(p.elapsed)) total" : "ETA \(Self.duration(p.remaining))"
    text += "\u{1B}[K"  // clear the rest of a longer previous line
    if final {
      text += "\n"
      lineOpen = false
    } else {
      lineOpen = true
    }
    Console.write(text)
  }

  private func plainLine(_ p: TrainingProgress) -> String {
    var text = "\(epochText(p))  loss \(formatted(p.loss))"
    if let v = p.validationLoss { text += "  val_loss \(formatted(v))" }
    text += "  \(Self.rate(p.samplesPerSecond)) samples/s  ETA \(Self.duration(p.remaining))"
    return text
  }

  private func epochText(_ p: TrainingProgress) -> String {
    let total = String(p.epochs)
    let current = String(p.epoch + 1)
    return "epoch " + String(repeating: " ", count: max(0, total.count - current.count))
      + "\(current)/\(total)"
  }

  /// `512`, `41.2k`, `1.3M`.
  static func rate(_ value: Double) -> String {
    guard value.isFinite else { return "-" }
    if value >= 1e6 { return String(format: "%.1fM", value / 1e6) }
    if value >= 1e4 { return String(format: "%.1fk", value / 1e3) }
    return String(format: "%.0f", value)
  }

  /// `0.04s`, `2.5s`, `12s`, `3m05s`, `1234h05m`; `years` from 10⁸ s (about 3 years) on,
  /// as the ETA of a budget such as 10¹⁸ epochs ("until early stopping") is.
  static func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "-" }
    // Int(seconds) would trap beyond Int.max.
    if seconds >= 1e8 { return "years" }
    if seconds < 1 { return String(format: "%.2fs", seconds) }
    if seconds < 10 { return String(format: "%.1fs", seconds) }
    if seconds < 60 { return String(format: "%.0fs", seconds) }
    let s = Int(seconds.rounded())
    if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
  }
}
