#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-thread packing buffers of ``GEMMKernel``.
///
/// Why per thread: Tier 1 runs the kernel on disjoint output ranges from several threads at
/// once, so buffers must never be shared; and a step must not allocate after warm-up, so each
/// thread allocates its buffers once (on its first product) and keeps them until it exits
/// (a `pthread_key_t` destructor frees them). The engine's pool threads live as long as the
/// pool, so steady-state products allocate nothing.
struct GEMMScratch {
  /// `rowBlockMax × depthBlockMax` floats: the packed `a` block (or one packed edge panel).
  let packedA: UnsafeMutablePointer<Float>
  /// `depthBlockMax × colBlockMax` floats: the packed `b` block, 16-column panels.
  let packedB: UnsafeMutablePointer<Float>
  /// One `tileRows` × 16 tile of `c` for edge tiles and non-contiguous `c` rows.
  let tile: UnsafeMutablePointer<Float>

  static let packedAFloats = GEMMKernel.rowBlockMax * GEMMKernel.depthBlockMax
  static let packedBFloats = GEMMKernel.depthBlockMax * GEMMKernel.colBlockMax
  static let tileFloats = GEMMKernel.tileRows * GEMMKernel.tileCols
  /// Bytes each thread that runs a product holds (about 1.2 MB).
  static let bytesPerThread = (packedAFloats + packedBFloats + tileFloats) * MemoryLayout<Float>.stride

  private init(base: UnsafeMutablePointer<Float>) {
    packedA = base
    packedB = base + GEMMScratch.packedAFloats
    tile = packedB + GEMMScratch.packedBFloats
  }

  /// The calling thread's buffers, allocated on its first call.
  static func forCurrentThread() -> GEMMScratch {
    let key = gemmScratchKey
    if let raw = pthread_getspecific(key) {
      return GEMMScratch(base: raw.assumingMemoryBound(to: Float.self))
    }
    let raw = UnsafeMutableRawPointer.allocate(byteCount: bytesPerThread, alignment: 64)
    let base = raw.bindMemory(to: Float.self, capacity: bytesPerThread / MemoryLayout<Float>.stride)
    base.initialize(repeating: 0, count: bytesPerThread / MemoryLayout<Float>.stride)
    let status = pthread_setspecific(key, raw)
    precondition(status == 0, "pthread_setspecific failed with status \(status)")
    return GEMMScratch(base: base)
  }
}

/// The thread-specific slot of ``GEMMScratch``; its destructor frees a thread's buffers.
private let gemmScratchKey: pthread_key_t = {
  var key = pthread_key_t()
  let status = pthread_key_create(&key) { raw in raw?.deallocate() }
  precondition(status == 0, "pthread_key_create failed with status \(status)")
  return key
}()

/// Packing of `a` and `b` blocks into the layouts the micro-kernel reads.
///
/// Packing copies values; it never computes, so it cannot change a bit of the result.
enum GEMMPacking {
  /// Where the micro-kernel finds one panel of `a` (`tileRows` rows): `a[r, k]` is at
  /// `base[r * rowStep + k * depthStep]` for `r < tileRows`.
  struct PanelOfA {
    var base: UnsafePointer<Float>
    var rowStep: Int
    var depthStep: Int
  }

  /// The panels of one `a` block: read in place or packed into scratch.
  struct PanelsOfA {
    var first: PanelOfA
    /// Pointer distance between consecutive full panels.
    var panelStep: Int
    /// Panels `0..<fullPanels` are at `first.base + p * panelStep`.
    var fullPanels: Int
    /// The zero-padded packed last panel when the block's rows are not a multiple of 6.
    var edge: PanelOfA

    @inline(__always)
    func panel(_ index: Int) -> PanelOfA {
      guard index < fullPanels else { return edge }
      var panel = first
      panel.base += index &* panelStep
      return panel
    }
  }

  /// Whether `a` views whose rows are contiguous (`colStride == 1`) are read in place rather
  /// than packed. Reading in place saves a copy of `a` per column block; each panel is
  /// still reused across all column tiles from L1.
  static let readsRowMajorAInPlace = true
  /// Same for views whose columns are contiguous (`rowStride == 1`, e.g. a transposed matrix).
  static let readsColumnMajorAInPlace = false

