import MuNetRuntime
import MuNetStorage

/// Owned `Float` storage for one operand of a numerics case (freed on deinit).
final class NumericsBuffer {
  let pointer: UnsafeMutablePointer<Float>
  let count: Int

  init(count: Int, fill: Float = 0) {
    precondition(count >= 0, "negative buffer size")
    self.count = count
    pointer = .allocate(capacity: max(count, 1))
    pointer.initialize(repeating: fill, count: max(count, 1))
  }

  convenience init(copying other: NumericsBuffer) {
    self.init(count: other.count)
    pointer.update(from: other.pointer, count: other.count)
  }

  deinit { pointer.deallocate() }

  var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

  /// The whole buffer as a dense row-major `rows × cols` matrix.
  func matrix(rows: Int, cols: Int) -> Matrix {
    precondition(rows * cols <= max(count, 1), "matrix \(rows)x\(cols) does not fit \(count) floats")
    return Matrix(base: pointer, rows: rows, cols: cols)
  }

  var values: [Float] { Array(buffer) }
}

/// Everything one run of an operation produced: its `Float` outputs in a fixed order, then any
/// `Double` results (a sum of squares, a mean loss). Two runs agree bitwise when every bit
/// pattern agrees, NaN payloads included.
struct NumericsOutput: Sendable {
  var floats: [Float]
  var doubles: [Double]

  init(floats: [Float], doubles: [Double] = []) {
    self.floats = floats
    self.doubles = doubles
  }

  /// True when every `Float` and `Double` has the same bit pattern in both.
  func isBitwiseEqual(to other: NumericsOutput) -> Bool {
    guard floats.count == other.floats.count && doubles.count == other.doubles.count else { return false }
    for index in floats.indices where floats[index].bitPattern != other.floats[index].bitPattern {
      return false
    }
    for index in doubles.indices where doubles[index].bitPattern != other.doubles[index].bitPattern {
      return false
    }
    return true
  }

  /// The largest `|self − reference|` over all values (in `Double`). Values that are equal,
  /// or both NaN, count 0; a non-finite value facing a different one counts +∞. Outputs of
  /// different sizes are +∞ apart.
  func maxAbsoluteError(from reference: NumericsOutput) -> Double {
    guard floats.count == reference.floats.count && doubles.count == reference.doubles.count else {
      return .infinity
    }
    var largest = 0.0
    for index in floats.indices {
      largest = max(largest, NumericsOutput.distance(Double(floats[index]), Double(reference.floats[index])))
    }
    for index in doubles.indices {
      largest = max(largest, NumericsOutput.distance(doubles[index], reference.doubles[index]))
    }
    return largest
  }

  private static func distance(_ a: Double, _ b: Double) -> Double {
    if a == b || (a.isNaN && b.isNaN) { return 0 }
    guard a.isFinite && b.isFinite else { return .infinity }
    return abs(a - b)
  }

  /// SHA-256 over the little-endian bit patterns of ``floats`` (4 bytes each, in order), then
  /// of ``doubles`` (8 bytes each, in order). This is the kernel digest of golden/kernel-digests.json.
  var digest: SHA256.Digest {
    var bytes = [UInt8]()
    bytes.reserveCapacity(floats.count * 4 + doubles.count * 8)
    for value in floats {
      let bits = value.bitPattern
      for shift in stride(from: 0, to: 32, by: 8) {
        bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift)))
      }
    }
    for value in doubles {
      let bits = value.bitPattern
      for shift in stride(from: 0, to: 64, by: 8) {
        bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
      }
    }
    return SHA256.hash(bytes)
  }
}
