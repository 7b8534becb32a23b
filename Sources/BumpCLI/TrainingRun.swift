import BumpKit
import Foundation

/// One `bump train` run in precision `Element`: prepares the data and model, trains with a
/// checkpoint at most once a second, and writes the run folder.
struct TrainingRun<Element: MatrixScalar> {
  let configuration: TrainingConfiguration
  /// `--output`, or nil for the default folder.
  let output: String?
  /// The least time between two checkpoints written during training (`--checkpoint-interval`);
  /// zero writes one after every epoch.
  var checkpointInterval: Duration = .seconds(1)
  /// The checkpoint of the run to continue (`--resume`), or nil for a new run.
  var resumeFrom: String?
  /// For tests: fail as an interrupted run does after this many epochs, with the checkpoint
  /// of that epoch written.
  var failAfterEpochs: Int?
  /// For tests: fail as an interrupted run does after this many epochs of the refit on all
  /// rows (`--final-model refit` or `ensemble`).
  var failAfterRefitEpochs: Int?
  /// For tests: the checkpoints saved during training after epochs up to this one fail, as
  /// on a full disk.
  var failSavesThroughEpoch: Int?
  /// For tests: runs just before the run folder is published (to take its name meanwhile).
  var beforePublishing: (() throws -> Void)?
  /// OpenBLAS as the run starts, for every summary: training holds OpenBLAS to one thread
  /// inside its workers, so a summary written when a run is interrupted would otherwise
  /// report 1 thread.
  let blasDescription = "\(BLAS.configuration)"

  /// The metadata entry that identifies the prepared data of a run: `training_data_digest`,
  /// 64-bit FNV-1a of the training and validation (and test, when there is a test part)
  /// matrices' bytes, in hexadecimal. Written into the checkpoints saved during training,
  /// which a resumed run must match.
  static var dataDigestKey: String { "training_data_digest" }

  /// The metadata entry of a run over a group of processes (`mpirun`): every process's
  /// ``dataDigestKey``, by rank, as a JSON array; a resumed run needs as many processes, each
  /// with its own rows.
  static var processDigestsKey: String { "process_data_digests" }

  /// Checks that the run this process resumes was trained on its data: the same digest (of
  /// this process's rows, over a group), and as many processes.
  ///
  /// - Parameter testData: the `--test-data` file, whose rows the digest covers too.
  static func checkResumedData(
    _ metadata: [String: String], digest: String, from path: String, source: String, testData: String? = nil
  ) throws {
    if let problem = processCountProblem(metadata, path: path) {
      throw CLIError.dataMismatch(path: source, reason: problem)
    }
    let expected = processDigests(metadata)?[Processes.rank] ?? metadata[dataDigestKey]
    guard expected == digest else {
      throw CLIError.dataMismatch(
        path: source,
        reason: "this is not the data the run in \(path) was trained on (after preparation "
          + (testData.map { "the rows of this file or of the --test-data file \($0 == "-" ? "(standard input)" : $0) differ); " }
            ?? "its rows differ); ")
          + "a resumed run needs the same data, prepared by the same version of bump (this version splits and "
          + "standardizes a file's rows differently from those before 2026-12-06)")
    }
  }

  /// The ``processDigestsKey`` entry of `metadata`: every process's data digest by rank, or
  /// nil for a run of one process.
  static func processDigests(_ metadata: [String: String]) -> [String]? {
    metadata[processDigestsKey].flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
  }

  /// Why the run whose checkpoint has `metadata` cannot be resumed over this many processes
  /// (it must be as many as it was trained over), or nil; `path` names it in the message.
  static func processCountProblem(_ metadata: [String: String], path: String? = nil) -> String? {
    let trainedOver = processDigests(metadata)?.count ?? 1
    guard trainedOver != (Processes.group?.size ?? 1) else { return nil }
    return "the run\(path.map { " in \($0)" } ?? "") was trained over \(trainedOver) process\(trainedOver == 1 ? "" : "es"); "
      + "resume it with as many (mpirun -np \(trainedOver)\(trainedOver == 1 ? ", or without mpirun" : ""))"
  }

  /// The metadata entry of the checkpoint saved when training has ended and the final model
  /// is being refitted on all rows (`--final-model refit` or `ensemble`): it holds the
  /// early-stopped model, and a refit cannot be resumed, which `--resume` says.
  static var refitPhaseKey: String { "refit_phase" }

  /// Where training is: the batch that runs next (0-based).
  private struct Position {
    var epoch = 0
    var batch = 0
    var batches = 0
  }

