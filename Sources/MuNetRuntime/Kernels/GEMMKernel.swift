/// The fast deterministic GEMM used by Tier 0 and Tier 1.
///
/// Its bits are those of ``GEMMReference`` for every input: each output `c[i, j]` is one fused
/// multiply-add chain `acc = acc.addingProduct(a[i, k], b[k, j])` over `k = 0, 1, ..., K-1`,
/// starting from `c[i, j]` when accumulating and from +0 otherwise. The speed comes from the
/// order in which *outputs* are visited, never from reordering a chain:
///
/// - A tile of `c` lives in registers while `k` runs up: 6 × 16 with AVX2 (six `SIMD16<Float>`
///   rows, twelve 256-bit registers), 12 × 16 with AVX-512 (twelve 512-bit registers), and
///   12 × 32 on full tiles with AVX-512 (two panels side by side). Each step broadcasts
///   `a[i, k]` and multiplies it by one packed row `b[k, j..<j+16]`. Lane `j` of row `i` is
///   exactly the reference chain.
/// - `k` is cut into blocks of at most ``depthBlockMax``. Between blocks the accumulator is
///   stored into `c` and loaded back: a `Float` store and load are exact, so the chain is the
///   same as if it had stayed in a register.
/// - `b` is packed per depth block into 16-column panels (zero-padded); `a` is read in place
///   when its rows are contiguous, else packed into panels of `tileRows` rows (a transposed `a`
///   is packed too: measured faster than strided reads). Padding lanes compute values that are
///   never stored.
/// - Edge tiles (fewer than `tileRows` rows or 16 columns) and `c` views whose columns are not
///   contiguous go through a scratch tile; the arithmetic is the same code.
///
/// Packing buffers are per thread (``GEMMScratch``): allocated on a thread's first product and
/// reused for the thread's lifetime, so after warm-up a product makes no heap allocation, and
/// threads computing disjoint ranges of one product never share mutable memory.
public enum GEMMKernel {
  /// Row partitions in Tier 1 are multiples of this (the micro-kernel's rows).
  public static let rowGrain = tileRows
  /// Column partitions in Tier 1 are multiples of this (the micro-kernel's columns).
  public static let colGrain = tileCols

  /// Rows of `c` held in registers by the micro-kernel. With AVX-512 a `SIMD16<Float>` row is
  /// one of 32 registers, and it takes 8 independent FMA chains to keep both FMA pipes busy
  /// (latency 4): 12 rows. With AVX2 a row is two of 16 registers: 6 rows (12 chains).
  #if MUNET_CPU_AVX512
  static let tileRows = 12
  #else
  static let tileRows = 6
  #endif
  /// Columns of `c` held in registers by the micro-kernel (one `SIMD16<Float>`).
  static let tileCols = 16
  /// With AVX-512, full tiles two panels wide (12 × 32: 24 accumulators of the 32 registers)
  /// halve the broadcasts of `a` per multiply-add; the loads, not the FMAs, limit 12 × 16.
  /// (``microKernelWideBody(depth:a:aRowStep:aDepthStep:b0:b1:c:cRowStep:loadC:)`` is written
  /// for 12 rows.)
  static let usesWideTiles = tileRows == 12
  /// Largest depth block: a packed `b` micro-panel (`depth × 16`) then fills half of L1.
  static let depthBlockMax = 256
  /// Rows of `a` per block (a multiple of ``tileRows``): a block of `a` stays in L2.
  static let rowBlockMax = 144
  /// Columns of `b` packed at once (a multiple of ``tileCols``).
  static let colBlockMax = 1024

