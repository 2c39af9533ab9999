/// An arena: one buffer sized up front from a plan, handing out tensor views by bumping an offset.
///
/// Why: after warm-up a training step must make no heap allocation, and the address alignment of
/// every buffer must be fixed (SIMD loads and any library that picks code paths by alignment see
/// the same layout on every run). So all memory a step needs is planned, allocated once, and
/// reused. Running past the plan is an ``ArenaError/overflow(arena:plannedBytes:neededBytes:)``
/// that names both sizes; an arena never grows silently.
///
/// Lifecycle: `init` (one allocation, zero-filled) → ``allocate(_:)`` / ``mark()`` /
/// ``reset(to:)`` any number of times → deinit. Views must not outlive the arena.
public final class Arena: @unchecked Sendable {
  /// Every allocation starts at a multiple of this many bytes (a cache line; also AVX-512 width).
  public static let alignmentBytes = 64

  public let name: String
  public let plannedBytes: Int
  /// Bytes handed out and not yet released by ``reset(to:)``.
  public private(set) var usedBytes = 0
  /// The largest ``usedBytes`` ever reached.
  public private(set) var highWaterBytes = 0

  private let storage: UnsafeMutableRawPointer

  /// A position to return to with ``reset(to:)``: scratch memory for one step is released at once.
  public struct Mark: Sendable { fileprivate let usedBytes: Int }

  public init(name: String, plannedBytes: Int) {
    precondition(plannedBytes >= 0, "arena \(name): negative plan")
    self.name = name
    self.plannedBytes = plannedBytes
    storage = UnsafeMutableRawPointer.allocate(
      byteCount: max(plannedBytes, Arena.alignmentBytes), alignment: Arena.alignmentBytes)
    storage.initializeMemory(as: UInt8.self, repeating: 0, count: max(plannedBytes, Arena.alignmentBytes))
  }

  public convenience init(name: String, plan: ArenaPlan) {
    self.init(name: name, plannedBytes: plan.totalBytes)
  }

  deinit { storage.deallocate() }

  /// A zero-filled tensor of `shape`. Throws when the plan is exceeded.
  public func allocate(_ shape: Shape) throws(ArenaError) -> Tensor {
    let bytes = ArenaPlan.paddedBytes(elements: shape.elementCount)
    let needed = usedBytes + bytes
    guard needed <= plannedBytes else {
      throw ArenaError.overflow(arena: name, plannedBytes: plannedBytes, neededBytes: needed)
    }
    let pointer = (storage + usedBytes).bindMemory(to: Float.self, capacity: shape.elementCount)
    pointer.initialize(repeating: 0, count: shape.elementCount)
    usedBytes = needed
    highWaterBytes = max(highWaterBytes, usedBytes)
    return Tensor(base: pointer, shape: shape)
  }

  public func mark() -> Mark { Mark(usedBytes: usedBytes) }

  /// Releases everything allocated after `mark`.
  public func reset(to mark: Mark) {
    precondition(mark.usedBytes <= usedBytes, "arena \(name): reset to a mark past the current top")
    usedBytes = mark.usedBytes
  }
}

/// The sizes an ``Arena`` must hold, summed with the arena's alignment padding.
public struct ArenaPlan: Sendable {
  public private(set) var totalBytes = 0
  public private(set) var tensorCount = 0

  public init() {}

  /// Bytes one tensor of `elements` floats takes in an arena, rounded up to the alignment.
  public static func paddedBytes(elements: Int) -> Int {
    let raw = elements * MemoryLayout<Float>.stride
    let align = Arena.alignmentBytes
    return (raw + align - 1) / align * align
  }

  public mutating func reserve(_ shape: Shape) {
    totalBytes += ArenaPlan.paddedBytes(elements: shape.elementCount)
    tensorCount += 1
  }

  public mutating func reserve(elements: Int) { reserve(Shape(elements)) }
}

public enum ArenaError: Error, Equatable, CustomStringConvertible {
  case overflow(arena: String, plannedBytes: Int, neededBytes: Int)

  public var description: String {
    switch self {
    case .overflow(let arena, let planned, let needed):
      return "arena '\(arena)' overflow: planned \(planned) bytes, needed \(needed) bytes"
    }
  }
}