  func run() throws {
    // Everything that can fail on the user's input happens before the folder exists. A
    // signal while the data is read or prepared ends the run at once: nothing is written.
    InterruptHandler.setMessage("\nError: interrupted before training; no run folder was created\n")
    // Over a group, first of all: every process was started as process 0 was.
    try Processes.checkStartedAlike(configuration, output: output, resumeFrom: resumeFrom)
    let runClock = ContinuousClock()
    let runStart = runClock.now
    let data = try PreparedData<Element>(configuration, budget: try MemoryBudget.current())
    let readingSeconds = Self.seconds(runClock.now - runStart)
    let task = data.training.task
    if configuration.loss == .bce, task.classes != 2 {
      throw CLIError.dataMismatch(
        path: data.source,
        reason:
          "--loss bce needs exactly 2 classes, the target \(MessageText.quoted(data.training.targetName)) has \(task.classes ?? 0); use --loss softmax"
      )
    }
    if case .regression = task { try Processes.agreeing("checking its targets") {
      // The squared error of a target beyond √(greatest finite value) overflows, and a step
      // then changes nothing while the loss looks finite in Double: refuse it up front.
      let bound = Element.greatestFiniteMagnitude.squareRoot()
      let y = data.training.y
      if let big = (0..<y.rows).lazy.map({ y[$0, 0] }).first(where: { abs($0) > bound / 2 }) {
        throw CLIError.dataMismatch(
          path: data.source,
          reason:
            "the target \(MessageText.quoted(data.training.targetName)) holds \(big), too large to train on in \(configuration.precision.rawValue) precision: squared errors overflow beyond about \(formatted(Double(bound / 2))); rescale the target or use --precision double"
        )
      }
    } }
    let outputs = ModelFactory.outputs(
      task: task, targetColumns: data.training.y.columns, loss: configuration.loss)
    let loss = ModelFactory.loss(configuration.loss, as: Element.self)
    // What training minimizes (with label smoothing); the results are scored with `loss`.
    let trainingLoss = try ModelFactory.trainingLoss(configuration, as: Element.self)
    // As `fit` counts them; written so that no batch size overflows.
    let stepsPerEpoch = (data.training.count - 1) / configuration.batchSize + 1
    let optimizer = try ModelFactory.optimizer(
      configuration, stepsPerEpoch: stepsPerEpoch, as: Element.self)
    let digest = Self.digest(data)
    // Over a group, every process's digest, by rank: a resumed run checks its own.
    let digests = try Processes.group.map { try GroupStatistics.allGather([digest], in: $0).map { $0.first ?? "" } }
    let model: Sequential<Element>
    var resumed: TrainingState<Element>?
    if let resumeFrom {
      let (loaded, state) = try Processes.agreeing("resuming") {
        let (loaded, metadata, state) = try Checkpoint.loadForResuming(Element.self, from: resumeFrom, optimizer: optimizer)
        try Self.checkResumedData(
          metadata, digest: digest, from: resumeFrom, source: data.source, testData: configuration.testDataFile)
        return (loaded, state)
      }
      model = loaded
      resumed = state
      if Processes.group != nil {
        // The state is process 0's: each process goes on with its own rows (their digest
        // checked above) and its own visiting order.
        resumed?.run = TrainingRunIdentity(
          seed: configuration.seed &+ Processes.seedOffset, shuffle: true, trainingRows: data.training.count,
          batchSize: configuration.batchSize)
      }
    } else {
      model = try ModelFactory.model(
        configuration, inputs: data.training.x.columns, outputs: outputs, as: Element.self)
      try ModelFactory.placeRadialCenters(model, on: data.training.x, seed: configuration.seed)
      try Processes.shareParameters(of: model)
    }
    var info = data.modelInfo(configuration)

    // Creating the folder and its first checkpoint is one step for a signal: it sees no
    // folder, or a folder with a complete checkpoint and a summary saying it was interrupted.
    let folder = try InterruptHandler.critical {
      let folder = try Processes.agreeing("creating the run folder") {
        try RunFolder(output: Processes.privateRunFolder() ?? output, defaultStem: configuration.sourceName)
      }
      do {
        // A resumed run's first checkpoint can be resumed from again.
        if let resumed {
          var metadata = try info.metadata()
          metadata[Self.dataDigestKey] = digest
          if let digests { metadata[Self.processDigestsKey] = try ModelInfo.json(digests) }
          try Checkpoint.save(
            model, to: folder.file("model.safetensors"), metadata: metadata, optimizer: optimizer, training: resumed)
        } else {
          try Checkpoint.save(model, to: folder.file("model.safetensors"), metadata: try info.metadata())
        }
      } catch {
        folder.discard()
        throw error
      }
      setInterruptFallback(
        folder, data: data, model: model,
        summary: "FAILED: interrupted during training; model.safetensors holds the weights at the end of the last epoch saved (at most once a second; or the initial ones).",
        message: "interrupted; the last good checkpoint is")
      return folder
    }
    if output == nil, Processes.isWriter {
      // Not the folder this run resumes from, if it is one of them.
      let resumedFolder = resumeFrom.map { RunFolder.split($0).parent }
      let abandoned = RunFolder.abandonedFolders(in: "runs").filter { path in
        resumedFolder.map { !ModelFile.sameFile(path, $0) } ?? true
      }
      if !abandoned.isEmpty {
        Console.error(
          "Note: runs/ holds \(abandoned.count == 1 ? "a folder" : "\(abandoned.count) folders") that runs left when "
            + "they ended without finishing: " + abandoned.prefix(3).joined(separator: ", ")
            + (abandoned.count > 3 ? " and \(abandoned.count - 3) more" : "")
            + "; bump train --resume <folder>/model.safetensors may continue one, or remove them")
      }
    }
    let checkpointPath = folder.file("model.safetensors")

    Console.line(headerText(data: data, model: model, folder: folder))

    // MARK: Training
    let reporter = ProgressReporter()
    // The epochs finished so far, as the epoch-end hook saw them: the history of a run that
    // fails.
    var finished = resumed?.history ?? History()
    var position = Position()
    var lastGood =
      resumed.map { "the weights at the end of epoch \($0.epochsCompleted), where the resumed run started" }
      ?? "the initial weights (no epoch finished)"
    // The last checkpoint save during training that failed (a full disk, a lost mount): the
    // run goes on, tries again at the next checkpoint and saves its final weights as usual;
    // cleared by the next save that succeeds.
    var saveFailure: (epoch: Int, error: any Error)?
    /// What the last good checkpoint holds, and why it is not a later one.
    func lastGoodAndCause() -> String {
      lastGood + (saveFailure.map { " (saving the checkpoint after epoch \($0.epoch) failed: \($0.error))" } ?? "")
    }
    let clock = ContinuousClock()
    let start = clock.now
    var lastSave = start
    var history: History?
    var failure: Error?
    // The final model: the early-stopped one, or after a refit the refit (and with it, for an
    // ensemble, the early-stopped one).
    var finalModels = [model]
    var finalRecord: FinalModelRecord?
    // While the final model is refitted: its epochs (for messages) and seconds.
    var refitEpochs: Int?
    var refitSeconds = 0.0
    // Over a group, the optimizer whose steps carry a stop request (training's, then the
    // refit's).
    let groupStop = GroupStop<Element>()
    // A signal during training is acted on at the next batch, here on the main thread: the
    // run folder is published with the last good checkpoint marked as interrupted.
    // After training, `when` says where (the results being computed).
    func stopIfInterrupted(when: String? = nil) {
      let signal: Int32
      if when == nil, let grouped = groupStop.optimizer {
        // Over a group a signal stops every process at the same step: asked for with the
        // next step, acted on once the group has agreed.
        if let pending = InterruptHandler.pendingSignal, !groupStop.asked {
          InterruptHandler.acknowledge()
          grouped.requestStop(code: Int(pending))
          groupStop.asked = true
        }
        guard let code = grouped.agreedStop else { return }
        signal = Int32(code)
        Processes.exitAgreed = true
      } else {
        guard let pending = InterruptHandler.pendingSignal else { return }
        InterruptHandler.acknowledge()
        // Over a group, once training is over, a process other than 0 does not stop on its
        // own: process 0 would wait for it forever in the results' next exchange and never
        // publish the folder. It goes on, and ends with the signal's status once the results
        // are written (below).
        if when != nil, Processes.group != nil, !Processes.isWriter { return }
        signal = pending
      }
      reporter.finish()
      let message =
        "interrupted by \(InterruptHandler.name(of: signal)) "
        + (when
          ?? refitEpochs.map {
            "at epoch \(position.epoch + 1)/\($0) of the refit on all rows, after \(FinalModelRecord.trainingEnd(earlyStopping: configuration.patience != nil))"
          }
          ?? "at epoch \(position.epoch + 1)/\(configuration.epochs)")
      let held = lastGoodAndCause()
      InterruptHandler.critical {
        do {
          try recordFailure(
            message: message, status: "interrupted", lastGood: held, finished: finished,
            info: info,
            seconds: Self.seconds(clock.now - start), data: data, model: model, folder: folder)
        } catch {
          try? folder.publish()
        }
        InterruptHandler.clearFallback()
      }
      Console.error(
        "Error: \(message); the last good checkpoint, which holds \(held), is in \(folder.location)/model.safetensors")
      terminate(128 + signal)
    }
    InterruptHandler.startPolling()
    defer { InterruptHandler.stopPolling() }
    let trainingOptimizer = Processes.trainingOptimizer(optimizer)
    groupStop.optimizer = trainingOptimizer as? any GroupOptimizer<Element>
    do {
      history = try model.fit(
        x: data.training.x, y: data.training.y, loss: trainingLoss, optimizer: trainingOptimizer,
        epochs: configuration.epochs, batchSize: configuration.batchSize, shuffle: true,
        seed: configuration.seed &+ Processes.seedOffset,
        validation: data.validation.map { .data(x: $0.x, y: $0.y) },
        earlyStopping: configuration.patience.map {
          EarlyStopping(patience: $0, minDelta: configuration.minDelta ?? 0)
        },
        metrics: task.classes == nil ? [] : [.accuracy], resumingFrom: resumed,
        progress: { standardized in
          stopIfInterrupted()
          // Losses in the target's own units, as the summary and history give them.
          var p = standardized
          p.loss *= data.squaredErrorScale
          p.validationLoss = p.validationLoss.map { $0 * data.squaredErrorScale }
          reporter.report(p)
          position.batches = p.batches
          switch p.event {
          case .batch:
            (position.epoch, position.batch) = (p.epoch, p.batch + 1)
          case .epoch:
            (position.epoch, position.batch) = (p.epoch + 1, 0)
          }
        },
        onEpochEnd: { end in
          finished = end.history
          let failing = failAfterEpochs == end.epoch + 1
          // The last good checkpoint: written after an epoch whose weights are finite, at most
          // once per checkpointInterval (a save is two fsyncs, slower than a small epoch),
          // with the optimizer's and the loop's state to resume from. The last epoch of the
          // budget has none: the final checkpoint follows at once, and the state (three times
          // the weights with Adam) would only delay it.
          guard (clock.now - lastSave >= checkpointInterval && end.epoch + 1 < end.epochs) || failing,
            Self.isFinite(end.model)
          else { return .continue }
          info.status = "training"
          info.epochsCompleted = end.epoch + 1
          do {
            var metadata = try info.metadata()
            metadata[Self.dataDigestKey] = digest
          if let digests { metadata[Self.processDigestsKey] = try ModelInfo.json(digests) }
            try InterruptHandler.critical {
              if let failSavesThroughEpoch, end.epoch + 1 <= failSavesThroughEpoch {
                throw SimulatedSaveFailure()
              }
              try Checkpoint.save(
                end.model, to: checkpointPath, metadata: metadata, optimizer: optimizer, training: end.state)
            }
            lastGood = "the weights at the end of epoch \(end.epoch + 1)"
            lastSave = clock.now
            if let failed = saveFailure {
              reporter.finish()
              Console.error(
                "Note: the checkpoint after epoch \(end.epoch + 1) was saved; saving it after epoch \(failed.epoch) had failed.")
              saveFailure = nil
            }
          } catch {
            // Said once a run of failures; the next checkpoint tries again (the last good
            // one on disk stays as it was: a save replaces the file only when complete).
            if saveFailure == nil {
              reporter.finish()
              Console.error(
                "Warning: saving the checkpoint after epoch \(end.epoch + 1) failed: \(error); training goes on, "
                  + "and the next checkpoint tries again (the last good one holds \(lastGood)).")
            }
            saveFailure = (end.epoch + 1, error)
            lastSave = clock.now
          }
          stopIfInterrupted()
          if failing { throw SimulatedFailure(epochs: end.epoch + 1) }
          return .continue
        })
      // A save during training that failed does not end the run: the final checkpoint,
      // saved next, replaces it (and names the cause if it fails too).
      // The final weights are saved before the results are computed: a signal from now on
      // publishes them, marked interrupted, with the history. With a refit to come they are
      // the early-stopped model's, marked as such: a refit cannot be resumed.
      let refit = (configuration.finalModel ?? .earlyStopped) != .earlyStopped && data.validation != nil
      info.status = "training"
      info.epochsCompleted = history!.epochs
      var metadata = try info.metadata()
      if refit { metadata[Self.refitPhaseKey] = "started" }
      /// Saves the final checkpoint with `save`, in a critical section; a signal from then on
      /// publishes it as `published` (what the error names, the summary line, the message).
      func saveFinalCheckpoint(
        _ save: () throws -> Void, published: (lastGood: String, summary: String, message: String)
      ) throws {
        do {
          try InterruptHandler.critical {
            try save()
            lastGood = published.lastGood
            setInterruptFallback(
              folder, data: data, model: model, summary: published.summary, message: published.message)
          }
          if let failed = saveFailure {
            reporter.finish()
            Console.error(
              "Note: the final checkpoint was saved; saving one after epoch \(failed.epoch) had failed.")
            saveFailure = nil
          }
        } catch {
          throw CLIError.cannotWrite(
            path: checkpointPath, reason: "saving the final checkpoint failed: \(error)")
        }
      }
      // Without early stopping (--patience 0) the model trained with validation is the last epoch's.
      let trained = FinalModelRecord.trainedModelName(earlyStopping: configuration.patience != nil)
      let stopped = FinalModelRecord.trainingEnd(earlyStopping: configuration.patience != nil)
      try saveFinalCheckpoint(
        { try Checkpoint.save(model, to: checkpointPath, metadata: metadata) },
        published: refit
          ? ("the \(trained) (training had finished; the refit on all rows had not, and cannot be resumed)",
             "INTERRUPTED while the final model was refitted on all rows, after \(stopped); model.safetensors holds the \(trained).",
             "interrupted while refitting on all rows; the \(trained) is")
          : ("the final weights (training had finished; the results were not written)",
             "INTERRUPTED after training, while the results were computed; model.safetensors holds the final weights.",
             "interrupted after training; the final weights are"))
      if refit, let choice = configuration.finalModel, let validation = data.validation {
        // Early stopping has picked the budget: the epoch whose weights it kept, or without
        // early stopping the epochs trained.
        let epochs = history!.restoredEpoch.map { $0 + 1 } ?? history!.epochs
        let rows = data.partCounts.training + (data.partCounts.validation ?? validation.count)
        refitEpochs = epochs
        let count = configuration.refits ?? 1
        let earlyStopping = configuration.patience != nil
        let naming = FinalModelRecord(
          choice: choice, earlyStoppingEpoch: epochs, refitEpochs: epochs, refitRows: rows, members: 0,
          earlyStopping: earlyStopping)
        reporter.finish()
        Console.line(
          "Refitting on all \(rows) training and validation rows for \(epochs) epochs \(FinalModelRecord.budgetSource(earlyStopping: earlyStopping))"
            + (count > 1 ? ", \(count) times from different initial weights" : "")
            + (choice == .ensemble
              ? "; the final model is \(count > 1 ? "their" : "its") mean with the \(naming.trainedModelName)"
              : count > 1 ? "; the final model is their mean" : ""))
        let refitStart = clock.now
        // The training and validation rows laid end to end, once for all the refits.
        let x = try Self.stacked(data.training.x, validation.x)
        let y = try Self.stacked(data.training.y, validation.y)
        var refits: [Sequential<Element>] = []
        for index in 0..<count {
          position = Position()
          reporter.finish()
          refits.append(
            try self.refit(
              epochs: epochs, index: index, x: x, y: y, outputs: outputs, loss: trainingLoss, groupStop: groupStop,
              progress: { standardized in
                stopIfInterrupted()
                var p = standardized
                p.loss *= data.squaredErrorScale
                reporter.report(p)
                position.batches = p.batches
                switch p.event {
                case .batch: (position.epoch, position.batch) = (p.epoch, p.batch + 1)
                case .epoch: (position.epoch, position.batch) = (p.epoch + 1, 0)
                }
              }))
        }
        reporter.finish()
        refitSeconds = Self.seconds(clock.now - refitStart)
        // The first refit leads (its model is the checkpoint's first), the early-stopped
        // model second, any further refits after it.
        finalModels = choice == .ensemble ? [refits[0], model] + refits.dropFirst() : refits
        var record = naming
        record.members = finalModels.count
        finalRecord = record
        info.finalModel = record
        let finalMetadata = try info.metadata()
        try saveFinalCheckpoint(
          { try Checkpoint.saveEnsemble(finalModels, to: checkpointPath, metadata: finalMetadata) },
          published: (
            "the final model (training and the refit had finished; the results were not written)",
            "INTERRUPTED after training, while the results were computed; model.safetensors holds the final model.",
            "interrupted after training; the final model is"))
        refitEpochs = nil
      }
    } catch {
      failure = error
    }
    reporter.finish()
    if failure != nil { lastGood = lastGoodAndCause() }
    let trainingEnd = clock.now
    let seconds = Self.seconds(trainingEnd - start)

    if let failure {
      let message =
        failure is CLIError ? "\(failure)" : failureMessage(failure, position: position, refitEpochs: refitEpochs)
      try InterruptHandler.critical {
        defer { InterruptHandler.clearFallback() }
        do {
          try recordFailure(
            message: message, status: "failed", lastGood: lastGood, finished: finished,
            info: info,
            seconds: seconds, data: data, model: model, folder: folder)
        } catch {
          // A folder with the last good checkpoint is kept, published if its name is free
          // (the message names where it is); one without is removed.
          let kept = FileManager.default.fileExists(atPath: folder.file("model.safetensors"))
          if kept { try? folder.publish() } else { folder.discard() }
          var text = "\(message); the run folder could not be written either: \(error)"
          if kept { text += "; its model.safetensors holds \(lastGood)" }
          if folder.isPublished {
            text = folder.publishedName(in: text)
          }
          throw CLIError.trainingFailed(message: text, runFolder: kept ? folder.location : nil)
        }
      }
      throw CLIError.trainingFailed(
        message: folder.isPublished ? folder.publishedName(in: message) : message,
        runFolder: folder.location)
    }

    // MARK: Results
    // Computed in one streamed pass over each part, outside any critical section: a signal
    // meanwhile is taken up between batches (publishing the folder with the final weights,
    // marked interrupted). Then written in one critical section: a signal meanwhile waits
    // for the folder to be published, and then ends the run with its status.
    let results: Results
    do {
      results = try self.results(
        history: history!, info: info, seconds: seconds, refitSeconds: refitSeconds, data: data,
        final: ModelEnsemble(finalModels, loss: configuration.loss),
        earlyStopped: finalRecord == nil ? nil : model, loss: loss,
        checkpoint: { stopIfInterrupted(when: "after training, while the results were computed") })
    } catch {
      throw InterruptHandler.critical { failedWritingResults(error, folder: folder) }
    }
    stopIfInterrupted(when: "after training, while the results were computed")
    let summary = try InterruptHandler.critical {
      defer { InterruptHandler.clearFallback() }
      let summary: String
      do {
        summary = try write(
          results, info: &info, data: data, models: finalModels, folder: folder,
          times: (readingSeconds, seconds, trainingEnd))
      } catch {
        throw failedWritingResults(error, folder: folder)
      }
      // The results are complete; only the name can fail (something took it meanwhile),
      // and the error names the folder that holds them, as the summary there then does.
      do {
        if let beforePublishing { try beforePublishing() }
        try folder.publish()
      } catch {
        Self.nameUnpublished(folder)
        throw error
      }
      Console.completedWork = "the run finished, and its folder \(folder.path) holds the results"
      return summary
    }
    if let signal = InterruptHandler.pendingSignal {
      InterruptHandler.acknowledge()
      Console.error(
        "Error: interrupted by \(InterruptHandler.name(of: signal)) while the results were written; "
          + "they are complete in \(folder.path)")
      // Every process of a group has written its results by now; ending alike lets process 0
      // end too.
      if Processes.group != nil { Processes.exitAgreed = true }
      terminate(128 + signal)
    }
    Console.line()
    Console.line(summary)
    // Every process of a group ends here.
    Processes.exitAgreed = true
  }