  /// Computes the outputs `c[rows, cols]` of `c = (accumulate ? c : 0) + a · b`; nothing else
  /// of `c` is read or written, so disjoint ranges may run on different threads at once.
  ///
  /// With `bias` (`c.cols` floats), each finished chain then gets `c[i, j] = c[i, j] + bias[j]`:
  /// one more rounding, the same bits as a separate bias pass, but done on each tile while it
  /// is still in L1.
  public static func multiply(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool,
    rows: Range<Int>, cols: Range<Int>, bias: UnsafePointer<Float>? = nil
  ) {
    precondition(a.cols == b.rows && c.rows == a.rows && c.cols == b.cols,
                 "gemm: shapes \(a.rows)x\(a.cols) · \(b.rows)x\(b.cols) -> \(c.rows)x\(c.cols)")
    precondition(rows.lowerBound >= 0 && rows.upperBound <= c.rows, "gemm: rows \(rows) out of range")
    precondition(cols.lowerBound >= 0 && cols.upperBound <= c.cols, "gemm: cols \(cols) out of range")
    guard !rows.isEmpty && !cols.isEmpty else { return }
    let depth = a.cols
    let output = c.block(rows: rows, cols: cols)
    let outputBias = bias.map { $0 + cols.lowerBound }
    guard depth > 0 else {
      if !accumulate { fillZero(output) }
      if let outputBias { addBias(outputBias, to: output) }
      return
    }
    multiplyBlocked(
      a.block(rows: rows, cols: 0..<depth), b.block(rows: 0..<depth, cols: cols), output,
      accumulate: accumulate, bias: outputBias, scratch: GEMMScratch.forCurrentThread())
  }

  /// `c[i, j] = c[i, j] + bias[j]` over a tile (or any view).
  @inline(__always)
  private static func addBias(_ bias: UnsafePointer<Float>, to c: Matrix) {
    if c.cols == tileCols && c.colStride == 1 {
      let biasRow = UnsafeRawPointer(bias).loadUnaligned(as: SIMD16<Float>.self)
      for i in 0..<c.rows {
        let row = c.base + i &* c.rowStride
        storeRow(loadRow(row) + biasRow, row)
      }
      return
    }
    for i in 0..<c.rows {
      for j in 0..<c.cols { c[i, j] = c[i, j] + bias[j] }
    }
  }

  /// The reference's value of an empty chain that does not accumulate: +0.
  private static func fillZero(_ c: Matrix) {
    for i in 0..<c.rows {
      for j in 0..<c.cols { c[i, j] = 0 }
    }
  }

  /// The blocked loop nest: column blocks, depth blocks (packing `b`), row blocks.
  private static func multiplyBlocked(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool, bias: UnsafePointer<Float>?,
    scratch: GEMMScratch
  ) {
    let depth = a.cols
    // Equal depth blocks: 3136 becomes 13 blocks of 242 rather than 12 of 256 and one of 64.
    let depthBlocks = (depth + depthBlockMax - 1) / depthBlockMax
    let depthStep = (depth + depthBlocks - 1) / depthBlocks
    for colStart in stride(from: 0, to: c.cols, by: colBlockMax) {
      let colRange = colStart..<min(c.cols, colStart + colBlockMax)
      for depthStart in stride(from: 0, to: depth, by: depthStep) {
        let depthRange = depthStart..<min(depth, depthStart + depthStep)
        GEMMPacking.packB(b.block(rows: depthRange, cols: colRange), into: scratch.packedB)
        // Later depth blocks continue the chains that the earlier ones left in `c`.
        let loadC = accumulate || depthStart > 0
        // The bias goes onto finished chains only: in the last depth block.
        let blockBias = depthRange.upperBound == depth ? bias.map { $0 + colStart } : nil
        for rowStart in stride(from: 0, to: c.rows, by: rowBlockMax) {
          let rowRange = rowStart..<min(c.rows, rowStart + rowBlockMax)
          multiplyRowBlock(
            a.block(rows: rowRange, cols: depthRange), c.block(rows: rowRange, cols: colRange),
            loadC: loadC, bias: blockBias, scratch: scratch)
        }
      }
    }
  }