  /// The panels of the block `a` (`mc × kc`, `mc ≤ rowBlockMax`, `kc ≤ depthBlockMax`).
  static func panelsOfA(_ a: Matrix, scratch: GEMMScratch) -> PanelsOfA {
    let tileRows = GEMMKernel.tileRows
    let depth = a.cols
    let fullPanels = a.rows / tileRows
    let packedEdge = PanelOfA(base: UnsafePointer(scratch.packedA), rowStep: 1, depthStep: tileRows)
    var inPlace: PanelOfA?
    if a.colStride == 1 && readsRowMajorAInPlace {
      inPlace = PanelOfA(base: UnsafePointer(a.base), rowStep: a.rowStride, depthStep: 1)
    } else if a.rowStride == 1 && readsColumnMajorAInPlace {
      inPlace = PanelOfA(base: UnsafePointer(a.base), rowStep: 1, depthStep: a.colStride)
    }
    if let inPlace {
      if fullPanels * tileRows < a.rows {
        packPanelOfA(a.rows(fullPanels * tileRows..<a.rows), into: scratch.packedA)
      }
      return PanelsOfA(
        first: inPlace, panelStep: tileRows * inPlace.rowStep, fullPanels: fullPanels, edge: packedEdge)
    }
    let panelCount = (a.rows + tileRows - 1) / tileRows
    if a.rowStride == 1 {
      packColumnMajorA(a, panelCount: panelCount, into: scratch.packedA)
      return PanelsOfA(
        first: packedEdge, panelStep: depth * tileRows, fullPanels: panelCount, edge: packedEdge)
    }
    for panel in 0..<panelCount {
      let rows = panel * tileRows..<min(a.rows, panel * tileRows + tileRows)
      packPanelOfA(a.rows(rows), into: scratch.packedA + panel * depth * tileRows)
    }
    return PanelsOfA(
      first: packedEdge, panelStep: depth * tileRows, fullPanels: panelCount, edge: packedEdge)
  }

  /// Packs up to `tileRows` rows of `a` as `dst[k * tileRows + r] = a[r, k]`, rows past `a.rows` as zeros.
  static func packPanelOfA(_ a: Matrix, into dst: UnsafeMutablePointer<Float>) {
    let tileRows = GEMMKernel.tileRows
    let depth = a.cols
    if a.rows == tileRows && a.rowStride == 1 {
      for k in 0..<depth { copyPanelColumn(a.base + k &* a.colStride, to: dst + k &* tileRows) }
      return
    }
    for r in 0..<tileRows {
      guard r < a.rows else {
        for k in 0..<depth { dst[k &* tileRows &+ r] = 0 }
        continue
      }
      let source = a.base + r &* a.rowStride
      let step = a.colStride
      for k in 0..<depth { dst[k &* tileRows &+ r] = source[k &* step] }
    }
  }

  /// Packs every panel of a block whose columns are contiguous (`a` is a transposed view,
  /// as in a weight gradient `xᵀ · dy`): `k` runs outermost, so each column of `a` (a row of
  /// the untransposed matrix) is read once, front to back, and dealt out to the panels.
  static func packColumnMajorA(_ a: Matrix, panelCount: Int, into dst: UnsafeMutablePointer<Float>) {
    let tileRows = GEMMKernel.tileRows
    let depth = a.cols
    let fullPanels = a.rows / tileRows
    let panelFloats = depth &* tileRows
    for k in 0..<depth {
      let column = a.base + k &* a.colStride
      for panel in 0..<fullPanels {
        copyPanelColumn(column + panel &* tileRows, to: dst + panel &* panelFloats + k &* tileRows)
      }
    }
    guard fullPanels < panelCount else { return }
    let edgeRows = a.rows - fullPanels * tileRows
    let edge = dst + fullPanels &* panelFloats
    for k in 0..<depth {
      let source = a.base + k &* a.colStride + fullPanels &* tileRows
      let target = edge + k &* tileRows
      for r in 0..<tileRows { target[r] = r < edgeRows ? source[r] : 0 }
    }
  }