  // MARK: - Success

  /// What a completed run writes, computed before anything is written.
  private struct Results {
    var metrics: RunMetrics
    var statistics: [BumpLayerStatistics]
    /// The SVG plots beside loss.svg, by file name.
    var plots: [(name: String, svg: String)]
    /// The summary's lines after the header, but for the file list.
    var lines: [String]
    var history: History
    /// A radial model's support calibration, set on the validation rows (on the training rows
    /// without them).
    var support: SupportCalibration? = nil
  }

  /// Computes the final metrics (one streamed pass over each of the training, validation
  /// and test parts, ``EndOfRunPass``), the plots and the summary's lines; calls
  /// `checkpoint` between batches and steps, to take up a signal.
  ///
  /// `final` is the model the run ends with; after a refit (`earlyStopped` given: the model
  /// early stopping kept) the validation part is scored with `earlyStopped`, since `final`
  /// was trained on it.
  private func results(
    history: History, info: ModelInfo, seconds: Double, refitSeconds: Double, data: PreparedData<Element>,
    final: ModelEnsemble<Element>, earlyStopped: Sequential<Element>?, loss: any Loss<Element>,
    checkpoint: @escaping () -> Void
  ) throws -> Results {
    let train = data.training
    let model = final.first
    let (metrics, layers) = try Self.metrics(
      model: model, others: Array(final.members.dropFirst()), validationModel: earlyStopped, loss: loss,
      data: data, epochs: history.epochs, seconds: seconds, checkpoint: checkpoint)
    let statistics = layers.bumps
    checkpoint()
    var plots: [(name: String, svg: String)] = []
    if let svg = try RunPlots.bumps(model: model, statistics: statistics) {
      plots.append(("bumps.svg", svg))
    }
    checkpoint()
    if info.task.classes != nil, info.featureNames.count == 2 {
      plots.append(
        ("decision_regions.svg", try RunPlots.decisionRegions(model: final, data: data.all, info: info)))
    }
    checkpoint()
    if let counts = layers.radialCounts[0],
      let svg = try RunPlots.radialSupports(
        model: model, inputs: train.x, counts: counts, standardized: info.standardization != nil)
    {
      plots.append(("radial_supports.svg", svg))
    }
    checkpoint()
    let support = try SupportReport.fit(
      models: final.members, heldOutModel: earlyStopped,
      heldOutModelName: FinalModelRecord.trainedModelName(earlyStopping: configuration.patience != nil), training: train.x,
      validation: data.validation?.x)
    if let support, let svg = try SupportReport.plot(
      models: final.members, calibration: support.calibration, inputs: train.x, standardized: info.standardization != nil)
    {
      plots.append(("support.svg", svg))
    }
    checkpoint()

    var lines: [String] = []
    var weights = "final weights"
    if let restored = history.restoredEpoch, restored + 1 != history.epochs {
      weights = "weights of epoch \(restored + 1), restored by early stopping"
    }
    if let record = info.finalModel, earlyStopped != nil {
      // The validation rows picked the budget and were then trained on: their score is the
      // early-stopped model's, the only one that has not seen them.
      lines.append("Final model (--final-model \(record.choice.rawValue)): \(record.description).")
      lines.append(
        "Metrics (train and test: the final model; validation: "
          + (record.earlyStopping == false
            ? "the model of the last epoch (\(record.earlyStoppingEpoch)), whose epochs set the budget"
            : "the early-stopped model of epoch \(record.earlyStoppingEpoch), which picked the budget")
          + "; the final model trained on those rows):")
    } else {
      lines.append("Metrics (\(weights)):")
    }
    let lossLabel = "  loss (\(info.loss.rawValue))"
    let hasValidation = metrics.validationLoss != nil
    let hasTest = metrics.testLoss != nil
    // A column for each part there is: train, then validation and test when present.
    func row(_ label: String, _ train: String, _ validation: String?, _ test: String?) -> String {
      Self.column(label, [train] + (hasValidation ? [validation ?? ""] : []) + (hasTest ? [test ?? ""] : []))
    }
    lines.append(row("", "train", "validation", "test"))
    lines.append(
      row(
        lossLabel, formatted(metrics.trainLoss), metrics.validationLoss.map { formatted($0) },
        metrics.testLoss.map { formatted($0) }))
    if let a = metrics.trainAccuracy {
      lines.append(
        row(
          "  accuracy", Self.percent(a), metrics.validationAccuracy.map(Self.percent),
          metrics.testAccuracy.map(Self.percent)))
    }
    if let r2 = metrics.trainR2 {
      lines.append(
        row("  R²", formatted(r2), metrics.validationR2.map { formatted($0) }, metrics.testR2.map { formatted($0) }))
    }
    if let b = metrics.trainBaseline {
      let classification = info.task.classes != nil
      let show = classification ? Self.percent : { formatted($0) }
      lines.append(
        row(
          classification ? "  baseline (majority)" : "  baseline (mean), mse", show(b),
          metrics.validationBaseline.map(show), metrics.testBaseline.map(show)))
      if let warning = Self.baselineWarning(metrics, classification: classification) {
        lines.append(warning)
      }
    }
    lines.append("")
    lines += bumpReport(statistics, of: earlyStopped == nil ? nil : "the refit")
    lines += RadialLayerReport.lines(model: model, statistics: layers.radials)
    lines += support?.lines ?? []
    var trainingLine = "Training: \(history.epochs) epochs in \(ProgressReporter.duration(seconds - refitSeconds))"
    if history.stoppedEarly { trainingLine += " (stopped early)" }
    if let record = info.finalModel, earlyStopped != nil {
      trainingLine += "; \(record.refits == 1 ? "refit" : "\(record.refits) refits"): \(record.refitEpochs) epochs on \(record.refitRows) rows\(record.refits == 1 ? "" : " each") in \(ProgressReporter.duration(refitSeconds))"
    }
    lines.append(trainingLine)
    lines.append("")
    return Results(
      metrics: metrics, statistics: statistics, plots: plots, lines: lines,
      history: data.naturalUnits(history), support: support?.calibration)
  }