  /// One row block of `a` (`mc × kc`) times the packed `b` block into `c` (`mc × nc`).
  private static func multiplyRowBlock(
    _ a: Matrix, _ c: Matrix, loadC: Bool, bias: UnsafePointer<Float>?, scratch: GEMMScratch
  ) {
    let depth = a.cols
    let panels = GEMMPacking.panelsOfA(a, scratch: scratch)
    let rowTiles = (c.rows + tileRows - 1) / tileRows
    let colTiles = (c.cols + tileCols - 1) / tileCols
    var colTile = 0
    while colTile < colTiles {
      let colStart = colTile * tileCols
      let bPanel = UnsafePointer(scratch.packedB + colTile * depth * tileCols)
      if usesWideTiles && colStart + 2 * tileCols <= c.cols && c.colStride == 1 {
        // Two full panels side by side: 12 × 32 register tiles where the rows are full.
        for rowTile in 0..<rowTiles {
          let rowStart = rowTile * tileRows
          let rowRange = rowStart..<min(c.rows, rowStart + tileRows)
          let panel = panels.panel(rowTile)
          let isFull = rowRange.count == tileRows
          if isFull {
            microKernelWide(
              depth: depth, a: panel, b0: bPanel, b1: bPanel + depth * tileCols,
              c: c.base + rowStart * c.rowStride + colStart, cRowStep: c.rowStride, loadC: loadC)
          }
          for half in 0..<2 {
            let halfStart = colStart + half * tileCols
            let tileView = c.block(rows: rowRange, cols: halfStart..<halfStart + tileCols)
            if !isFull {
              multiplyTile(
                depth: depth, a: panel, b: bPanel + half * depth * tileCols, c: tileView, loadC: loadC,
                tile: scratch.tile)
            }
            if let bias { addBias(bias + halfStart, to: tileView) }
          }
        }
        colTile += 2
        continue
      }
      let colRange = colStart..<min(c.cols, colStart + tileCols)
      for rowTile in 0..<rowTiles {
        let rowStart = rowTile * tileRows
        let rowRange = rowStart..<min(c.rows, rowStart + tileRows)
        let tileView = c.block(rows: rowRange, cols: colRange)
        multiplyTile(
          depth: depth, a: panels.panel(rowTile), b: bPanel, c: tileView, loadC: loadC,
          tile: scratch.tile)
        if let bias { addBias(bias + colStart, to: tileView) }
      }
      colTile += 1
    }
  }

  /// One tile of `c` (at most `tileRows` × 16): in place when it is full and its rows are contiguous,
  /// else through the scratch tile.
  @inline(__always)
  private static func multiplyTile(
    depth: Int, a: GEMMPacking.PanelOfA, b: UnsafePointer<Float>, c: Matrix, loadC: Bool,
    tile: UnsafeMutablePointer<Float>
  ) {
    if c.rows == tileRows && c.cols == tileCols && c.colStride == 1 {
      microKernel(depth: depth, a: a, b: b, c: c.base, cRowStep: c.rowStride, loadC: loadC)
      return
    }
    if loadC {
      for i in 0..<c.rows {
        for j in 0..<c.cols { tile[i * tileCols + j] = c[i, j] }
      }
    }
    microKernel(depth: depth, a: a, b: b, c: tile, cRowStep: tileCols, loadC: loadC)
    for i in 0..<c.rows {
      for j in 0..<c.cols { c[i, j] = tile[i * tileCols + j] }
    }
  }

  /// Chooses the micro-kernel specialised for how the `a` panel is laid out.
  @inline(__always)
  private static func microKernel(
    depth: Int, a: GEMMPacking.PanelOfA, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    if a.rowStep == 1 && a.depthStep == tileRows {
      microKernelPacked(depth: depth, a: a.base, b: b, c: c, cRowStep: cRowStep, loadC: loadC)
    } else if a.depthStep == 1 {
      microKernelRowMajor(
        depth: depth, a: a.base, aRowStep: a.rowStep, b: b, c: c, cRowStep: cRowStep, loadC: loadC)
    } else {
      microKernelStrided(
        depth: depth, a: a.base, aRowStep: a.rowStep, aDepthStep: a.depthStep, b: b, c: c,
        cRowStep: cRowStep, loadC: loadC)
    }
  }

