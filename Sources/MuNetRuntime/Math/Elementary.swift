/// munet's own elementary functions on `Float`.
///
/// INTERIM versions (simple Taylor series in Double) so that dependent code compiles; the
/// measured implementations replace this file. Engine code must call these, never libm.
public enum Elementary {
  public static func exp(_ x: Float) -> Float {
    if x.isNaN { return x }
    if x > 89 { return .infinity }
    if x < -104 { return 0 }
    let xd = Double(x)
    let k = (xd * 1.4426950408889634).rounded()
    let r = xd - k * 0.6931471805599453
    var term = 1.0, sum = 1.0
    for n in 1...16 { term *= r / Double(n); sum += term }
    return Float(sum * Double(sign: .plus, exponent: Int(k), significand: 1))
  }

  public static func log(_ x: Float) -> Float {
    if x.isNaN || x < 0 { return .nan }
    if x == 0 { return -.infinity }
    if x == .infinity { return x }
    let xd = Double(x)
    let e = xd.exponent
    let m = xd.significand  // [1, 2)
    let t = (m - 1) / (m + 1)
    var sum = 0.0, power = t
    for n in stride(from: 1, through: 61, by: 2) { sum += power / Double(n); power *= t * t }
    return Float(2 * sum + Double(e) * 0.6931471805599453)
  }

  public static func tanh(_ x: Float) -> Float {
    if x.isNaN { return x }
    if x > 10 { return 1 }
    if x < -10 { return -1 }
    let e2 = Double(Elementary.exp(2 * x))
    return Float((e2 - 1) / (e2 + 1))
  }

  public static func erf(_ x: Float) -> Float {
    if x.isNaN { return x }
    let xd = Double(x)
    if abs(xd) > 4 { return xd > 0 ? 1 : -1 }
    var sum = 0.0, term = xd, n = 0.0
    while n < 120 {
      sum += term / (2 * n + 1)
      n += 1
      term *= -xd * xd / n
    }
    return Float(sum * 1.1283791670955126)
  }

  public static func cos(_ x: Float) -> Float {
    if !x.isFinite { return .nan }
    let twoPi = 6.283185307179586
    var r = Double(x)
    r -= (r / twoPi).rounded() * twoPi
    var term = 1.0, sum = 1.0
    for n in stride(from: 2, through: 40, by: 2) { term *= -r * r / Double(n * (n - 1)); sum += term }
    return Float(sum)
  }
}
