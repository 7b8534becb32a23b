import Testing

/// The error of type `E` that `body` throws, or nil after recording an issue when `body`
/// throws nothing or an error of another type. `label`, when given, starts the issue's text.
public func thrownError<E: Error>(
  _: E.Type, _ label: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> Void
) -> E? {
  let prefix = label.map { "\($0): " } ?? ""
  do {
    try body()
    Issue.record("\(prefix)expected a \(E.self), nothing was thrown", sourceLocation: sourceLocation)
  } catch let error as E {
    return error
  } catch {
    Issue.record("\(prefix)expected a \(E.self), got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
  }
  return nil
}
