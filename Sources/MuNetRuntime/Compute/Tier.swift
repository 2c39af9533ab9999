/// The three determinism tiers (spec/determinism.md).
public enum Tier: String, CaseIterable, Sendable, CustomStringConvertible {
  /// Tier 0: pure Swift, one thread. The bits every other tier is judged against.
  case reference
  /// Tier 1: the same kernels split over the engine's own threads; bitwise equal to Tier 0.
  case threads
  /// Tier 2: OpenBLAS sgemm for matrix products (other ops as Tier 1); within a stated bound.
  case blas

  public var number: Int {
    switch self { case .reference: 0; case .threads: 1; case .blas: 2 }
  }

  public var description: String { "\(rawValue) (Tier \(number))" }
}
