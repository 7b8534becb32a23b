import ArgumentParser

/// The `bump` command-line tool: the root command, which only dispatches to subcommands.
///
/// Subcommands:
/// - `function` (``FunctionCommand``): tabulates g(x) = a·f(x − c; σ) and its partial
///   derivatives as CSV.
@main
struct BumpCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bump",
    abstract: "Trainable generalized bump functions: evaluate, train and inspect.",
    subcommands: [FunctionCommand.self]
  )
}
