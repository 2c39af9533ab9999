/// The bound within which a Tier 2 (OpenBLAS) product must agree with Tier 0.
///
/// Derivation (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1 and §3.5), with
/// unit roundoff `u = 2^-24 = ε/2` (`ε = 2^-23`, the float machine epsilon) and
/// `γ_n = n·u / (1 − n·u)`. Let `s = c_old + Σ_k a_ik·b_kj` be the exact value (`c_old = 0`
/// without accumulation) and `S = |c_old| + Σ_k |a_ik|·|b_kj|`.
///
/// - Tier 0 is one FMA chain of `k` steps starting at `c_old`; each step rounds once, so
///   `|c_ref − s| ≤ γ_k · S`.
/// - OpenBLAS adds the same `k + 1` terms (the `k` products, rounded or fused, and `c_old`
///   through `beta = 1`) in some unknown order and blocking. Any such order has at most
///   `k + 1` roundings on the path of any one term: `|c_blas − s| ≤ γ_{k+1} · S`.
///
/// So `|c_blas − c_ref| ≤ (γ_k + γ_{k+1}) · S`. For `k ≤ 5000` this is below
/// `(k + 2)·ε·S`; the factor used is the larger of the two, so the bound is rigorous for every
/// `k` and matches the simple `(k + 2)·ε` rule where that rule holds. `S` is summed in
/// `Double` (products of floats are exact there) and its own rounding, at most `γ_k` in
/// double precision, is covered by a factor `1 + k·2^-52`. The analysis assumes no
/// underflow; each of the at most `2k + 2` operations may add an absolute error of up to
/// half the smallest normal float if a library flushes subnormals, so
/// `(k + 1)·Float.leastNormalMagnitude` is added.
///
/// A non-finite reference passes only if the candidate is the same non-finite value class
/// (both NaN, or the same infinity).
public enum GEMMBound {
  /// The float machine epsilon, `2^-23`.
  public static let epsilon: Double = 0x1p-23
  /// The unit roundoff of round-to-nearest float arithmetic, `2^-24`.
  public static let unitRoundoff: Double = 0x1p-24

  /// `γ_n = n·u / (1 − n·u)`, infinite when `n·u ≥ 1`.
  public static func gamma(_ n: Int) -> Double {
    let nu = Double(n) * unitRoundoff
    return nu < 1 ? nu / (1 - nu) : .infinity
  }

  /// The relative factor multiplying `|c_old| + Σ|a||b|` for a depth of `depth`.
  public static func relativeFactor(depth: Int) -> Double {
    max(Double(depth + 2) * epsilon, gamma(depth) + gamma(depth + 1))
  }

  /// The absolute term covering underflow (and flush-to-zero) for a depth of `depth`.
  public static func absoluteTerm(depth: Int) -> Double {
    Double(depth + 1) * Double(Float.leastNormalMagnitude)
  }

  /// The bound for output `(row, col)` of `(accumulate ? cOld : 0) + a · b`.
  public static func bound(_ a: Matrix, _ b: Matrix, cOld: Matrix?, row: Int, col: Int) -> Double {
    let depth = a.cols
    var magnitude = 0.0
    for k in 0..<depth {
      magnitude += Double(abs(a[row, k])) * Double(abs(b[k, col]))
    }
    if let cOld { magnitude += Double(abs(cOld[row, col])) }
    let summationSlack = 1 + Double(depth) * 0x1p-52
    return relativeFactor(depth: depth) * magnitude * summationSlack + absoluteTerm(depth: depth)
  }

  /// Compares `candidate` with `reference` for the product `(cOld ?? 0) + a · b`, where
  /// `cOld` is a copy of `c` taken before an accumulating product (nil when not accumulating).
  public static func check(
    _ a: Matrix, _ b: Matrix, cOld: Matrix?, candidate: Matrix, reference: Matrix
  ) -> GEMMBoundReport {
    precondition(a.cols == b.rows && candidate.rows == a.rows && candidate.cols == b.cols,
                 "GEMMBound.check: shapes do not match")
    precondition(reference.rows == candidate.rows && reference.cols == candidate.cols,
                 "GEMMBound.check: reference and candidate shapes differ")
    var report = GEMMBoundReport(depth: a.cols)
    for i in 0..<candidate.rows {
      for j in 0..<candidate.cols {
        report.record(
          candidate: candidate[i, j], reference: reference[i, j],
          bound: bound(a, b, cOld: cOld, row: i, col: j), row: i, col: j)
      }
    }
    return report
  }
}

/// The outcome of ``GEMMBound/check(_:_:cOld:candidate:reference:)``.
public struct GEMMBoundReport: Sendable, Equatable {
  /// The depth `k` of the product.
  public let depth: Int
  /// Outputs compared.
  public private(set) var comparedCount = 0
  /// The largest `|candidate − reference|` over finite outputs.
  public private(set) var maxAbsoluteError = 0.0
  /// The largest `|candidate − reference| / bound` (≤ 1 everywhere means pass).
  public private(set) var maxBoundRatio = 0.0
  /// Where ``maxBoundRatio`` was reached (or the first non-finite mismatch), nil if nowhere.
  public private(set) var worstRow: Int?
  public private(set) var worstCol: Int?
  /// Outputs outside the bound, or non-finite where the other is not the same value class.
  public private(set) var failureCount = 0

  public var passed: Bool { failureCount == 0 }

  init(depth: Int) { self.depth = depth }

  mutating func record(candidate: Float, reference: Float, bound: Double, row: Int, col: Int) {
    comparedCount += 1
    guard reference.isFinite && candidate.isFinite else {
      let sameClass = (reference.isNaN && candidate.isNaN) || reference == candidate
      if !sameClass {
        failureCount += 1
        if maxBoundRatio.isFinite { (worstRow, worstCol) = (row, col) }
        maxBoundRatio = .infinity
      }
      return
    }
    let error = abs(Double(candidate) - Double(reference))
    let ratio = error / bound
    maxAbsoluteError = max(maxAbsoluteError, error)
    if !(ratio <= 1) { failureCount += 1 }
    if ratio > maxBoundRatio {
      maxBoundRatio = ratio
      (worstRow, worstCol) = (row, col)
    }
  }
}
