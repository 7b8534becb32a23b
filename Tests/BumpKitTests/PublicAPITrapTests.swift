import BumpKit
import BumpTestSupport
import Foundation
import Testing

/// The name and reason of an ``BumpKitError/invalidArgument(name:value:reason:)``, or nil for
/// any other error.
private func invalidArgument(_ error: BumpKitError?) -> (name: String, value: String, reason: String)? {
  guard case .invalidArgument(let name, let value, let reason)? = error else { return nil }
  return (name, value, reason)
}

/// Element counts whose memory no system can give: 2⁵⁰ elements of 4 or 8 bytes are 4 or
/// 8 PiB, beyond a 48-bit address space, so the allocation fails whatever the overcommit
/// policy (and nothing is written).
private let unallocatable = 1 << 50

/// Hostile values an app could pass to the public API: each must give a documented error or
/// a correct result, never stop the process.
@Suite("Public API: hostile values throw, never trap")
struct PublicAPITrapTests {
  // MARK: - Matrix

  @Test("Matrix(rows:columns:) whose size in bytes overflows Int throws", arguments: [
    (Int.max / 4, 1), (1, Int.max / 8 + 1), (1 << 31, 1 << 31),
  ])
  func matrixByteCountOverflow(rows: Int, columns: Int) {
    let error = #expect(throws: BumpKitError.self) { _ = try Matrix<Double>(rows: rows, columns: columns) }
    let argument = invalidArgument(error)
    #expect(argument?.name == "Matrix shape")
    #expect(argument?.reason == "its size in bytes overflows Int")
  }

  @Test("Matrix too large for the address space: init, zeros, identity and resize throw")
  func matrixUnallocatable() throws {
    let calls: [() throws -> Void] = [
      { _ = try Matrix<Float>(rows: unallocatable, columns: 1) },
      { _ = try Matrix<Double>(rows: 1, columns: unallocatable, repeating: .nan) },
      { _ = try Matrix<Double>.zeros(rows: 1, columns: unallocatable) },
      { _ = try Matrix<Double>.identity(size: 1 << 25) },
    ]
    for call in calls {
      let error = #expect(throws: BumpKitError.self) { try call() }
      #expect(invalidArgument(error)?.reason.hasSuffix("cannot be allocated") == true, "\(String(describing: error))")
    }
    var m = try Matrix<Double>(rows: 2, columns: 3, repeating: 7)
    let error = #expect(throws: BumpKitError.self) { try m.resize(rows: unallocatable, columns: 1) }
    #expect(invalidArgument(error)?.value == "\(unallocatable)×1")
    #expect(m == (try Matrix(rows: 2, columns: 3, repeating: 7)), "a failed resize leaves the matrix unchanged")
    try m.resize(rows: 3, columns: 3)
    #expect(m.elements == [Double](repeating: 7, count: 6) + [0, 0, 0])
  }

  @Test("An unallocatable error names the size in binary units")
  func matrixUnallocatableMessage() {
    let error = #expect(throws: BumpKitError.self) { _ = try Matrix<Double>(rows: unallocatable, columns: 1) }
    #expect(error?.description == "invalid Matrix shape \(unallocatable)×1: its 8.0 PiB cannot be allocated")
  }

  @Test("setRow with a row index outside the matrix throws and changes nothing", arguments: [-1, 2, Int.max, Int.min])
  func setRowOutOfRange(index: Int) throws {
    var m = try Matrix<Float>([[1, 2], [3, 4]])
    let error = #expect(throws: BumpKitError.self) { try m.setRow(index, to: [9, 9]) }
    #expect(invalidArgument(error)?.reason == "the matrix has rows 0 to 1")
    #expect(m == (try Matrix<Float>([[1, 2], [3, 4]])))
  }

  @Test("copyRows with a range starting at Int.min throws naming the range in words")
  func copyRowsExtremeRange() throws {
    let m = try Matrix<Double>(rows: 3, columns: 2)
    var destination = Matrix<Double>()
    for (range, value) in [
      (Int.min..<Int.min, "\(Int.min) (an empty range)"), (Int.min..<0, "\(Int.min) to -1"),
      (2..<Int.max, "2 to \(Int.max - 1)"), (-1..<(-1), "-1 (an empty range)"),
    ] {
      let error = #expect(throws: BumpKitError.self) { try m.copyRows(range, into: &destination) }
      #expect(invalidArgument(error)?.value == value)
    }
    try m.copyRows(3..<3, into: &destination)
    #expect(destination.rows == 0 && destination.columns == 2)
    let empty = Matrix<Double>()
    let error = #expect(throws: BumpKitError.self) { try empty.copyRows(0..<1, into: &destination) }
    #expect(invalidArgument(error)?.reason == "the matrix has no rows")
  }

