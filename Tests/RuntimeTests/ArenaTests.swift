import MuNetRuntime
import Testing

@Suite struct ArenaTests {
  @Test func planSumsAlignedSizes() {
    var plan = ArenaPlan()
    plan.reserve(Shape(3))  // 12 bytes -> 64
    plan.reserve(Shape(16))  // 64 bytes -> 64
    plan.reserve(Shape(17))  // 68 bytes -> 128
    #expect(plan.totalBytes == 256)
    #expect(plan.tensorCount == 3)
  }

  @Test func allocationsAreAlignedZeroedAndDisjoint() throws {
    var plan = ArenaPlan()
    plan.reserve(Shape(5, 3))
    plan.reserve(Shape(7))
    let arena = Arena(name: "test", plan: plan)
    let a = try arena.allocate(Shape(5, 3))
    let b = try arena.allocate(Shape(7))
    #expect(Int(bitPattern: a.base) % Arena.alignmentBytes == 0)
    #expect(Int(bitPattern: b.base) % Arena.alignmentBytes == 0)
    #expect(a.buffer.allSatisfy { $0 == 0 } && b.buffer.allSatisfy { $0 == 0 })
    a.fill(1)
    #expect(b.buffer.allSatisfy { $0 == 0 }, "writing one tensor must not touch another")
    #expect(arena.usedBytes == plan.totalBytes)
    #expect(arena.highWaterBytes == plan.totalBytes)
  }

  @Test func overflowNamesPlannedAndNeededBytes() throws {
    let arena = Arena(name: "activations", plannedBytes: 128)
    _ = try arena.allocate(Shape(16))
    #expect(throws: ArenaError.overflow(arena: "activations", plannedBytes: 128, neededBytes: 192)) {
      _ = try arena.allocate(Shape(20))
    }
    let message = ArenaError.overflow(arena: "activations", plannedBytes: 128, neededBytes: 192).description
    #expect(message.contains("128") && message.contains("192") && message.contains("activations"))
    #expect(arena.usedBytes == 64, "a failed allocation must not move the top")
  }

  @Test func resetReleasesScratchAndReuseIsZeroed() throws {
    let arena = Arena(name: "scratch", plannedBytes: 1024)
    let kept = try arena.allocate(Shape(4))
    let mark = arena.mark()
    let first = try arena.allocate(Shape(100))
    first.fill(3)
    arena.reset(to: mark)
    #expect(arena.usedBytes == 64)
    #expect(arena.highWaterBytes == 64 + 448)
    let second = try arena.allocate(Shape(100))
    #expect(second.base == first.base, "same plan, same addresses")
    #expect(second.buffer.allSatisfy { $0 == 0 }, "reused memory is zero-filled again")
    #expect(kept.buffer.allSatisfy { $0 == 0 })
  }

  @Test func tensorViews() throws {
    let arena = Arena(name: "views", plannedBytes: 1024)
    let t = try arena.allocate(Shape(2, 3, 4))
    for i in 0..<t.elementCount { t.base[i] = Float(i) }
    let m = t.matrix
    #expect(m.rows == 6 && m.cols == 4)
    #expect(m[5, 3] == 23)
    let tr = m.transposed
    #expect(tr.rows == 4 && tr.cols == 6 && tr[3, 5] == 23)
    let block = m.block(rows: 1..<3, cols: 2..<4)
    #expect(block[0, 0] == 6 && block[1, 1] == 11)
    #expect(t.reshaped(Shape(4, 6)).matrix[3, 5] == 23)
  }
}

@Suite struct PartitionTests {
  @Test(arguments: [(0, 1, 3), (1, 1, 3), (10, 1, 3), (100, 6, 7), (37, 16, 2), (5, 6, 4)])
  func partsCoverTheRangeInOrderWithoutOverlap(count: Int, grain: Int, threads: Int) {
    let parts = Partition.partCount(count: count, grain: grain, partsMax: threads)
    #expect(parts >= 1 && parts <= threads)
    var next = 0
    for part in 0..<parts {
      let range = Partition.range(part: part, parts: parts, count: count, grain: grain)
      #expect(range.lowerBound == next)
      if range.upperBound < count { #expect(range.upperBound % grain == 0) }
      next = range.upperBound
    }
    #expect(next == count)
  }
}
