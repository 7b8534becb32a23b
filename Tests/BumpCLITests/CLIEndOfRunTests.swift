import BumpKit
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The phase after training (final metrics, statistics, plots, summary) streams the rows in
/// batches: it takes a signal between batches and fits the memory estimate, so that a run
/// that passed the check before training cannot fail for memory afterwards. The tool runs as
/// a subprocess (see ``CLIReliabilityTests/Child``).
@Suite struct CLIEndOfRunTests {
  typealias Scratch = CLITrainTests.Scratch
  typealias Child = CLIReliabilityTests.Child

  /// SIGTERM while the results are computed (a wide model on many rows makes that phase
  /// last): the folder is published with the final weights marked interrupted, a summary
  /// that says so, status 128 + 15, and no `.partial` folder.
  @Test func aSignalAfterTrainingPublishesTheFinalWeightsMarkedInterrupted() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let child = try Child.start(
      [
        "train", "--dataset", "regression", "--samples", "100000", "--layers", "1024,1024",
        "--activation", "relu", "--epochs", "1", "--batch-size", "4096", "--patience", "0",
        "--final-model", "early-stopped",  // the results phase follows training at once (issue 18)
        "--output", run,
      ], in: scratch.url)
    try child.wait(forOutput: "epoch 1/1 ")
    // Past the final checkpoint's save, into the pass over the rows.
    usleep(300_000)
    kill(child.pid, SIGTERM)
    let result = try child.finish()
    #expect(result.status == 128 + SIGTERM, "\(result.stderr)")
    #expect(
      result.stderr.contains("interrupted by SIGTERM after training, while the results were computed"),
      "\(result.stderr)")
    #expect(try scratch.entries() == ["run"], "no .partial folder")
    let files = try FileManager.default.contentsOfDirectory(atPath: run)
    #expect(files.allSatisfy { !$0.hasPrefix(".") }, "temporary files: \(files)")
    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    #expect(summary.contains("INTERRUPTED: interrupted by SIGTERM after training"), "\(summary)")
    #expect(summary.contains("model.safetensors holds the final weights"), "\(summary)")
    let inspect = try Child.run(["inspect", run + "/model.safetensors"])
    #expect(inspect.stdout.contains("status: interrupted"), "\(inspect.stdout)")
  }

  /// Under an address-space limit (`ulimit -v`) or `BUMP_MEMORY_LIMIT`, a run either
  /// completes or is refused before training with status 1 and what it needs; it never
  /// crashes, hangs (the wait is bounded) or leaves a `.partial` folder. With both set
  /// (`BUMP_MEMORY_LIMIT` far above `ulimit -v`), the address-space limit still holds:
  /// beyond it OpenBLAS would retry a mapping forever and an allocation would abort.
  @Test(arguments: ["ulimit", "BUMP_MEMORY_LIMIT", "both"])
  func underAMemoryLimitARunCompletesOrIsRefusedBeforeTraining(kind: String) throws {
    let scratch = try Scratch()
    var outcomes: [Int32] = []
    // (Below about 150 MiB of address space the dynamic loader itself fails, before main.)
    for mib in [200, 300, 450, 600, 1024] {
      let output = scratch.path("run-\(mib)")
      let train = [
        "train", "--dataset", "regression", "--samples", "2000000", "--epochs", "1",
        "--batch-size", "256", "--patience", "0", "--output", output,
      ]
      let result =
        kind == "BUMP_MEMORY_LIMIT"
        ? try Child.run(train, environment: ["BUMP_MEMORY_LIMIT": "\(mib)M"], in: scratch.url)
        : try Child.run(
          ["/bin/sh", "-c", "ulimit -v \(mib * 1024); exec \"$0\" \"$@\"", "BUMP"] + train,
          environment: kind == "both" ? ["BUMP_MEMORY_LIMIT": "64G"] : [:], shell: true,
          in: scratch.url)
      let what = "\(kind) \(mib) MiB"
      outcomes.append(result.status)
      #expect(result.status == 0 || result.status == 1, "\(what): \(result.stderr)")
      if result.status == 1 {
        #expect(result.stderr.contains("not enough memory"), "\(what): \(result.stderr)")
        #expect(!result.stdout.contains("epoch 1/1"), "\(what): refused after training started")
        #expect(!FileManager.default.fileExists(atPath: output), "\(what)")
      } else {
        #expect(FileManager.default.fileExists(atPath: output + "/summary.txt"), "\(what)")
      }
    }
    let entries = try scratch.entries()
    #expect(entries.allSatisfy { !$0.hasPrefix(".") }, "debris: \(entries)")
    // The limits span both outcomes: the smallest is refused, the largest completes.
    #expect(outcomes.first == 1 && outcomes.last == 0, "\(outcomes)")
  }
}