  /// Writes every file of the run folder and returns the summary.
  private func write(
    _ results: Results, info: inout ModelInfo, data: PreparedData<Element>,
    models: [Sequential<Element>], folder: RunFolder,
    times: (reading: Double, training: Double, trainingEnd: ContinuousClock.Instant)
  ) throws -> String {
    info.metrics = results.metrics
    info.support = results.support
    info.status = "complete"
    info.epochsCompleted = results.history.epochs
    // The checkpoint that says "complete" is written last: a write that fails (a full disk)
    // leaves the one saved after training, which does not claim it.
    try Self.writeHistory(results.history, lossName: info.loss.displayName, to: folder)
    for plot in results.plots { try folder.write(plot.svg, to: plot.name) }
    var lines = results.lines
    // Where the run's time went, up to this summary: the phase that dominates shows.
    let resultsSeconds = Self.seconds(ContinuousClock.now - times.trainingEnd)
    lines.insert(
      "Time: reading and preparing the data \(ProgressReporter.duration(times.reading)), "
        + "training \(ProgressReporter.duration(times.training)), "
        + "results \(ProgressReporter.duration(resultsSeconds))",
      at: max(lines.count - 1, 0))
    let files = Set(folder.fileNames() + ["summary.txt"]).sorted()
    lines.append("Run folder: \(folder.path)")
    lines.append("  " + files.joined(separator: "  "))
    let summary = ([headerText(data: data, model: models[0], folder: nil), ""] + lines).joined(
      separator: "\n")
    try folder.write(summary + "\n", to: "summary.txt")
    try Checkpoint.saveEnsemble(models, to: folder.file("model.safetensors"), metadata: try info.metadata())
    return lines.joined(separator: "\n")
  }

