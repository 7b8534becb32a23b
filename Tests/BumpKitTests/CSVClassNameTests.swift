import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// Class names are labels, not numbers, and are kept as spelled.
@Suite struct CSVClassNameTests {
  /// A CSV file holding `text`, removed with the value.
  final class CSVText {
    private let folder: TemporaryFolder
    let path: String
    init(_ text: String) throws {
      folder = try TemporaryFolder(prefix: "bumpkit-class-names")
      path = folder.path("data.csv")
      try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
  }

  @Test func wordsThatSwiftReadsAsNonFiniteNumbersAreClassNames() throws {
    let labels = ["Infinity", "nan", "inf", "-inf", "NaN", "Infinity"]
    let csv = try CSVText("x,y\n" + labels.enumerated().map { "\($0),\($1)\n" }.joined())
    let data = try Dataset<Float>.loadCSV(path: csv.path, target: "y", task: .classification)
    #expect(data.classNames == ["-inf", "Infinity", "NaN", "inf", "nan"])
    #expect(data.y.elements == [1, 4, 3, 0, 2, 1])
    // A trained model's name classes read them back as names.
    let again = try Dataset<Float>.loadCSV(
      path: csv.path, target: "y", task: .classification, classes: .names(data.classNames!))
    #expect(again.y.elements == data.y.elements)
  }

  @Test func aLabelWithADigitThatIsNotFiniteIsStillAnError() throws {
    let csv = try CSVText("x,y\n1,0\n2,1e999\n")
    #expect(
      throws: DataError.invalidLabel(path: csv.path, line: 3, column: "y", text: "1e999", reason: "is not finite")
    ) { _ = try Dataset<Float>.loadCSV(path: csv.path, target: "y", task: .classification) }
  }

  /// `é` composed (NFC) and decomposed (NFD) are two classes, as pandas keeps them; they
  /// used to merge silently.
  @Test func twoUnicodeSpellingsOfALabelAreTwoClasses() throws {
    let (composed, decomposed) = ("caf\u{E9}", "cafe\u{301}")
    let csv = try CSVText("x,y\n1,\(composed)\n2,\(decomposed)\n3,\(composed)\n4,tea\n")
    let data = try Dataset<Float>.loadCSV(path: csv.path, target: "y", task: .classification)
    let names = try #require(data.classNames)
    // Equal as `String`s, the two are ordered by their scalars: "e" before "é".
    #expect(names.map { Array($0.unicodeScalars) } == [decomposed, composed, "tea"].map { Array($0.unicodeScalars) })
    #expect(data.task == .classification(classes: 3))
    #expect(data.y.elements == [1, 0, 1, 2])
    // Reading with the model's classes maps each spelling to its own class.
    let again = try Dataset<Float>.loadCSV(
      path: csv.path, target: "y", task: .classification, classes: .names(names))
    #expect(again.y.elements == [1, 0, 1, 2])
  }
}
