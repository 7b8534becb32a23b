import BumpKit
import Testing

@Suite("Matrix literals, conversions and row gathers")
struct MatrixConversionTests {
  @Test("an array literal gives the same matrix as the throwing init; [] is 0 × 0")
  func literal() throws {
    let m: Matrix<Float> = [[1, 2, 3], [4, 5, 6]]
    #expect(m.rows == 2 && m.columns == 3)
    #expect(m.elements == [1, 2, 3, 4, 5, 6])
    #expect(m.elements == (try Matrix<Float>([[1, 2, 3], [4, 5, 6]])).elements)
    let empty: Matrix<Double> = []
    #expect(empty.rows == 0 && empty.columns == 0)
    let column: Matrix<Double> = [[1], [2]]
    #expect(column.shape == (2, 1))
  }

  @Test("Float → Double is exact; Double → Float rounds to nearest and overflows to infinity")
  func conversion() throws {
    let f: Matrix<Float> = [[0.1, -3], [Float.leastNonzeroMagnitude, .greatestFiniteMagnitude]]
    let d = Matrix<Double>(converting: f)
    #expect(d.shape == (2, 2))
    for i in 0..<4 { #expect(d.elements[i] == Double(f.elements[i])) }
    #expect(d[0, 0] != 0.1)  // the Float nearest 0.1, exactly

    // 1 + 2⁻²⁴ lies halfway between two Floats: ties to even gives 1. Slightly above the
    // midpoint rounds up.
    let midpoint = 1 + 0x1p-24
    let g = Matrix<Float>(converting: try Matrix<Double>([[midpoint, midpoint + 0x1p-40, 1e39, -1e39, .nan]]))
    #expect(g[0, 0] == 1)
    #expect(g[0, 1] == 1 + 0x1p-23)
    #expect(g[0, 2] == .infinity && g[0, 3] == -.infinity)
    #expect(g[0, 4].isNaN)
    #expect(Matrix<Float>(converting: Matrix<Double>()).shape == (0, 0))
  }

  @Test("zeros(like:) takes the shape of another matrix")
  func zerosLike() throws {
    let m = try Matrix<Double>(rows: 3, columns: 5, repeating: 7)
    let z = Matrix.zeros(like: m)
    #expect(z.shape == (3, 5))
    #expect(z.elements.allSatisfy { $0 == 0 })
  }

  @Test("rows(at:) gathers rows in the order given, repeats allowed; a bad index throws, naming it")
  func gather() throws {
    let m: Matrix<Float> = [[0, 1], [10, 11], [20, 21], [30, 31]]
    let g = try m.rows(at: [3, 0, 3, 1])
    #expect(g.shape == (4, 2))
    #expect(g.elements == [30, 31, 0, 1, 30, 31, 10, 11])
    #expect(try m.rows(at: 1..<3).elements == [10, 11, 20, 21])
    #expect(try m.rows(at: [Int]()).shape == (0, 2))
    do {
      _ = try m.rows(at: [0, 4])
      Issue.record("index 4 of 4 rows was accepted")
    } catch let BumpKitError.invalidArgument(name, value, reason) {
      #expect(name == "row index")
      #expect(value == "4 (position 1)")
      #expect(reason == "the matrix has rows 0 to 3")
    }
    #expect(throws: BumpKitError.self) { try m.rows(at: [-1]) }
    #expect(throws: BumpKitError.self) { try Matrix<Float>().rows(at: [0]) }
  }
}