  /// Records that the results could not be computed or written after training (a FAILED
  /// summary beside the final checkpoint), publishes the folder and returns the error to
  /// throw.
  private func failedWritingResults(_ error: Error, folder: RunFolder) -> CLIError {
    // Named as they will be once the folder is published (or as they are, if it cannot be).
    let message = "writing the results failed after training: \(error)"
    let published = folder.publishedName(in: message)
    // Marked failed where the disk allows (a full one may allow neither write); the
    // checkpoint that says "complete" is written last, so a failed write never leaves one.
    // A summary written before the failure claims success: removed first (which frees room
    // and needs none), so that none is left if the FAILED one cannot be written either.
    unlink(folder.file("summary.txt"))
    try? folder.write("FAILED: \(published)\n", to: "summary.txt")
    _ = Self.markCheckpoint(folder.file("model.safetensors"), status: "failed", failure: published)
    defer { InterruptHandler.clearFallback() }
    try? folder.publish()
    if !folder.isPublished { Self.nameUnpublished(folder) }
    return CLIError.trainingFailed(
      message: folder.isPublished ? published : message, runFolder: folder.location)
  }

  /// Sets a checkpoint's status (and failure message) in place, keeping its tensors; whether
  /// it was written.
  private static func markCheckpoint(_ path: String, status: String, failure: String) -> Bool {
    guard (try? Checkpoint.loadEnsemble(Element.self, from: path)) != nil, var file = try? SafetensorsFile.read(from: path)
    else { return false }
    file.metadata["status"] = status
    file.metadata["failure"] = failure
    return (try? file.write(to: path)) != nil
  }

