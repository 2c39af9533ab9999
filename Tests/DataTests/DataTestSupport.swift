import Foundation
import MuNetData
import Testing

/// A fresh empty directory for one test; removed by `remove()`.
struct ScratchDirectory {
  let path: String

  init() throws {
    path =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("munet-data-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
  }

  /// Writes `bytes` to `name` in this directory and returns the full path.
  @discardableResult
  func write(_ name: String, _ bytes: [UInt8]) throws -> String {
    let file = path + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: file))
    return file
  }

  func write(_ name: String, text: String) throws -> String { try write(name, Array(text.utf8)) }

  func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The repository this test file is in.
let repositoryRoot = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The committed fixtures and the (possibly absent) fetched data of this checkout.
let repositoryLocations = DataLocations(
  dataDirectory: repositoryRoot + "/data", fixturesDirectory: repositoryRoot + "/fixtures/data")

/// Runs `body`, which must throw a ``DataError``, and returns that error (nil, with a recorded
/// issue, when it throws nothing).
func dataError<T>(
  _ body: () throws(DataError) -> T, sourceLocation: SourceLocation = #_sourceLocation
) -> DataError? {
  do {
    _ = try body()
    Issue.record("expected a DataError, got a result", sourceLocation: sourceLocation)
    return nil
  } catch {
    return error
  }
}

/// Little-endian bytes of `values`.
func littleEndianBytes(_ values: [Float]) -> [UInt8] {
  values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}

func littleEndianBytes(_ values: [Double]) -> [UInt8] {
  values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}

func littleEndianBytes(_ values: [Int64]) -> [UInt8] {
  values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

func littleEndianBytes(_ values: [Int32]) -> [UInt8] {
  values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

/// Example `index` of `dataset` scaled to [-1, 1] as an array.
func scaledExample(_ dataset: Dataset, _ index: Int) -> [Float] {
  var values = [Float](repeating: 0, count: dataset.shape.elementCount)
  values.withUnsafeMutableBufferPointer { dataset.writeScaled(index, to: $0.baseAddress!) }
  return values
}