  @inline(never)
  private static func microKernelPacked(
    depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    microKernelBody(
      depth: depth, a: a, aRowStep: 1, aDepthStep: tileRows, b: b, c: c, cRowStep: cRowStep,
      loadC: loadC)
  }

  @inline(never)
  private static func microKernelRowMajor(
    depth: Int, a: UnsafePointer<Float>, aRowStep: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    microKernelBody(
      depth: depth, a: a, aRowStep: aRowStep, aDepthStep: 1, b: b, c: c, cRowStep: cRowStep,
      loadC: loadC)
  }

  @inline(never)
  private static func microKernelStrided(
    depth: Int, a: UnsafePointer<Float>, aRowStep: Int, aDepthStep: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    microKernelBody(
      depth: depth, a: a, aRowStep: aRowStep, aDepthStep: aDepthStep, b: b, c: c,
      cRowStep: cRowStep, loadC: loadC)
  }

  /// The register tile (``tileRows`` × 16): `c[r, 0..<16] (+)= Σ_k a[r, k] · b[k, 0..<16]`,
  /// one FMA per element per `k`, in ascending `k`. `a[r, k]` is at
  /// `a[r * aRowStep + k * aDepthStep]`, `b[k, j]` at `b[k * 16 + j]`, `c[r, j]` at
  /// `c[r * cRowStep + j]`. The rows are independent chains: how many run side by side
  /// changes the speed, not the bits.
  @inline(__always)
  private static func microKernelBody(
    depth: Int, a: UnsafePointer<Float>, aRowStep: Int, aDepthStep: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    #if MUNET_CPU_AVX512
    microKernelBody12(
      depth: depth, a: a, aRowStep: aRowStep, aDepthStep: aDepthStep, b: b, c: c,
      cRowStep: cRowStep, loadC: loadC)
    #else
    microKernelBody6(
      depth: depth, a: a, aRowStep: aRowStep, aDepthStep: aDepthStep, b: b, c: c,
      cRowStep: cRowStep, loadC: loadC)
    #endif
  }

  /// Six rows (AVX2: twelve 256-bit accumulators).
  @inline(__always)
  private static func microKernelBody6(
    depth: Int, a: UnsafePointer<Float>, aRowStep: Int, aDepthStep: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    typealias Row = SIMD16<Float>
    // +0 in every lane: the reference's starting value when not accumulating.
    var acc0 = Row(), acc1 = Row(), acc2 = Row(), acc3 = Row(), acc4 = Row(), acc5 = Row()
    if loadC {
      acc0 = loadRow(c)
      acc1 = loadRow(c + cRowStep)
      acc2 = loadRow(c + 2 &* cRowStep)
      acc3 = loadRow(c + 3 &* cRowStep)
      acc4 = loadRow(c + 4 &* cRowStep)
      acc5 = loadRow(c + 5 &* cRowStep)
    }
    var aK = a
    var bK = b
    for _ in 0..<depth {
      let bRow = UnsafeRawPointer(bK).loadUnaligned(as: Row.self)
      acc0 = acc0.addingProduct(Row(repeating: aK[0]), bRow)
      acc1 = acc1.addingProduct(Row(repeating: aK[aRowStep]), bRow)
      acc2 = acc2.addingProduct(Row(repeating: aK[2 &* aRowStep]), bRow)
      acc3 = acc3.addingProduct(Row(repeating: aK[3 &* aRowStep]), bRow)
      acc4 = acc4.addingProduct(Row(repeating: aK[4 &* aRowStep]), bRow)
      acc5 = acc5.addingProduct(Row(repeating: aK[5 &* aRowStep]), bRow)
      aK += aDepthStep
      bK += tileCols
    }
    storeRow(acc0, c)
    storeRow(acc1, c + cRowStep)
    storeRow(acc2, c + 2 &* cRowStep)
    storeRow(acc3, c + 3 &* cRowStep)
    storeRow(acc4, c + 4 &* cRowStep)
    storeRow(acc5, c + 5 &* cRowStep)
  }

