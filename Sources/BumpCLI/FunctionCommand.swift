import ArgumentParser
import BumpKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `bump function`: tabulates g(x) = a·f(x − c; σ) and its partial derivatives as CSV on
/// standard output, computed by the SIMD kernels.
///
/// x values come from a file or standard input (one number per line), or from
/// `--from`/`--to`/`--steps`. Input is read and evaluated in batches, so output starts before
/// a long input ends; an error on a later line stops the command with a non-zero status after
/// the rows before it.
struct FunctionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "function",
    abstract: "Print g(x) = a·f(x − c; σ) and its partial derivatives as CSV.",
    discussion: """
      f(z; σ) = exp(−σ / (σ − z²)) for z² < σ and 0 elsewhere. Output columns: \
      \(BumpFunctionTable<Double>.csvHeader). Numbers are printed in the shortest form \
      that reads back exactly.

      x values are read one per line from <file>, or from standard input when <file> \
      is omitted or '-' (blank lines only at the end; inf and nan allowed; a line over \
      1 MiB, a NUL byte or text that is not UTF-8 is an error naming the line, as in CSV \
      files); or they are --steps evenly spaced points from --from to --to, both ends \
      included.
      """
  )

  // Numeric options parse their value unconditionally so that negative numbers (`--from -2`)
  // are values, not option names.

  /// Rows evaluated per kernel call.
  static let batchSize = 4096

  @Option(parsing: .unconditional, help: "σ ≥ 0: the support is (c − √σ, c + √σ).")
  var sigma: NumberArgument

  @Option(parsing: .unconditional, help: "The centre c.")
  var center: NumberArgument = NumberArgument(argument: "0")!

  @Option(parsing: .unconditional, help: "The amplitude a.")
  var amplitude: NumberArgument = NumberArgument(argument: "1")!

  @Option(help: "The floating-point type to evaluate in.")
  var precision: Precision = .double

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("The first x of an evenly spaced grid.", valueName: "x"))
  var from: NumberArgument?

  @Option(parsing: .unconditional, help: ArgumentHelp("The last x of the grid.", valueName: "x"))
  var to: NumberArgument?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("The number of grid points (≥ 1; 1 gives just --from).", valueName: "count"),
    transform: FunctionCommand.positiveCount)
  var steps: Int?

  /// `text` as a count ≥ 1; otherwise an error saying that it is not one (a value such as
  /// `-0` is read as a value, not as an option name).
  static func positiveCount(_ text: String) throws -> Int {
    guard let count = Int(text), count >= 1 else {
      // ArgumentParser quotes the value before this reason.
      throw ValidationError("it is not a positive count (1 or more)")
    }
    return count
  }

  @Argument(
    help: ArgumentHelp(
      "A file of x values, one per line ('-' for standard input).", valueName: "file"))
  var file: String?

  func validate() throws {
    let gridOptions = [("--from", from != nil), ("--to", to != nil), ("--steps", steps != nil)]
    let given = gridOptions.filter { $0.1 }.map { $0.0 }
    if !given.isEmpty {
      if let file {
        throw ValidationError("give either a file (\(file)) or --from/--to/--steps, not both")
      }
      let missing = gridOptions.filter { !$0.1 }.map { $0.0 }
      if !missing.isEmpty {
        let verb = given.count == 1 ? "needs" : "need"
        throw ValidationError(
          "\(given.joined(separator: " and ")) \(verb) \(missing.joined(separator: " and ")) too")
      }
    }
    if let steps, steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
    switch precision {
    case .float: _ = try inputs(Float.self)
    case .double: _ = try inputs(Double.self)
    }
    if given.isEmpty, file == nil, isatty(STDIN_FILENO) != 0 {
      throw ValidationError(
        "no x values: give a file, pipe numbers to standard input, or use --from, --to and --steps")
    }
  }

  /// The checked parameters and grid ends in `Scalar` (`nil` ends without a grid); failures
  /// name the option.
  private func inputs<Scalar: MatrixScalar>(
    _: Scalar.Type
  ) throws(ValidationError) -> (BumpFunctionParameters<Scalar>, grid: (Scalar, Scalar, exact: (Double, Double))?) {
    let parameters = try BumpFunctionParameters<Scalar>(
      sigma: sigma, center: center, amplitude: amplitude)
    guard let from, let to else { return (parameters, nil) }
    let (first, last) = (from.value(as: Scalar.self), to.value(as: Scalar.self))
    for (option, argument, value) in [("--from", from, first), ("--to", to, last)]
    where !value.isFinite {
      throw ValidationError(
        "\(option) must be finite in \(Scalar.self) precision, got \(argument.text)")
    }
    return (parameters, (first, last, (from.value(as: Double.self), to.value(as: Double.self))))
  }

  func run() throws {
    switch precision {
    case .float: try run(Float.self)
    case .double: try run(Double.self)
    }
  }

  private func run<Scalar: MatrixScalar>(_: Scalar.Type) throws {
    let (parameters, grid) = try inputs(Scalar.self)
    var xs: any NumberBatches<Scalar>
    if let (first, last, exact) = grid, let steps {
      xs = EvenlySpacedNumbers(from: first, to: last, count: steps, exactEnds: exact)
    } else {
      xs = LineNumbers<Scalar>(reader: try LineReader(path: file ?? "-"))
    }
    // Unbuffered writes, one per batch, each checked: a full disk or a closed pipe stops the
    // command with an error at any output size (through stdio a failure past its buffer
    // went unnoticed and the command exited 0).
    try write(BumpFunctionTable<Scalar>.csvHeader + "\n")
    let workspace = KernelWorkspace()
    while let batch = try xs.next(limit: Self.batchSize) {
      var text = ""
      BumpFunctionTable(parameters: parameters, x: batch, workspace: workspace).appendCSVRows(
        to: &text)
      try write(text)
    }
  }

  /// Writes to standard output; stops the command at the first failed write.
  ///
  /// - Throws: ``CLIError/outputFailed(_:)``.
  private func write(_ text: String) throws {
    Console.write(text)
    if let failure = Console.outputFailure() { throw CLIError.outputFailed(failure) }
  }
}