  /// The final metrics of `model`: losses in the target's own units, accuracy, R², and the
  /// constant baseline (the training part's mean or majority class), on the training,
  /// validation and test parts; and the layer statistics on the training part. One streamed
  /// pass over each part (``EndOfRunPass``).
  ///
  /// With `others`, the model is an ensemble whose outputs ``ModelEnsemble`` combines (the
  /// layer statistics are `model`'s); with `validationModel`, the validation part is scored
  /// with that model instead (the early-stopped one, after a refit trained on those rows).
  static func metrics(
    model: Sequential<Element>, others: [Sequential<Element>] = [], validationModel: Sequential<Element>? = nil,
    loss: any Loss<Element>, data: PreparedData<Element>,
    epochs: Int, seconds: Double, checkpoint: @escaping () -> Void = {}
  ) throws -> (RunMetrics, EndOfRunPass<Element>.LayerStatistics) {
    let train = data.training
    let classification = train.task.classes != nil
    var pass = EndOfRunPass(
      model: model, loss: loss, classification: classification,
      targetStandardization: data.targetStandardization)
    pass.others = others
    pass.checkpoint = checkpoint
    var validationPass = pass
    if let validationModel {
      validationPass = EndOfRunPass(
        model: validationModel, loss: loss, classification: classification,
        targetStandardization: data.targetStandardization)
      validationPass.checkpoint = checkpoint
    }
    let (trainMetrics, layers) = try pass.run(
      x: train.x, y: train.y, targets: data.trainingTargets, collectingStatistics: true)
    var metrics = RunMetrics(
      trainLoss: trainMetrics.loss, validationLoss: nil, trainAccuracy: trainMetrics.accuracy,
      validationAccuracy: nil, epochs: epochs, trainingSeconds: seconds)
    metrics.trainR2 = trainMetrics.rSquared
    // The constant baselines need the targets only; the constant is the training part's
    // (its mean, or its most frequent class) on every part.
    let targets = data.trainingTargets
    func baseline(labels: Matrix<Element>, targets partTargets: Matrix<Element>) throws -> Double {
      if let group = Processes.group {
        return classification
          ? try GroupStatistics.majorityClassAccuracy(trainingLabels: train.y, labels: labels, in: group)
          : try GroupStatistics.meanPredictorMSE(trainingTargets: targets, targets: partTargets, in: group)
      }
      return classification
        ? try Baseline.majorityClassAccuracy(trainingLabels: train.y, labels: labels)
        : try Baseline.meanPredictorMSE(trainingTargets: targets, targets: partTargets)
    }
    metrics.trainBaseline = try baseline(labels: train.y, targets: targets)
    if let v = data.validation, let validationTargets = data.validationTargets {
      let (m, _) = try validationPass.run(
        x: v.x, y: v.y, targets: validationTargets, collectingStatistics: false)
      metrics.validationLoss = m.loss
      metrics.validationAccuracy = m.accuracy
      metrics.validationR2 = m.rSquared
      metrics.validationBaseline = try baseline(labels: v.y, targets: validationTargets)
    }
    if let t = data.test, let testTargets = data.testTargets {
      let (m, _) = try pass.run(x: t.x, y: t.y, targets: testTargets, collectingStatistics: false)
      metrics.testLoss = m.loss
      metrics.testAccuracy = m.accuracy
      metrics.testR2 = m.rSquared
      metrics.testSamples = data.partCounts.test ?? t.count
      metrics.testBaseline = try baseline(labels: t.y, targets: testTargets)
    }
    return (metrics, layers)
  }

  /// A line saying so when the model does no better than the constant on the held-out parts
  /// where it does not (validation, test), or without either, on the training part.
  static func baselineWarning(_ m: RunMetrics, classification: Bool) -> String? {
    let parts: [(name: String, score: Double?, baseline: Double?)] = [
      ("validation", classification ? m.validationAccuracy : m.validationLoss, m.validationBaseline),
      ("test", classification ? m.testAccuracy : m.testLoss, m.testBaseline),
    ].filter { $0.baseline != nil }
    let checked =
      parts.isEmpty ? [("training", classification ? m.trainAccuracy : m.trainLoss, m.trainBaseline)] : parts
    let failing = checked.filter { part in
      guard let score = part.score, let baseline = part.baseline else { return false }
      return classification ? score <= baseline : score >= baseline
    }
    guard !failing.isEmpty else { return nil }
    let names = failing.map(\.name)
    let where_ = names.count == 1 ? "the \(names[0]) part" : "the \(names.joined(separator: " and ")) parts"
    return "  Warning: on \(where_) the model is no better than the constant baseline."
  }

  // MARK: - Refit

  /// Refit `index` (from 0) of `--final-model refit` and `ensemble`: a model built as the
  /// run's was, with the seed ``refitSeed(_:index:)`` (for the first the run's own: the same
  /// initial weights), trained on `x` and `y`, the training and validation parts together,
  /// for `epochs` epochs with a new optimizer, without validation or early stopping. The
  /// standardization stays the training part's.
  private func refit(
    epochs: Int, index: Int, x: Matrix<Element>, y: Matrix<Element>, outputs: Int, loss: any Loss<Element>,
    groupStop: GroupStop<Element>, progress: @escaping (TrainingProgress) -> Void
  ) throws -> Sequential<Element> {
    var settings = configuration
    settings.epochs = epochs
    settings.seed = Self.refitSeed(configuration.seed, index: index)
    let model = try ModelFactory.model(settings, inputs: x.columns, outputs: outputs, as: Element.self)
    try ModelFactory.placeRadialCenters(model, on: x, seed: settings.seed)
    try Processes.shareParameters(of: model)
    let optimizer = try ModelFactory.optimizer(
      settings, stepsPerEpoch: (x.rows - 1) / settings.batchSize + 1, as: Element.self)
    // Without the test hook no epoch-end callback is passed: the loop then builds no state
    // to hand it.
    let hook: ((EpochEnd<Element>) throws -> TrainingControl)? = failAfterRefitEpochs.map { failAfter in
      { end in
        if failAfter == end.epoch + 1 { throw SimulatedFailure(epochs: end.epoch + 1) }
        return .continue
      }
    }
    let trainingOptimizer = Processes.trainingOptimizer(optimizer)
    groupStop.optimizer = trainingOptimizer as? any GroupOptimizer<Element>
    _ = try model.fit(
      x: x, y: y, loss: loss, optimizer: trainingOptimizer, epochs: epochs, batchSize: settings.batchSize,
      shuffle: true, seed: settings.seed &+ Processes.seedOffset, progress: progress, onEpochEnd: hook)
    return model
  }

