import Foundation

/// Ensembles: several models of one architecture in one checkpoint, whose outputs the reader
/// combines (`bump train --final-model ensemble` averages their outputs or probabilities).
///
/// The first model is stored as any checkpoint stores its model (`layers.<index>.<parameter>`),
/// so the architecture, precision and metadata are its; model k ≥ 1 has the same architecture
/// and its tensors are named `ensemble.<k>.layers.<index>.<parameter>`. The metadata entry
/// ``ensembleKey`` (`ensemble_members`) holds the number of models, 2 to
/// ``maximumEnsembleMembers``. A file without it holds one model.
///
/// ``load(_:from:)`` refuses an ensemble (taking its first model alone would change its
/// predictions silently); ``loadEnsemble(_:from:)`` reads any checkpoint, a single model as
/// an ensemble of one. An ensemble holds no training state: it cannot be resumed from.
extension Checkpoint {
  /// The metadata entry that holds the number of models of an ensemble checkpoint.
  public static let ensembleKey = "ensemble_members"

  /// The most models an ensemble checkpoint may hold: 64.
  public static let maximumEnsembleMembers = 64

  /// The tensor name prefix of ensemble model `k` (k ≥ 1): `ensemble.<k>.`.
  public static func ensemblePrefix(_ k: Int) -> String { "ensemble.\(k)." }

  /// The number of models that checkpoint metadata `metadata` declares: 1 without an
  /// ``ensembleKey`` entry.
  ///
  /// - Throws: ``CheckpointError/notACheckpoint(source:reason:)`` for an entry that is not a
  ///   whole number from 2 to ``maximumEnsembleMembers``, or beside a training state.
  public static func ensembleMembers(in metadata: [String: String], source: String = "checkpoint") throws -> Int {
    guard let text = metadata[ensembleKey] else { return 1 }
    guard let count = Int(text), (2...maximumEnsembleMembers).contains(count) else {
      throw CheckpointError.notACheckpoint(
        source: source,
        reason: "its \(ensembleKey) entry is \"\(text.prefix(40))\", not a number of models from 2 to \(maximumEnsembleMembers)")
    }
    guard metadata[resumeStateKey] == nil else {
      throw CheckpointError.notACheckpoint(
        source: source, reason: "it holds an ensemble (\(ensembleKey)) and a training state; an ensemble has none")
    }
    return count
  }

  /// The safetensors file for the ensemble `models` (at least 2, at most
  /// ``maximumEnsembleMembers``, of one architecture), with `metadata` added to the reserved
  /// entries and ``ensembleKey``; one model gives the file of ``encode(_:metadata:)``.
  ///
  /// - Throws: the errors of ``encode(_:metadata:)``; ``CheckpointError/tooLargeToSave(what:limit:path:)``
  ///   for more than ``maximumEnsembleMembers`` models; `BumpKitError.invalidArgument` for
  ///   none, or models of different architectures.
  public static func encodeEnsemble<Element: MatrixScalar>(
    _ models: [Sequential<Element>], metadata: [String: String] = [:]
  ) throws -> SafetensorsFile {
    guard let first = models.first else {
      throw BumpKitError.invalidArgument(name: "models", value: "[]", reason: "an ensemble needs at least one model")
    }
    guard models.count <= maximumEnsembleMembers else {
      throw CheckpointError.tooLargeToSave(
        what: "the ensemble has \(models.count) models",
        limit: "the \(maximumEnsembleMembers) a checkpoint may hold (Checkpoint.maximumEnsembleMembers)")
    }
    var meta = metadata
    meta[ensembleKey] = models.count > 1 ? String(models.count) : nil
    var file = try encode(first, metadata: meta)
    for (k, model) in models.enumerated().dropFirst() {
      let member = try encode(model)
      guard member.metadata["architecture"] == file.metadata["architecture"] else {
        throw BumpKitError.invalidArgument(
          name: "models", value: "model \(k)", reason: "the models of an ensemble need one architecture; model \(k)'s differs from model 0's")
      }
      for name in member.names {
        try file.insert(member.tensors[name]!, named: ensemblePrefix(k) + name)
      }
    }
    try checkHeaderSize(of: file)
    return file
  }

  /// Writes the ensemble `models` to `path` atomically (see ``encodeEnsemble(_:metadata:)``).
  public static func saveEnsemble<Element: MatrixScalar>(
    _ models: [Sequential<Element>], to path: String, metadata: [String: String] = [:]
  ) throws {
    try write(to: path) { try encodeEnsemble(models, metadata: metadata) }
  }

  /// Rebuilds every model of the checkpoint at `path` (one for a checkpoint that is not an
  /// ensemble), with its metadata, as ``load(_:from:)`` rebuilds one: the header is checked
  /// before the data is read.
  public static func loadEnsemble<Element: MatrixScalar>(
    _: Element.Type = Element.self, from path: String
  ) throws -> (models: [Sequential<Element>], metadata: [String: String]) {
    try readChecked(Element.self, at: path) { try loadEnsemble(Element.self, file: $0, source: path) }
  }

  /// Rebuilds every model of a decoded file (see ``loadEnsemble(_:from:)``).
  public static func loadEnsemble<Element: MatrixScalar>(
    _: Element.Type = Element.self, file: SafetensorsFile, source: String = "checkpoint"
  ) throws -> (models: [Sequential<Element>], metadata: [String: String]) {
    let count = try ensembleMembers(in: file.metadata, source: source)
    var parts = (0..<count).map { _ in SafetensorsFile(metadata: file.metadata) }
    for k in parts.indices { parts[k].metadata[ensembleKey] = nil }
    for name in file.names {
      let tensor = file.tensors[name]!
      if let m = member(of: name), m.index < count {
        try parts[m.index].insert(tensor, named: m.name)
      } else {
        // Anything else is the first model's, or refused as no parameter of it.
        try parts[0].insert(tensor, named: name)
      }
    }
    var models: [Sequential<Element>] = []
    for (k, part) in parts.enumerated() {
      do {
        models.append(try load(Element.self, file: part, source: source).model)
      } catch let error as CheckpointError where k > 0 {
        // The member's tensors were renamed to be read as a model: name them as stored.
        throw error.prefixingTensorName(ensemblePrefix(k))
      }
    }
    return (models, file.metadata)
  }

  /// The model number and inner name of an `ensemble.<k>.<name>` tensor name, k ≥ 1 written
  /// without leading zeros; nil for another name.
  static func member(of name: String) -> (index: Int, name: String)? {
    let parts = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0] == "ensemble", let k = Int(parts[1]), k >= 1, String(k) == parts[1] else {
      return nil
    }
    return (k, String(parts[2]))
  }
}