  /// Twelve rows (AVX-512: twelve 512-bit accumulators).
  @inline(__always)
  private static func microKernelBody12(
    depth: Int, a: UnsafePointer<Float>, aRowStep: Int, aDepthStep: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    typealias Row = SIMD16<Float>
    var acc0 = Row(), acc1 = Row(), acc2 = Row(), acc3 = Row(), acc4 = Row(), acc5 = Row()
    var acc6 = Row(), acc7 = Row(), acc8 = Row(), acc9 = Row(), acc10 = Row(), acc11 = Row()
    if loadC {
      acc0 = loadRow(c)
      acc1 = loadRow(c + cRowStep)
      acc2 = loadRow(c + 2 &* cRowStep)
      acc3 = loadRow(c + 3 &* cRowStep)
      acc4 = loadRow(c + 4 &* cRowStep)
      acc5 = loadRow(c + 5 &* cRowStep)
      acc6 = loadRow(c + 6 &* cRowStep)
      acc7 = loadRow(c + 7 &* cRowStep)
      acc8 = loadRow(c + 8 &* cRowStep)
      acc9 = loadRow(c + 9 &* cRowStep)
      acc10 = loadRow(c + 10 &* cRowStep)
      acc11 = loadRow(c + 11 &* cRowStep)
    }
    var aK = a
    var bK = b
    for _ in 0..<depth {
      let bRow = UnsafeRawPointer(bK).loadUnaligned(as: Row.self)
      acc0 = acc0.addingProduct(Row(repeating: aK[0]), bRow)
      acc1 = acc1.addingProduct(Row(repeating: aK[aRowStep]), bRow)
      acc2 = acc2.addingProduct(Row(repeating: aK[2 &* aRowStep]), bRow)
      acc3 = acc3.addingProduct(Row(repeating: aK[3 &* aRowStep]), bRow)
      acc4 = acc4.addingProduct(Row(repeating: aK[4 &* aRowStep]), bRow)
      acc5 = acc5.addingProduct(Row(repeating: aK[5 &* aRowStep]), bRow)
      acc6 = acc6.addingProduct(Row(repeating: aK[6 &* aRowStep]), bRow)
      acc7 = acc7.addingProduct(Row(repeating: aK[7 &* aRowStep]), bRow)
      acc8 = acc8.addingProduct(Row(repeating: aK[8 &* aRowStep]), bRow)
      acc9 = acc9.addingProduct(Row(repeating: aK[9 &* aRowStep]), bRow)
      acc10 = acc10.addingProduct(Row(repeating: aK[10 &* aRowStep]), bRow)
      acc11 = acc11.addingProduct(Row(repeating: aK[11 &* aRowStep]), bRow)
      aK += aDepthStep
      bK += tileCols
    }
    storeRow(acc0, c)
    storeRow(acc1, c + cRowStep)
    storeRow(acc2, c + 2 &* cRowStep)
    storeRow(acc3, c + 3 &* cRowStep)
    storeRow(acc4, c + 4 &* cRowStep)
    storeRow(acc5, c + 5 &* cRowStep)
    storeRow(acc6, c + 6 &* cRowStep)
    storeRow(acc7, c + 7 &* cRowStep)
    storeRow(acc8, c + 8 &* cRowStep)
    storeRow(acc9, c + 9 &* cRowStep)
    storeRow(acc10, c + 10 &* cRowStep)
    storeRow(acc11, c + 11 &* cRowStep)
  }

