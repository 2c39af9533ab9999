/// The extents of a tensor: rank 0 to 4, stored inline so that views never touch the heap.
public struct Shape: Equatable, Hashable, Sendable, CustomStringConvertible {
  public static let rankMax = 4

  public private(set) var rank: Int
  @usableFromInline var d0 = 1, d1 = 1, d2 = 1, d3 = 1

  @inlinable
  public init(_ dims: Int...) { self.init(dims: dims) }

  // Fixed-rank initialisers: a variadic call builds an array (a heap allocation), which hot
  // paths must not do. Overload resolution prefers these.
  @inlinable
  public init(_ d0: Int) { self.init(rank: 1, d0, 1, 1, 1) }
  @inlinable
  public init(_ d0: Int, _ d1: Int) { self.init(rank: 2, d0, d1, 1, 1) }
  @inlinable
  public init(_ d0: Int, _ d1: Int, _ d2: Int) { self.init(rank: 3, d0, d1, d2, 1) }
  @inlinable
  public init(_ d0: Int, _ d1: Int, _ d2: Int, _ d3: Int) { self.init(rank: 4, d0, d1, d2, d3) }

  @usableFromInline
  init(rank: Int, _ d0: Int, _ d1: Int, _ d2: Int, _ d3: Int) {
    precondition(d0 >= 0 && d1 >= 0 && d2 >= 0 && d3 >= 0, "negative extent")
    self.rank = rank
    self.d0 = d0
    self.d1 = d1
    self.d2 = d2
    self.d3 = d3
  }

  public init(dims: [Int]) {
    precondition(dims.count <= Shape.rankMax, "rank \(dims.count) exceeds Shape.rankMax \(Shape.rankMax)")
    precondition(dims.allSatisfy { $0 >= 0 }, "negative extent in \(dims)")
    rank = dims.count
    for (axis, extent) in dims.enumerated() { self[axis] = extent }
  }

  @inlinable
  public subscript(axis: Int) -> Int {
    get {
      precondition(axis >= 0 && axis < rank, "axis \(axis) out of range for rank \(rank)")
      switch axis { case 0: return d0; case 1: return d1; case 2: return d2; default: return d3 }
    }
    set {
      precondition(axis >= 0 && axis < Shape.rankMax, "axis \(axis) out of range")
      switch axis { case 0: d0 = newValue; case 1: d1 = newValue; case 2: d2 = newValue; default: d3 = newValue }
    }
  }

  /// Number of elements (1 for rank 0).
  @inlinable
  public var elementCount: Int { d0 * d1 * d2 * d3 }

  public var dims: [Int] { (0..<rank).map { self[$0] } }

  public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}
