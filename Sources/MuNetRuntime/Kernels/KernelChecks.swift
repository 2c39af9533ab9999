/// Argument checks shared by the row and column kernels (programmer errors: `precondition`).
enum KernelCheck {
  @inline(__always)
  static func sameShape(_ a: Matrix, _ b: Matrix, _ operation: StaticString) {
    precondition(a.rows == b.rows && a.cols == b.cols,
                 "\(operation): shapes differ (\(a.rows)x\(a.cols) vs \(b.rows)x\(b.cols))")
  }

  /// `range` must lie inside `0..<count` (the rows or columns a partition hands to a kernel).
  @inline(__always)
  static func range(_ range: Range<Int>, within count: Int, _ operation: StaticString) {
    precondition(range.lowerBound >= 0 && range.upperBound <= count,
                 "\(operation): range \(range) outside 0..<\(count)")
  }

  @inline(__always)
  static func count(_ actual: Int, _ expected: Int, _ what: StaticString, _ operation: StaticString) {
    precondition(actual == expected, "\(operation): \(what) has \(actual) entries, expected \(expected)")
  }
}
