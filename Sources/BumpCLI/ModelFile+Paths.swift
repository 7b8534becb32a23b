import BumpKit
import Foundation

extension ModelFile {
  /// Why the checkpoint path names no file a checkpoint can be read from, or nil: a
  /// checkpoint is read by its size, so a FIFO, a device, a socket, an empty file and a file
  /// whose size the system gives as 0 although it has content (a `/proc` file) are refused,
  /// each as what it is. A path that does not exist is left to the reader.
  static func notAFile(_ path: String) -> String? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    switch status.st_mode & S_IFMT {
    case S_IFREG:
      guard status.st_size == 0 else { return nil }
      let descriptor = open(path, O_RDONLY | O_CLOEXEC)
      guard descriptor >= 0 else { return nil }
      defer { close(descriptor) }
      var byte: UInt8 = 0
      return read(descriptor, &byte, 1) == 1
        ? "the system gives its size as 0 bytes although it has content (a /proc or /sys "
          + "file?); a checkpoint must be a regular file"
        : "the file is empty (0 bytes)"
    case S_IFDIR:
      let inside = (path.hasSuffix("/") ? path : path + "/") + "model.safetensors"
      return FileManager.default.fileExists(atPath: inside)
        ? "it is a directory; the checkpoint in it is \(MessageText.visible(inside))"
        : "it is a directory, not a checkpoint file"
    case S_IFIFO: return "it is a FIFO (named pipe), not a regular file; a checkpoint must be a regular file"
    case S_IFCHR: return "it is a character device, not a regular file"
    case S_IFBLK: return "it is a block device, not a regular file"
    case S_IFSOCK: return "it is a socket, not a regular file"
    default: return "it is not a regular file"
    }
  }
}