  @Test("Elements given for a shape too large throw rather than allocate")
  func elementsForHugeShape() {
    let error = #expect(throws: BumpKitError.self) {
      _ = try Matrix<Float>(rows: unallocatable, columns: 1, elements: [])
    }
    #expect(invalidArgument(error)?.name == "Matrix elements")
  }

  @Test("Products and row selections too large to allocate throw")
  func derivedMatricesTooLarge() throws {
    let tall = try Matrix<Float>(rows: 1 << 25, columns: 0)
    let wide = try Matrix<Float>(rows: 0, columns: 1 << 25)
    let product = #expect(throws: BumpKitError.self) { _ = try tall.multiplied(by: wide) }
    #expect(invalidArgument(product)?.reason.hasSuffix("cannot be allocated") == true)
    let m = try Matrix<Double>([[1, 2]])
    let rows = #expect(throws: BumpKitError.self) { _ = try m.rows(at: repeatElement(0, count: unallocatable)) }
    #expect(invalidArgument(rows)?.reason.hasSuffix("cannot be allocated") == true)
    let overflow = #expect(throws: BumpKitError.self) { _ = try m.rows(at: repeatElement(0, count: Int.max)) }
    #expect(invalidArgument(overflow)?.reason == "the element count overflows Int")
    #expect(try m.rows(at: [0, 0, 0]) == (try Matrix<Double>([[1, 2], [1, 2], [1, 2]])))
  }

  // MARK: - Dataset

  @Test("Generators with more samples or features than memory throw")
  func generatorsTooLarge() {
    let calls: [() throws -> Void] = [
      { _ = try Dataset<Float>.rings(samples: unallocatable) },
      { _ = try Dataset<Double>.bumps(samples: unallocatable) },
      { _ = try Dataset<Double>.regression(samples: 1, features: unallocatable) },
      { _ = try Dataset<Float>.regression(samples: Int.max, features: Int.max) },
      { _ = try Dataset<Double>.rings(samples: Int.max) },
    ]
    for call in calls {
      let error = #expect(throws: BumpKitError.self) { try call() }
      #expect(invalidArgument(error)?.name == "Matrix shape", "\(String(describing: error))")
    }
  }

  @Test("loadCSV with fixed classes that are none, negative or too many throws before reading",
    arguments: [CSVClassLabels.numbers(count: Int.min), .numbers(count: -1), .numbers(count: 0),
                .numbers(count: 65_537), .numbers(count: Int.max), .names([])])
  func loadCSVInvalidClasses(classes: CSVClassLabels) throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let path = folder.path("labels.csv")
    try "x,y\n1,0\n2,1\n".write(toFile: path, atomically: true, encoding: .utf8)
    let error = #expect(throws: BumpKitError.self) {
      _ = try Dataset<Float>.loadCSV(path: path, target: "y", task: .classification, classes: classes)
    }
    #expect(invalidArgument(error)?.name == "classes")
    // Not even a missing file is looked at first.
    #expect(throws: BumpKitError.self) {
      _ = try Dataset<Float>.loadCSV(path: folder.path("absent.csv"), target: "y", task: .classification, classes: classes)
    }
  }

  @Test("loadCSV with the largest valid number of classes still reads")
  func loadCSVClassLimit() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let path = folder.path("labels.csv")
    try "x,y\n1,0\n2,65535\n".write(toFile: path, atomically: true, encoding: .utf8)
    let data = try Dataset<Float>.loadCSV(path: path, target: "y", task: .classification, classes: .numbers(count: 65_536))
    #expect(data.task == .classification(classes: 65_536))
    #expect(data.y.elements == [0, 65_535])
  }

  // MARK: - Standardization

  @Test("Standardization of matrices without columns or rows")
  func standardizationEmpty() throws {
    let noColumns = try Matrix<Double>(rows: 3, columns: 0)
    let fitted = try Standardization(fitting: noColumns)
    #expect(fitted.features == 0)
    #expect(try fitted.apply(to: noColumns) == noColumns)
    #expect(try fitted.invert(noColumns) == noColumns)
    let none = try Standardization(mean: [], standardDeviation: [])
    #expect(try none.apply(to: Matrix<Float>()) == Matrix<Float>())
    let one = try Standardization(mean: [1], standardDeviation: [2])
    let noRows = try Matrix<Float>(rows: 0, columns: 1)
    #expect(try one.apply(to: noRows) == noRows)
    let error = #expect(throws: BumpKitError.self) { _ = try Standardization(fitting: noRows) }
    #expect(invalidArgument(error)?.name == "samples")
  }

  @Test("Standardization of values of both signs near the largest Double keeps a finite mean")
  func standardizationExtremeValues() throws {
    let big = Double.greatestFiniteMagnitude
    let x = try Matrix<Double>(rows: 4, columns: 1, elements: [big, -big, big / 2, -big / 2])
    let scaling = try Standardization(fitting: x)
    #expect(abs(scaling.mean[0]) <= big * 1e-15, "\(scaling.mean)")
    #expect(scaling.standardDeviation[0].isFinite && scaling.standardDeviation[0] > 0)
    let applied = try scaling.apply(to: x)
    #expect(applied.elements.allSatisfy { $0.isFinite }, "\(applied)")
  }

  // MARK: - Plot ticks

  @Test("LinearTicks with an enormous target count: at most 200 ticks", arguments: [
    (0.0, 0x1p63), (-0x1p62, 0x1p62), (0.0, 1.0), (-1e300, 1e300),
  ])
  func linearTicksHugeTargetCount(lower: Double, upper: Double) {
    let ticks = Plot.LinearTicks(lower: lower, upper: upper, targetCount: .max)
    #expect(ticks.step > 0 && ticks.step.isFinite)
    #expect(!ticks.ticks.isEmpty && ticks.ticks.count <= 200)
    #expect(ticks.values == ticks.values.sorted())
  }

  @Test("LinearTicks over a subnormal range label 0 as 0", arguments: [0x1p-1050, 0x1p-1074, 0x1p-1060])
  func linearTicksSubnormalRange(upper: Double) {
    let ticks = Plot.LinearTicks(lower: 0, upper: upper)
    #expect(ticks.ticks.first?.label == "0")
    #expect(ticks.label(for: 0) == "0")
    for tick in ticks.ticks {
      #expect(tick.label.map { !$0.contains("inf") && !$0.contains("nan") } == true, "\(tick)")
    }
  }

  @Test("A linear loss plot of subnormal losses renders")
  func lossCurvesSubnormal() {
    let svg = Plot.lossCurves(series: [("loss", [0, 0x1p-1050, 0x1p-1074])], title: "tiny", yLogScale: false)
    #expect(svg.hasSuffix("</svg>\n"))
    #expect(!svg.contains("nan") && !svg.contains("inf"))
  }

  // MARK: - Layers, schedules, optimizers, errors

  @Test("A bump layer too wide to allocate throws")
  func layersTooLargeThrow() {
    #expect(throws: BumpKitError.self) { _ = try Bump<Float>(units: unallocatable) }
    #expect(throws: BumpKitError.self) { _ = try RadialBump<Float>(inputSize: Int.max, units: 2) }
    #expect(throws: BumpKitError.self) { _ = try RadialBump<Double>(inputSize: 1 << 25, units: 1 << 25) }
  }

  @Test("Schedules that validate refuses give NaN, not a division by zero or an overflow")
  func invalidSchedulesGiveNaN() {
    #expect(LearningRateSchedule.step(every: 0, factor: 0.5).learningRate(base: 1, iteration: 5).isNaN)
    #expect(LearningRateSchedule.step(every: -3, factor: 0.5).learningRate(base: 1, iteration: 5).isNaN)
    let epochs = EpochSchedule.stepDecay(everyEpochs: 0, factor: 0.5)
    #expect(epochs.learningRate(base: 1, at: SchedulePosition(iteration: 3, stepsPerEpoch: 1)).isNaN)
    let warmUp = WarmUpSchedule(.steps(.min))
    #expect(warmUp.learningRate(base: 1, at: SchedulePosition(iteration: .max, stepsPerEpoch: 1)).isNaN)
    let long = WarmUpSchedule(.epochs(.max))
    #expect(long.learningRate(base: 1, at: SchedulePosition(iteration: 7, stepsPerEpoch: 3)).isFinite)
    // A valid schedule still gives its rates.
    #expect(LearningRateSchedule.step(every: 2, factor: 0.5).learningRate(base: 1, iteration: 5) == 0.25)
  }

  @Test("An optimizer snapshot with no room for another step is refused")
  func snapshotAtTheLastStep() throws {
    let parameters = [Parameter<Float>(name: "w", value: try Matrix(rows: 1, columns: 2), isTrainable: true)]
    let adam = try Adam<Float>()
    let snapshot = OptimizerSnapshot<Float>(kind: adam.kind, iterations: .max, slotNames: ["m", "v"], states: [nil])
    let error = #expect(throws: BumpKitError.self) { try adam.restore(snapshot, for: parameters) }
    #expect(invalidArgument(error)?.name == "snapshot")
    let sgd = try SGD<Float>()
    let plain = OptimizerSnapshot<Float>(kind: sgd.kind, iterations: .max, slotNames: [], states: [nil])
    #expect(throws: BumpKitError.self) { try sgd.restore(plain, for: parameters) }
  }

  @Test("An error's description for a class count of no classes")
  func labelErrorWithoutClasses() {
    for classes in [Int.min, -1, 0] {
      let text = BumpKitError.labelOutOfRange(row: 0, label: "x", classes: classes).description
      #expect(text.contains("there are no classes"))
    }
    #expect(BumpKitError.labelOutOfRange(row: 2, label: "7", classes: 3).description.contains("the classes are 0 to 2"))
  }
}