  /// A full 12 × 32 tile of `c` (rows contiguous) from two packed 16-column panels `b0`, `b1`;
  /// used only with AVX-512 (``usesWideTiles``). Every lane is the same chain as in
  /// ``microKernelBody(depth:a:aRowStep:aDepthStep:b:c:cRowStep:loadC:)``.
  @inline(__always)
  private static func microKernelWide(
    depth: Int, a: GEMMPacking.PanelOfA, b0: UnsafePointer<Float>, b1: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    if a.rowStep == 1 && a.depthStep == tileRows {
      microKernelWidePacked(depth: depth, a: a.base, b0: b0, b1: b1, c: c, cRowStep: cRowStep, loadC: loadC)
    } else {
      microKernelWideStrided(
        depth: depth, a: a.base, aRowStep: a.rowStep, aDepthStep: a.depthStep, b0: b0, b1: b1, c: c,
        cRowStep: cRowStep, loadC: loadC)
    }
  }

  @inline(never)
  private static func microKernelWidePacked(
    depth: Int, a: UnsafePointer<Float>, b0: UnsafePointer<Float>, b1: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    microKernelWideBody(
      depth: depth, a: a, aRowStep: 1, aDepthStep: tileRows, b0: b0, b1: b1, c: c, cRowStep: cRowStep,
      loadC: loadC)
  }

  @inline(never)
  private static func microKernelWideStrided(
    depth: Int, a: UnsafePointer<Float>, aRowStep: Int, aDepthStep: Int, b0: UnsafePointer<Float>,
    b1: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    microKernelWideBody(
      depth: depth, a: a, aRowStep: aRowStep, aDepthStep: aDepthStep, b0: b0, b1: b1, c: c,
      cRowStep: cRowStep, loadC: loadC)
  }

