import MuNetRuntime

/// The inputs of check-numerics: every operand is drawn from the project's Philox streams under
/// one fixed root, so every machine checks exactly the same numbers (spec/random.md).
enum NumericsInputs {
  /// The root seed of all check-numerics streams.
  static let seed: UInt64 = 20_261_122

  /// A quiet NaN with a recognisable payload: outputs are pre-filled with it, so an output a
  /// tier forgets to write (or a write outside a view) shows up in a bitwise comparison.
  static let sentinel = Float(bitPattern: 0x7FC0_BEEF)

  /// `StreamKey(seed: 20261122).child("check-numerics")`.
  static var root: StreamKey { StreamKey(seed: seed).child("check-numerics") }

  /// The key of a table case, named by its op and shape.
  static func caseKey(_ name: String) -> StreamKey { root.child("case", name) }

  /// The key of a golden-digest case.
  static func goldenKey(_ name: String) -> StreamKey { root.child("golden", name) }

  /// `count` values `scale · (2u − 1)`, `u` = ``RandomStream/nextFloat()``: uniform in
  /// `[-scale, scale)`, exact for a power-of-two `scale`. One stream per operand name.
  static func uniform(_ count: Int, key: StreamKey, operand: String, scale: Float = 1) -> NumericsBuffer {
    let result = NumericsBuffer(count: count)
    var stream = key.child("operand", operand).stream
    for index in 0..<count { result.pointer[index] = scale * (2 * stream.nextFloat() - 1) }
    return result
  }

  /// Uniform `[-1, 1)` values each multiplied by `2^e`, `e` uniform in `-8...8` (drawn after
  /// the value): a product then mixes magnitudes over 2^±16, stressing cancellation.
  static func wideRange(_ count: Int, key: StreamKey, operand: String) -> NumericsBuffer {
    let result = NumericsBuffer(count: count)
    var stream = key.child("operand", operand).stream
    for index in 0..<count {
      let value = 2 * stream.nextFloat() - 1
      let exponent = stream.nextInt(below: 17) - 8
      result.pointer[index] = value * Float(sign: .plus, exponent: exponent, significand: 1)
    }
    return result
  }

  /// `count` class labels uniform in `0..<classes`.
  static func labels(_ count: Int, classes: Int, key: StreamKey) -> [Int32] {
    var stream = key.child("operand", "labels").stream
    return (0..<count).map { _ in Int32(stream.nextInt(below: classes)) }
  }

  /// `count` raw words of a stream (for inputs built from bit patterns).
  static func words(_ count: Int, key: StreamKey, operand: String) -> [UInt32] {
    var stream = key.child("operand", operand).stream
    return (0..<count).map { _ in stream.nextUInt32() }
  }
}
