import SystemPackage

extension FileDescriptor {
  /// Reads into `buffer` until at least `minimum` bytes (at most `buffer.count`) have arrived
  /// or the input ends, and returns how many did: fewer than `minimum` only at the end of
  /// the input.
  ///
  /// The one read loop of the package. `read(into:)` retries a call interrupted by a signal
  /// (EINTR) itself; a short read, which pipes and terminals give, is followed by another.
  ///
  /// - Throws: the `Errno` of a failed read.
  func read(into buffer: UnsafeMutableRawBufferPointer, atLeast minimum: Int) throws(Errno) -> Int {
    var total = 0
    while total < Swift.min(minimum, buffer.count) {
      let n: Int
      do {
        n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]))
      } catch let error as Errno {
        throw error
      } catch {
        throw Errno.ioError
      }
      if n == 0 { break }
      total += n
    }
    return total
  }

  /// Up to `count` bytes from the current position: fewer only at the end of the input.
  ///
  /// - Throws: the `Errno` of a failed read.
  func read(upTo count: Int) throws(Errno) -> [UInt8] {
    var failure: Errno?
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      do throws(Errno) {
        initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), atLeast: count)
      } catch {
        failure = error
      }
    }
    if let failure { throw failure }
    return bytes
  }
}
