import ArgumentParser
import BumpKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The `bump` command-line tool: the root command, which only dispatches to subcommands.
///
/// Subcommands:
/// - `train` (``TrainCommand``, the default: `bump` alone trains on the built-in rings
///   dataset): trains a network and writes a run folder with the model, history and plots.
/// - `predict` (``PredictCommand``): applies a trained model to a CSV file.
/// - `evaluate` (``EvaluateCommand``): the loss and accuracy of a model on a labelled CSV file.
/// - `inspect` (``InspectCommand``): what a checkpoint holds.
/// - `function` (``FunctionCommand``): tabulates g(x) = a·f(x − c; σ) and its partial
///   derivatives as CSV.
package struct BumpCommand: ParsableCommand {
  package static let configuration = CommandConfiguration(
    commandName: "bump",
    abstract: "Trainable generalized bump functions: evaluate, train and inspect.",
    discussion: """
      Without a subcommand, `bump` runs `bump train`: with no options at all it trains a \
      bump network on the built-in rings dataset and prints where the run folder is.
      """,
    subcommands: [
      TrainCommand.self, PredictCommand.self, EvaluateCommand.self, InspectCommand.self,
      FunctionCommand.self,
    ],
    defaultSubcommand: TrainCommand.self
  )

  /// Parses and runs the command like ArgumentParser's own `main()`, except that a failure is
  /// reported on standard error in one line (a list it holds one item a line), without the
  /// usage text that buries the message when scripts log it (`--help` shows the usage).
  package static func main() {
    InterruptHandler.install()
    if let bad = ArgumentEncoding.firstInvalidArgument() {
      Console.error(ArgumentEncoding.message(index: bad.index, shown: bad.shown))
      terminate(64)
    }
    do {
      var command = try parseAsRoot()
      // Only training runs over several processes: the others would each do the whole job
      // (predict printed everything once per process) and leave mpirun's warning.
      if Processes.group != nil, !(command is TrainCommand) {
        Processes.exitAgreed = true
        throw CLIError.notWithProcesses(what: "bump \(Swift.type(of: command)._commandName)")
      }
      // The commands that multiply matrices say once when OpenBLAS runs a generic core.
      if command is TrainCommand || command is PredictCommand || command is EvaluateCommand,
        let advice = BLAS.configuration.advice
      {
        Console.error(advice)
      }
      // OpenBLAS's threads spin for a tenth of a second after loading, taking a share of the
      // cores that reading a file needs; they start again at the first threaded product.
      if command is TrainCommand || command is PredictCommand || command is EvaluateCommand {
        BLAS.endIdleThreads()
      }
      try command.run()
      InterruptHandler.exitIfPending()
      if let failure = Console.outputFailure() {
        Console.error("Error: " + failure)
        terminate(1)
      }
      terminate(0)
    } catch {
      InterruptHandler.exitIfPending()
      let code = exitCode(for: error)
      if code == .success {
        let text = fullMessage(for: error)
        if !text.isEmpty { print(text) }
        if let failure = Console.outputFailure() {
          Console.error("Error: " + failure)
          terminate(1)
        }
        terminate(code.rawValue)
      }
      let text = errorMessage(for: error)
      if !text.isEmpty { Console.error(text) }
      terminate(code.rawValue)
    }
  }

  package init() {}

  /// `Error: <message>` on one line, without the usage text.
  package static func oneLineMessage(for error: Error) -> String {
    errorMessage(for: error).replacingOccurrences(of: "\n", with: " ")
  }

  /// `Error: <message>` as ``oneLineMessage(for:)`` has it, except that a list the message
  /// holds (its lines indented by two spaces: the unusable cells of a file, its missing
  /// cells) keeps one item a line.
  package static func errorMessage(for error: Error) -> String {
    var text = ""
    for line in message(for: error).split(whereSeparator: \.isNewline) where !line.isEmpty {
      if text.isEmpty {
        text = String(line)
      } else {
        text += (line.hasPrefix("  ") ? "\n" : " ") + line
      }
    }
    return text.isEmpty ? "" : "Error: " + text
  }
}

/// Ends the process with `code` at once, after flushing what `print` buffered: without
/// running exit handlers, which include OpenBLAS's, which waits for its worker threads —
/// forever when one of them is stuck retrying a memory mapping that does not fit (an
/// address-space limit), so that even an error message could not end the process.
func terminate(_ code: Int32) -> Never {
  fflush(nil)
  Processes.finish()
  _exit(code)
}