  /// Copies the `tileRows` contiguous floats at `source` (one column of a full panel of a
  /// transposed `a`, all of which exist) to `target` with vector loads and stores: 8 + 4 with
  /// 12-row tiles, 4 + 2 with 6-row tiles (a plain loop compiled to scalar moves).
  @inline(__always)
  static func copyPanelColumn(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>) {
    let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(target)
    let floatBytes = MemoryLayout<Float>.stride
    switch GEMMKernel.tileRows {
    case 12:
      to.storeBytes(of: from.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
      let tail = from.loadUnaligned(fromByteOffset: 8 * floatBytes, as: SIMD4<Float>.self)
      (to + 8 * floatBytes).storeBytes(of: tail, as: SIMD4<Float>.self)
    case 6:
      to.storeBytes(of: from.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
      let tail = from.loadUnaligned(fromByteOffset: 4 * floatBytes, as: SIMD2<Float>.self)
      (to + 4 * floatBytes).storeBytes(of: tail, as: SIMD2<Float>.self)
    default:
      for r in 0..<GEMMKernel.tileRows { target[r] = source[r] }
    }
  }

  /// Packs the block `b` (`kc × nc`) into 16-column panels: panel `q` holds
  /// `dst[q * kc * 16 + k * 16 + j] = b[k, q * 16 + j]`, columns past `b.cols` as zeros.
  static func packB(_ b: Matrix, into dst: UnsafeMutablePointer<Float>) {
    let tileCols = GEMMKernel.tileCols
    let depth = b.rows
    let panelCount = (b.cols + tileCols - 1) / tileCols
    for panel in 0..<panelCount {
      let cols = panel * tileCols..<min(b.cols, panel * tileCols + tileCols)
      packPanelOfB(b.block(rows: 0..<depth, cols: cols), into: dst + panel * depth * tileCols)
    }
  }

  /// Packs up to 16 columns of `b` as `dst[k * 16 + j] = b[k, j]`, padding with zeros.
  static func packPanelOfB(_ b: Matrix, into dst: UnsafeMutablePointer<Float>) {
    let tileCols = GEMMKernel.tileCols
    let depth = b.rows
    if b.cols == tileCols && b.colStride == 1 {
      for k in 0..<depth {
        let row = UnsafeRawPointer(b.base + k &* b.rowStride).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(dst + k &* tileCols).storeBytes(of: row, as: SIMD16<Float>.self)
      }
      return
    }
    if b.rowStride == 1 {
      return packTransposedPanelOfB(b, into: dst)
    }
    for j in 0..<tileCols {
      guard j < b.cols else {
        for k in 0..<depth { dst[k &* tileCols &+ j] = 0 }
        continue
      }
      let source = b.base + j &* b.colStride
      let step = b.rowStride
      for k in 0..<depth { dst[k &* tileCols &+ j] = source[k &* step] }
    }
  }

  /// ``packPanelOfB(_:into:)`` for a `b` whose columns are contiguous (`rowStride == 1`: a
  /// transposed view, as `Kᵀ` in `Q·Kᵀ` or `Wᵀ` in backward products). Sixteen depths at a time,
  /// each of the (up to) 16 columns is one 16-lane load, the 16 × 16 block is transposed in
  /// registers, and each depth's 16 floats are one store (a plain `j`-outer loop compiled to
  /// scatters). Columns past `b.cols` are zeros; the last `depth % 16` depths go one at a time.
  static func packTransposedPanelOfB(_ b: Matrix, into dst: UnsafeMutablePointer<Float>) {
    let tileCols = GEMMKernel.tileCols
    let depth = b.rows, cols = b.cols
    var k = 0
    while k &+ 16 <= depth {
      let first = k
      var block = Block16 { j in
        guard j < cols else { return SIMD16() }
        return UnsafeRawPointer(b.base + (j &* b.colStride &+ first)).loadUnaligned(as: SIMD16<Float>.self)
      }
      for _ in 0..<4 { block = block.unzipped() }
      block.forEachRow { offset, row in
        let target = dst + (first &+ offset) &* tileCols
        UnsafeMutableRawPointer(target).storeBytes(of: row, as: SIMD16<Float>.self)
      }
      k &+= 16
    }
    while k < depth {
      let target = dst + k &* tileCols
      for j in 0..<tileCols { target[j] = j < cols ? b.base[j &* b.colStride &+ k] : 0 }
      k &+= 1
    }
  }

  /// Sixteen 16-float rows held in registers, for the transpose in
  /// ``packTransposedPanelOfB(_:into:)``.
  ///
  /// ``unzipped()`` moves the element at flat index `16 * row + lane` to the index whose 8 bits
  /// are those of the old one rotated right by one (row `i < 8` takes the even elements of rows
  /// `2i` and `2i + 1`, row `8 + i` their odd ones: one two-source permute each); four rounds
  /// rotate by four bits, which swaps row and lane: the transpose.
  struct Block16 {
    var r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15: SIMD16<Float>

    /// Row `i` is `row(i)`, in ascending `i`.
    @inline(__always)
    init(_ row: (Int) -> SIMD16<Float>) {
      r0 = row(0); r1 = row(1); r2 = row(2); r3 = row(3)
      r4 = row(4); r5 = row(5); r6 = row(6); r7 = row(7)
      r8 = row(8); r9 = row(9); r10 = row(10); r11 = row(11)
      r12 = row(12); r13 = row(13); r14 = row(14); r15 = row(15)
    }

    /// Calls `body(i, row i)` in ascending `i`.
    @inline(__always)
    func forEachRow(_ body: (Int, SIMD16<Float>) -> Void) {
      body(0, r0); body(1, r1); body(2, r2); body(3, r3)
      body(4, r4); body(5, r5); body(6, r6); body(7, r7)
      body(8, r8); body(9, r9); body(10, r10); body(11, r11)
      body(12, r12); body(13, r13); body(14, r14); body(15, r15)
    }

    @inline(__always)
    func unzipped() -> Block16 {
      @inline(__always) func even(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        SIMD32(lowHalf: a, highHalf: b).evenHalf
      }
      @inline(__always) func odd(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        SIMD32(lowHalf: a, highHalf: b).oddHalf
      }
      var out = self
      out.r0 = even(r0, r1); out.r1 = even(r2, r3)
      out.r2 = even(r4, r5); out.r3 = even(r6, r7)
      out.r4 = even(r8, r9); out.r5 = even(r10, r11)
      out.r6 = even(r12, r13); out.r7 = even(r14, r15)
      out.r8 = odd(r0, r1); out.r9 = odd(r2, r3)
      out.r10 = odd(r4, r5); out.r11 = odd(r6, r7)
      out.r12 = odd(r8, r9); out.r13 = odd(r10, r11)
      out.r14 = odd(r12, r13); out.r15 = odd(r14, r15)
      return out
    }
  }
}