  /// The seed of refit `index` (from 0) of a run with seed `seed`: the run's own for the first
  /// (its initial weights and shuffles are the early-stopped model's), for each further one a
  /// seed of its own derived from it.
  static func refitSeed(_ seed: UInt64, index: Int) -> UInt64 {
    index == 0 ? seed : seed ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(index))
  }

  /// The rows of `a` followed by those of `b` (of as many columns).
  static func stacked(_ a: Matrix<Element>, _ b: Matrix<Element>) throws -> Matrix<Element> {
    guard a.columns == b.columns else {
      throw BumpKitError.shapeMismatch(
        operation: "stacking rows", expected: MatrixShape(rows: nil, columns: a.columns),
        actual: MatrixShape(rows: b.rows, columns: b.columns))
    }
    var result = try Matrix<Element>(rows: a.rows + b.rows, columns: a.columns)
    result.withUnsafeMutableBufferPointer { r in
      a.withUnsafeBufferPointer { p in
        if let base = p.baseAddress, !p.isEmpty { r.baseAddress!.update(from: base, count: p.count) }
      }
      b.withUnsafeBufferPointer { p in
        if let base = p.baseAddress, !p.isEmpty { (r.baseAddress! + a.rows * a.columns).update(from: base, count: p.count) }
      }
    }
    return result
  }

  // MARK: - Failure

  /// One line naming the epoch and batch (1-based, as the progress display counts).
  private func failureMessage(_ error: Error, position: Position, refitEpochs: Int?) -> String {
    let epochs = refitEpochs ?? configuration.epochs
    // The epochs of the refit on all rows, after early stopping, are counted from 1 again.
    let phase = refitEpochs == nil ? "" : " of the refit on all rows"
    if case BumpKitError.nonFiniteLoss(let epoch, let batch, var value) = error {
      if value == "-nan" { value = "nan" }
      let what = value.hasPrefix("finite") ? "the loss was \(value)" : "the loss became \(value)"
      return
        "training diverged at epoch \(epoch + 1)/\(epochs)\(phase), batch \(batch + 1)/\(max(position.batches, batch + 1)): \(what)"
    }
    let batches = position.batches > 0 ? "/\(position.batches)" : ""
    return
      "training failed at epoch \(position.epoch + 1)/\(epochs)\(phase), batch \(position.batch + 1)\(batches): \(error)"
  }

  /// Leaves the last good checkpoint marked as failed, the history so far, the loss plot and a
  /// summary with a FAILED note, and publishes the folder.
  private func recordFailure(
    message: String, status: String, lastGood: String, finished: History, info: ModelInfo,
    seconds: Double,
    data: PreparedData<Element>, model: Sequential<Element>, folder: RunFolder
  ) throws {
    let checkpointPath = folder.file("model.safetensors")
    // Paths as they will read once the folder is published.
    let message = folder.publishedName(in: message)
    let lastGood = folder.publishedName(in: lastGood)
    // The checkpoint on disk is the last good one; mark it failed, keeping its weights and
    // the training state to resume from.
    _ = Self.markCheckpoint(checkpointPath, status: status, failure: message)
    // The losses only, as far as they got: a failed run's history.csv has no accuracy.
    var log = History()
    log.loss = finished.loss
    log.validationLoss = finished.validationLoss
    log = data.naturalUnits(log)
    let epochs = log.epochs
    try Self.writeHistory(log, lossName: info.loss.displayName, to: folder)
    let files = Set(folder.fileNames() + ["summary.txt"]).sorted()
    let lines = [
      headerText(data: data, model: model, folder: nil), "",
      "\(status == "interrupted" ? "INTERRUPTED" : "FAILED"): \(message).",
      "model.safetensors holds \(lastGood); \(epochs) epochs finished in \(ProgressReporter.duration(seconds)).",
      "", "Run folder: \(folder.path)", "  " + files.joined(separator: "  "),
    ]
    try folder.write(lines.joined(separator: "\n") + "\n", to: "summary.txt")
    do {
      try folder.publish()
    } catch {
      Self.nameUnpublished(folder)
      throw error
    }
  }

  /// When a folder's name was taken and its files stay in the temporary folder: the summary
  /// and the checkpoint's failure entry, written for the published name, name that folder.
  private static func nameUnpublished(_ folder: RunFolder) {
    let summaryFile = folder.file("summary.txt")
    if let text = try? String(contentsOfFile: summaryFile, encoding: .utf8) {
      try? folder.write(
        text.replacingOccurrences(of: "Run folder: \(folder.path)\n", with: "Run folder: \(folder.partialPath)\n")
          .replacingOccurrences(of: folder.path + "/", with: folder.partialPath + "/"),  // its files' paths
        to: "summary.txt")
    }
    let checkpoint = folder.file("model.safetensors")
    if var file = try? SafetensorsFile.read(from: checkpoint), let failure = file.metadata["failure"],
      failure.contains(folder.path + "/")
    {
      file.metadata["failure"] = failure.replacingOccurrences(of: folder.path + "/", with: folder.partialPath + "/")
      try? file.write(to: checkpoint)
    }
  }

  // MARK: - Text

  /// What is trained on what, and where the results go.
  /// Tells the interrupt handler what a signal leaves from now on: `folder` published with a
  /// summary of the run that ends in `summary`, and the message "Error: `message` in
  /// <folder>/model.safetensors" (naming the unpublished folder when its name was taken).
  private func setInterruptFallback(
    _ folder: RunFolder, data: PreparedData<Element>, model: Sequential<Element>, summary: String, message: String
  ) {
    InterruptHandler.setFallback(
      summaryFile: folder.file("summary.txt"),
      summary: headerText(data: data, model: model, folder: nil) + "\n\n\(summary)\n",
      partial: folder.partialPath, final: folder.path,
      message: "\nError: \(message) in \(folder.path)/model.safetensors\n",
      unpublishedMessage:
        "\nError: \(message) in \(folder.partialPath)/model.safetensors "
        + "(the folder could not be renamed to \(folder.path): something else took that name)\n")
  }

  private func headerText(
    data: PreparedData<Element>, model: Sequential<Element>, folder: RunFolder?
  ) -> String {
    let task = data.training.task
    var target: String
    // Names are quoted, so that " cat" and "cat" read differently.
    let targetName = MessageText.quoted(data.training.targetName)
    switch task {
    case .regression: target = "\(targetName) (regression)"
    case .classification(let k):
      target = "\(targetName) (\(k) classes"
      if let names = data.training.classNames {
        target +=
          ": " + names.prefix(8).map(MessageText.quoted).joined(separator: ", ")
          + (names.count > 8 ? ", …" : "")
      }
      target += ")"
    }
    let c = configuration
    let features = data.training.featureNames.count
    var dataLine = "Data: \(data.source), \(data.sizeText), \(features) feature\(features == 1 ? "" : "s") → \(target)"
    var standardized: [String] = []
    if data.standardization != nil { standardized.append("features") }
    if data.targetStandardization != nil { standardized.append("target") }
    if !standardized.isEmpty {
      dataLine += ", standardized " + standardized.joined(separator: " and ")
    }
    let modelLine =
      "Model: \(architectureText(model)), \(model.parameterCount) parameters "
      + "(\(model.trainableParameterCount) trainable), \(c.precision.rawValue)"
    var trainingLine =
      "Training: \(c.loss.rawValue) loss, \(c.optimizer.rawValue) lr \(formatted(c.learningRate)), "
      + "\(c.patience == nil ? "" : "up to ")\(c.epochs) epochs, batch \(c.batchSize), seed \(c.seed)"
    if c.schedule == .cosine { trainingLine += ", cosine schedule" }
    if let patience = c.patience { trainingLine += ", patience \(patience)" }
    var lines = [dataLine] + data.summaryLines + [modelLine, trainingLine, "BLAS: \(blasDescription)"]
    if let group = Processes.group {
      // The batch above is each process's: a step takes one from every process.
      lines.append(
        "Processes: \(group.size) (mpirun), each reading its part of the data; a step's batch is "
          + "\(group.size) × \(c.batchSize) rows; process 0 writes the run folder")
    }
    if let folder {
      let partial = RunFolder.split(folder.partialPath).name
      lines.append("Writing to \(folder.path)/ (renamed from \(partial) when done)")
    }
    return lines.joined(separator: "\n")
  }

  private func architectureText(_ model: Sequential<Element>) -> String {
    var parts = ["\(model.inputSize)"]
    for layer in model.layers {
      switch layer {
      case let d as Dense<Element>: parts.append("Dense(\(d.outputSize))")
      case let b as Bump<Element>: parts.append("Bump(σ \(b.settings.sigma.perUnit ? "per unit" : "shared"))")
      case let r as RadialBump<Element>: parts.append("RadialBump(\(r.units))")
      case let c as any CheckpointableLayer: parts.append(type(of: c).kind)
      default: parts.append("\(type(of: layer))")
      }
    }
    return parts.joined(separator: " → ")
  }

  private func bumpReport(_ statistics: [BumpLayerStatistics], of model: String? = nil) -> [String] {
    guard !statistics.isEmpty else { return [] }
    var lines = [
      "Bump layers\(model.map { " of \($0)" } ?? "") (learned σ; support (c − √σ, c + √σ); fractions on the training data):"
    ]
    for s in statistics { lines += s.reportLines() }
    lines.append("")
    return lines
  }

  /// A row of the metrics table: `label` in 26 characters, the training part's value in 12,
  /// then the other parts' values in 12 each but the last, as it is.
  private static func column(_ label: String, _ values: [String]) -> String {
    var text = label.padding(toLength: 26, withPad: " ", startingAt: 0)
    for (i, value) in values.enumerated() {
      text += i > 0 && i == values.count - 1 ? value : value.padding(toLength: 12, withPad: " ", startingAt: 0)
    }
    return text
  }

  private static func percent(_ value: Double) -> String { String(format: "%.2f%%", value * 100) }

  /// The ``dataDigestKey`` value of `data`: FNV-1a over the bytes of the training,
  /// validation and test inputs and targets, as they are after preparation.
  static func digest(_ data: PreparedData<Element>) -> String {
    // FNV-1a over 64-bit words in four interleaved lanes (the bytes of a 1 M-row table in
    // about 10 ms, where one byte at a time took 0.1 s), then the lanes and the tail bytes.
    let prime: UInt64 = 0x100_0000_01b3
    var lanes: [UInt64] = [0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4, 0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f]
    var tail: UInt64 = 0xcbf2_9ce4_8422_2325
    var parts = [data.training.x, data.training.y]
    if let v = data.validation { parts += [v.x, v.y] }
    if let t = data.test { parts += [t.x, t.y] }
    for m in parts {
      lanes[0] = (lanes[0] ^ UInt64(m.rows)) &* prime
      lanes[1] = (lanes[1] ^ UInt64(m.columns)) &* prime
      m.withUnsafeBufferPointer { buffer in
        let bytes = UnsafeRawBufferPointer(buffer)
        let words = bytes.count / 32 * 4
        var (a, b, c, d) = (lanes[0], lanes[1], lanes[2], lanes[3])
        var k = 0
        while k < words {
          a = (a ^ bytes.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)) &* prime
          b = (b ^ bytes.loadUnaligned(fromByteOffset: 8 * k + 8, as: UInt64.self)) &* prime
          c = (c ^ bytes.loadUnaligned(fromByteOffset: 8 * k + 16, as: UInt64.self)) &* prime
          d = (d ^ bytes.loadUnaligned(fromByteOffset: 8 * k + 24, as: UInt64.self)) &* prime
          k += 4
        }
        lanes = [a, b, c, d]
        for byte in bytes[(8 * words)...] { tail = (tail ^ UInt64(byte)) &* prime }
      }
    }
    var hash = tail
    for lane in lanes { hash = (hash ^ lane) &* prime }
    return String(hash, radix: 16)
  }

  private static func isFinite(_ model: Sequential<Element>) -> Bool {
    model.parameters.allSatisfy { p in
      p.value.withUnsafeBufferPointer { $0.allSatisfy { $0.isFinite } }
    }
  }

  /// The run folder's `history.csv` and `loss.svg`, from `history` in natural units: what a
  /// finished run and a failed one both leave.
  private static func writeHistory(_ history: History, lossName: String, to folder: RunFolder) throws {
    try history.writeCSV(to: folder.file("history.csv"))
    try folder.write(
      RunPlots.loss(training: history.loss, validation: history.validationLoss, lossName: lossName),
      to: "loss.svg")
  }

  private static func seconds(_ d: Duration) -> Double {
    let (s, attoseconds) = d.components
    return Double(s) + Double(attoseconds) * 1e-18
  }
}

/// The failure of a checkpoint save that ``TrainingRun/failSavesThroughEpoch`` makes.
struct SimulatedSaveFailure: Error, CustomStringConvertible {
  var description: String { "no space left on device (simulated for a test)" }
}

/// The failure that ``TrainingRun/failAfterEpochs`` makes, as an interruption would end the
/// run: after the checkpoint of that epoch.
struct SimulatedFailure: Error, CustomStringConvertible {
  let epochs: Int
  var description: String { "stopped for a test after epoch \(epochs)" }
}

/// Over a group of processes: the optimizer whose next step carries a stop request, and
/// whether this process has asked.
final class GroupStop<Element: MatrixScalar> {
  var optimizer: (any GroupOptimizer<Element>)?
  var asked = false
}
