/// Bilinear image resizing with the semantics of TensorFlow 2's `tf.image.resize` (method
/// bilinear, `antialias=False`, i.e. the `ResizeBilinear` kernel with half-pixel centers and
/// without corner alignment), which the reference code applies to every image.
///
/// For each axis, with `scale = Float(inputSize) / Float(outputSize)` and output index `i`:
///
///     position = (Float(i) + 0.5) * scale - 0.5
///     lower    = max(Int(floor(position)), 0)
///     upper    = min(Int(ceil(position)), inputSize - 1)
///     fraction = position - floor(position)
///
/// and each output value, from the four input values at (lower/upper row, lower/upper column):
///
///     top    = topLeft + (topRight - topLeft) * xFraction
///     bottom = bottomLeft + (bottomRight - bottomLeft) * xFraction
///     value  = top + (bottom - top) * yFraction
///
/// all in `Float`, each operation rounded separately (no fused multiply-add). Equal sizes give
/// position = i and fraction 0, so the image comes back unchanged (identity). Aspect ratio is
/// not preserved; images are HWC, channels interpolated independently.
public enum BilinearResize {
  /// Where one output index samples its input axis.
  public struct AxisSample: Equatable, Sendable {
    /// The lower input index (clamped to 0).
    public var lower: Int32
    /// The upper input index (clamped to inputSize - 1).
    public var upper: Int32
    /// Weight of the upper index: position - floor(position).
    public var fraction: Float

    /// A sample from its parts.
    public init(lower: Int32, upper: Int32, fraction: Float) {
      self.lower = lower
      self.upper = upper
      self.fraction = fraction
    }
  }

  /// The sample of output index `index` on an axis of `inputSize` resized to `outputSize`.
  @inlinable
  public static func axisSample(index: Int, inputSize: Int, outputSize: Int) -> AxisSample {
    let scale = Float(inputSize) / Float(outputSize)
    let position = (Float(index) + 0.5) * scale - 0.5
    let below = position.rounded(.down)
    let lower = max(Int(below), 0)
    let upper = min(Int(position.rounded(.up)), inputSize - 1)
    return AxisSample(lower: Int32(lower), upper: Int32(upper), fraction: position - below)
  }

  /// Resizes the HWC image `source` (`height` × `width` × `channels`) to `outputHeight` ×
  /// `outputWidth` into `output`. `rowSamples` and `columnSamples` are scratch space for at least
  /// `outputHeight` and `outputWidth` entries (no allocation here).
  public static func resize(
    _ source: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
    into output: UnsafeMutablePointer<Float>, outputHeight: Int, outputWidth: Int,
    rowSamples: UnsafeMutablePointer<AxisSample>, columnSamples: UnsafeMutablePointer<AxisSample>
  ) {
    precondition(
      height > 0 && width > 0 && channels > 0 && outputHeight > 0 && outputWidth > 0,
      "BilinearResize: sizes must be positive")
    for y in 0..<outputHeight {
      rowSamples[y] = axisSample(index: y, inputSize: height, outputSize: outputHeight)
    }
    for x in 0..<outputWidth {
      columnSamples[x] = axisSample(index: x, inputSize: width, outputSize: outputWidth)
    }
    let rowStride = width * channels
    for y in 0..<outputHeight {
      let row = rowSamples[y]
      let top = source + Int(row.lower) * rowStride
      let bottom = source + Int(row.upper) * rowStride
      let yFraction = row.fraction
      let outputRow = output + y * outputWidth * channels
      for x in 0..<outputWidth {
        let column = columnSamples[x]
        let left = Int(column.lower) * channels
        let right = Int(column.upper) * channels
        let xFraction = column.fraction
        for channel in 0..<channels {
          let topLeft = top[left + channel]
          let topRight = top[right + channel]
          let bottomLeft = bottom[left + channel]
          let bottomRight = bottom[right + channel]
          let topValue = topLeft + (topRight - topLeft) * xFraction
          let bottomValue = bottomLeft + (bottomRight - bottomLeft) * xFraction
          outputRow[x * channels + channel] = topValue + (bottomValue - topValue) * yFraction
        }
      }
    }
  }

  /// Convenience for tests and tools: resizes `source` and returns a new array (allocates).
  public static func resized(
    _ source: [Float], height: Int, width: Int, channels: Int = 1, outputHeight: Int, outputWidth: Int
  ) -> [Float] {
    precondition(source.count == height * width * channels, "BilinearResize.resized: size mismatch")
    var output = [Float](repeating: 0, count: outputHeight * outputWidth * channels)
    var rows = [AxisSample](repeating: AxisSample(lower: 0, upper: 0, fraction: 0), count: outputHeight)
    var columns = [AxisSample](repeating: AxisSample(lower: 0, upper: 0, fraction: 0), count: outputWidth)
    source.withUnsafeBufferPointer { input in
      output.withUnsafeMutableBufferPointer { out in
        rows.withUnsafeMutableBufferPointer { rowBuffer in
          columns.withUnsafeMutableBufferPointer { columnBuffer in
            resize(
              input.baseAddress!, height: height, width: width, channels: channels,
              into: out.baseAddress!, outputHeight: outputHeight, outputWidth: outputWidth,
              rowSamples: rowBuffer.baseAddress!, columnSamples: columnBuffer.baseAddress!)
          }
        }
      }
    }
    return output
  }
}
