/// A layer's prediction-only form: immutable, `Sendable`, and writing only into memory that
/// each call allocates, so that any number of tasks may call one value at once.
///
/// ``Layer/inferenceLayer()`` makes one from a training layer, copying its parameters;
/// ``InferenceModel`` chains them. A layer of your own provides one by returning a small
/// struct that holds its parameters as ``Matrix`` values (which are `Sendable`) and computes
/// the layer's output from them — ideally with the same code as ``Layer/forward(_:)``, so
/// that both give the same bits:
///
///     struct ScaleInference: InferenceLayer {
///       let scale: Matrix<Double>
///       func callAsFunction(_ input: Matrix<Double>) throws -> Matrix<Double> {
///         var output = input
///         for r in 0..<input.rows {
///           for j in 0..<input.columns { output[r, j] *= scale[0, j] }
///         }
///         return output
///       }
///     }
///
/// See also: ``InferenceModel``, <doc:ExtendingBumpKit>.
public protocol InferenceLayer<Element>: Sendable {
  /// The scalar type, Float or Double.
  associatedtype Element: MatrixScalar

  /// The output for a `batch × features` input, in a matrix of its own.
  ///
  /// Must not write into memory that another call can see: calls run concurrently.
  /// - Throws: on a shape mismatch (a ``BumpKitError``, by convention).
  func callAsFunction(_ input: Matrix<Element>) throws -> Matrix<Element>
}