  /// The 12 × 32 register tile: `left{r}` holds `c[r, 0..<16]`, `right{r}` holds `c[r, 16..<32]`.
  @inline(__always)
  private static func microKernelWideBody(
    depth: Int, a: UnsafePointer<Float>, aRowStep: Int, aDepthStep: Int, b0: UnsafePointer<Float>,
    b1: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, cRowStep: Int, loadC: Bool
  ) {
    typealias Row = SIMD16<Float>
    var left0 = Row(), right0 = Row()
    var left1 = Row(), right1 = Row()
    var left2 = Row(), right2 = Row()
    var left3 = Row(), right3 = Row()
    var left4 = Row(), right4 = Row()
    var left5 = Row(), right5 = Row()
    var left6 = Row(), right6 = Row()
    var left7 = Row(), right7 = Row()
    var left8 = Row(), right8 = Row()
    var left9 = Row(), right9 = Row()
    var left10 = Row(), right10 = Row()
    var left11 = Row(), right11 = Row()
    if loadC {
      left0 = loadRow(c); right0 = loadRow(c + 16)
      left1 = loadRow(c + cRowStep); right1 = loadRow(c + cRowStep + 16)
      left2 = loadRow(c + 2 &* cRowStep); right2 = loadRow(c + 2 &* cRowStep + 16)
      left3 = loadRow(c + 3 &* cRowStep); right3 = loadRow(c + 3 &* cRowStep + 16)
      left4 = loadRow(c + 4 &* cRowStep); right4 = loadRow(c + 4 &* cRowStep + 16)
      left5 = loadRow(c + 5 &* cRowStep); right5 = loadRow(c + 5 &* cRowStep + 16)
      left6 = loadRow(c + 6 &* cRowStep); right6 = loadRow(c + 6 &* cRowStep + 16)
      left7 = loadRow(c + 7 &* cRowStep); right7 = loadRow(c + 7 &* cRowStep + 16)
      left8 = loadRow(c + 8 &* cRowStep); right8 = loadRow(c + 8 &* cRowStep + 16)
      left9 = loadRow(c + 9 &* cRowStep); right9 = loadRow(c + 9 &* cRowStep + 16)
      left10 = loadRow(c + 10 &* cRowStep); right10 = loadRow(c + 10 &* cRowStep + 16)
      left11 = loadRow(c + 11 &* cRowStep); right11 = loadRow(c + 11 &* cRowStep + 16)
    }
    var aK = a
    var b0K = b0, b1K = b1
    for _ in 0..<depth {
      let bLeft = UnsafeRawPointer(b0K).loadUnaligned(as: Row.self)
      let bRight = UnsafeRawPointer(b1K).loadUnaligned(as: Row.self)
      let a0 = Row(repeating: aK[0])
      left0 = left0.addingProduct(a0, bLeft)
      right0 = right0.addingProduct(a0, bRight)
      let a1 = Row(repeating: aK[aRowStep])
      left1 = left1.addingProduct(a1, bLeft)
      right1 = right1.addingProduct(a1, bRight)
      let a2 = Row(repeating: aK[2 &* aRowStep])
      left2 = left2.addingProduct(a2, bLeft)
      right2 = right2.addingProduct(a2, bRight)
      let a3 = Row(repeating: aK[3 &* aRowStep])
      left3 = left3.addingProduct(a3, bLeft)
      right3 = right3.addingProduct(a3, bRight)
      let a4 = Row(repeating: aK[4 &* aRowStep])
      left4 = left4.addingProduct(a4, bLeft)
      right4 = right4.addingProduct(a4, bRight)
      let a5 = Row(repeating: aK[5 &* aRowStep])
      left5 = left5.addingProduct(a5, bLeft)
      right5 = right5.addingProduct(a5, bRight)
      let a6 = Row(repeating: aK[6 &* aRowStep])
      left6 = left6.addingProduct(a6, bLeft)
      right6 = right6.addingProduct(a6, bRight)
      let a7 = Row(repeating: aK[7 &* aRowStep])
      left7 = left7.addingProduct(a7, bLeft)
      right7 = right7.addingProduct(a7, bRight)
      let a8 = Row(repeating: aK[8 &* aRowStep])
      left8 = left8.addingProduct(a8, bLeft)
      right8 = right8.addingProduct(a8, bRight)
      let a9 = Row(repeating: aK[9 &* aRowStep])
      left9 = left9.addingProduct(a9, bLeft)
      right9 = right9.addingProduct(a9, bRight)
      let a10 = Row(repeating: aK[10 &* aRowStep])
      left10 = left10.addingProduct(a10, bLeft)
      right10 = right10.addingProduct(a10, bRight)
      let a11 = Row(repeating: aK[11 &* aRowStep])
      left11 = left11.addingProduct(a11, bLeft)
      right11 = right11.addingProduct(a11, bRight)
      aK += aDepthStep
      b0K += tileCols
      b1K += tileCols
    }
    storeRow(left0, c); storeRow(right0, c + 16)
    storeRow(left1, c + cRowStep); storeRow(right1, c + cRowStep + 16)
    storeRow(left2, c + 2 &* cRowStep); storeRow(right2, c + 2 &* cRowStep + 16)
    storeRow(left3, c + 3 &* cRowStep); storeRow(right3, c + 3 &* cRowStep + 16)
    storeRow(left4, c + 4 &* cRowStep); storeRow(right4, c + 4 &* cRowStep + 16)
    storeRow(left5, c + 5 &* cRowStep); storeRow(right5, c + 5 &* cRowStep + 16)
    storeRow(left6, c + 6 &* cRowStep); storeRow(right6, c + 6 &* cRowStep + 16)
    storeRow(left7, c + 7 &* cRowStep); storeRow(right7, c + 7 &* cRowStep + 16)
    storeRow(left8, c + 8 &* cRowStep); storeRow(right8, c + 8 &* cRowStep + 16)
    storeRow(left9, c + 9 &* cRowStep); storeRow(right9, c + 9 &* cRowStep + 16)
    storeRow(left10, c + 10 &* cRowStep); storeRow(right10, c + 10 &* cRowStep + 16)
    storeRow(left11, c + 11 &* cRowStep); storeRow(right11, c + 11 &* cRowStep + 16)
  }

  @inline(__always)
  private static func loadRow(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
  }

  @inline(__always)
  private static func storeRow(_ row: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: row, as: SIMD16<Float>.self)
  }
}
