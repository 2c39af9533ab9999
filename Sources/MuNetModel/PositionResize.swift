import MuNetRuntime

extension PositionEmbedding {
  /// Patches along one side of the grid this table is for (`tokenCount = grid² + 1`).
  public var gridSize: Int {
    let patches = tokenCount - 1
    var side = 0
    while (side + 1) * (side + 1) <= patches { side += 1 }
    precondition(side * side == patches, "posembed_input: \(patches) patch tokens are not a square grid")
    return side
  }

  /// This table resized for a `newGrid × newGrid` patch grid (a new image size), as vit_jax
  /// `load_pretrained` does: the class-token row is kept, the grid is resized by
  /// ``resizeGrid(_:grid:width:toGrid:into:)``. The result has its own memory.
  public func resized(toGrid newGrid: Int, trainable: Bool) -> PositionEmbedding {
    let result = PositionEmbedding(
      zeroedTokenCount: newGrid * newGrid + 1, width: width, trainable: trainable)
    let source = table.buffer, destination = result.table.buffer
    for d in 0..<width { destination[d] = source[d] }
    PositionEmbedding.resizeGrid(
      UnsafeBufferPointer(rebasing: source[width...]), grid: gridSize, width: width, toGrid: newGrid,
      into: UnsafeMutableBufferPointer(rebasing: destination[width...]))
    return result
  }

  /// Bilinear resize of a `grid × grid × width` table (row-major, channels last) to
  /// `newGrid × newGrid × width` with corner-aligned sampling: `scipy.ndimage.zoom(order=1)`
  /// with its default `grid_mode=False`.
  ///
  /// Output index `o` samples input coordinate `c = o · ((grid − 1) / (newGrid − 1))` (in
  /// `Double`; `c = o` when `newGrid == 1`), so the first and last rows and columns map to the
  /// input's exactly: a 14 × 14 grid shrunk to 2 × 2 keeps the four corners. With
  /// `i = ⌊c⌋` (at most `grid − 1`), `f = c − i`, `j = min(i + 1, grid − 1)`, each value is
  /// `(1 − fy)·((1 − fx)·v[iy,ix] + fx·v[iy,jx]) + fy·((1 − fx)·v[jy,ix] + fx·v[jy,jx])`
  /// evaluated in `Double` and rounded once to `Float`. Where `f = 0` the weights are exactly
  /// 1 and 0, so sampled grid points are copied exactly.
  public static func resizeGrid(
    _ source: UnsafeBufferPointer<Float>, grid: Int, width: Int, toGrid newGrid: Int,
    into destination: UnsafeMutableBufferPointer<Float>
  ) {
    precondition(grid >= 1 && newGrid >= 1, "resizeGrid: grids must be non-empty")
    precondition(source.count == grid * grid * width, "resizeGrid: source has \(source.count) values")
    precondition(destination.count == newGrid * newGrid * width, "resizeGrid: destination size")
    let samples = (0..<newGrid).map { sample($0, grid: grid, newGrid: newGrid) }
    for oy in 0..<newGrid {
      let (y0, y1, fy) = samples[oy]
      for ox in 0..<newGrid {
        let (x0, x1, fx) = samples[ox]
        let out = (oy * newGrid + ox) * width
        for d in 0..<width {
          func at(_ y: Int, _ x: Int) -> Double { Double(source[(y * grid + x) * width + d]) }
          let top = (1 - fx) * at(y0, x0) + fx * at(y0, x1)
          let bottom = (1 - fx) * at(y1, x0) + fx * at(y1, x1)
          destination[out + d] = Float((1 - fy) * top + fy * bottom)
        }
      }
    }
  }

  /// The two input indices and the weight of the second for output index `o`.
  private static func sample(_ o: Int, grid: Int, newGrid: Int) -> (Int, Int, Double) {
    let zoom = newGrid > 1 ? Double(grid - 1) / Double(newGrid - 1) : 1
    let coordinate = Double(o) * zoom
    var lower = Int(coordinate.rounded(.down))
    var fraction = coordinate - Double(lower)
    if lower >= grid - 1 {
      lower = grid - 1
      fraction = 0
    }
    return (lower, min(lower + 1, grid - 1), fraction)
  }
}
