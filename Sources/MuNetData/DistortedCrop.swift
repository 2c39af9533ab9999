import MuNetRuntime

/// A rectangle of an image: rows y..<y+height, columns x..<x+width.
public struct CropBox: Equatable, Sendable, CustomStringConvertible {
  /// First row.
  public var y: Int
  /// First column.
  public var x: Int
  /// Rows.
  public var height: Int
  /// Columns.
  public var width: Int

  /// A box from its parts.
  public init(y: Int, x: Int, height: Int, width: Int) {
    self.y = y
    self.x = x
    self.height = height
    self.width = width
  }

  /// "[y Y, x X, HxW]".
  public var description: String { "[y \(y), x \(x), \(height)x\(width)]" }
}

/// Random crops with the semantics of TensorFlow's `tf.image.sample_distorted_bounding_box`
/// as the reference code calls it: no bounding boxes (`use_image_if_no_bounding_boxes=True`, so
/// the "object" is the whole image), `min_object_covered=0` (every crop qualifies), area range
/// [areaMin, 1], aspect-ratio (width / height) range [aspectMin, aspectMax], and TF's default of
/// 100 attempts before falling back to the whole image.
///
/// The algorithm (TF's `GenerateRandomCrop`, transcribed; random numbers from munet's
/// ``RandomStream`` instead of TF's generator, so the values differ from TF but the
/// distribution is the same). Per attempt, with W, H the image width and height:
///
///     sampleArea   = u1 * (1 - areaMin) + areaMin                  u = nextFloat() ∈ [0, 1)
///     aspect       = u2 * (aspectMax - aspectMin) + aspectMin
///     minArea      = sampleArea * W * H;  maxArea = 1 * W * H      (Float, left to right)
///     height       = lrint(sqrt(minArea / aspect))
///     maxHeight    = lrint(sqrt(maxArea / aspect))
///     if lrint(maxHeight * aspect) > W:
///       maxHeight = Int((Double(W) + 0.5 - Double(Float(1e-7))) / Double(aspect))   (truncation)
///       if lrint(maxHeight * aspect) > W: maxHeight -= 1
///     if height >= maxHeight: height = maxHeight
///     if height < maxHeight: height += nextInt(below: maxHeight - height + 1)
///     width = lrint(height * aspect); area = Float(width * height)
///     if area < minArea: height += 1; width = lrint(height * aspect); area = Float(width * height)
///     if area > maxArea: height -= 1; width = lrint(height * aspect); area = Float(width * height)
///     reject the attempt if area < minArea, area > maxArea, width > W, height > H, width ≤ 0
///       or height ≤ 0
///     y = height < H ? nextInt(below: H - height) : 0
///     x = width < W ? nextInt(below: W - width) : 0
///
/// `lrint` rounds to nearest, ties to even; `sqrt` is the correctly rounded Float square root.
/// Note TF's `Uniform(H - height)` draws from [0, H - height), so a crop smaller than the image
/// never touches its bottom or right edge; this is kept for fidelity.
public enum DistortedCrop {
  /// TF's default `max_attempts` (the reference code does not set it).
  public static let attemptsDefault = 100

  /// A crop of an image of `height` × `width`, drawing from `stream` as documented above.
  public static func sample(
    height: Int, width: Int, areaMin: Float, aspectRatioMin: Float, aspectRatioMax: Float,
    attempts: Int = attemptsDefault, stream: inout RandomStream
  ) -> CropBox {
    precondition(height > 0 && width > 0, "DistortedCrop: empty image")
    precondition(areaMin > 0 && areaMin <= 1, "DistortedCrop: areaMin must be in (0, 1], got \(areaMin)")
    precondition(aspectRatioMin > 0 && aspectRatioMin <= aspectRatioMax, "DistortedCrop: bad aspect range")
    let areaMax: Float = 1
    for _ in 0..<attempts {
      let sampleArea = stream.nextFloat() * (areaMax - areaMin) + areaMin
      let aspect = stream.nextFloat() * (aspectRatioMax - aspectRatioMin) + aspectRatioMin
      if let box = generate(
        width: width, height: height, relativeAreaMin: sampleArea,
        relativeAreaMax: areaMax, aspect: aspect, stream: &stream)
      {
        return box
      }
    }
    return CropBox(y: 0, x: 0, height: height, width: width)
  }

  /// One attempt (TF's `GenerateRandomCrop`); nil when the constraints cannot be met.
  static func generate(
    width originalWidth: Int, height originalHeight: Int, relativeAreaMin: Float, relativeAreaMax: Float,
    aspect: Float, stream: inout RandomStream
  ) -> CropBox? {
    guard relativeAreaMax > 0, aspect > 0, relativeAreaMin <= relativeAreaMax else { return nil }
    let minArea = relativeAreaMin * Float(originalWidth) * Float(originalHeight)
    let maxArea = relativeAreaMax * Float(originalWidth) * Float(originalHeight)
    var height = roundToInt((minArea / aspect).squareRoot())
    var maxHeight = roundToInt((maxArea / aspect).squareRoot())
    if roundToInt(Float(maxHeight) * aspect) > originalWidth {
      let epsilon = Double(Float(0.0000001))
      maxHeight = Int((Double(originalWidth) + 0.5 - epsilon) / Double(aspect))
      if roundToInt(Float(maxHeight) * aspect) > originalWidth { maxHeight -= 1 }
    }
    if height >= maxHeight { height = maxHeight }
    if height < maxHeight { height += stream.nextInt(below: maxHeight - height + 1) }
    var width = roundToInt(Float(height) * aspect)
    var area = Float(width * height)
    if area < minArea {
      height += 1
      width = roundToInt(Float(height) * aspect)
      area = Float(width * height)
    }
    if area > maxArea {
      height -= 1
      width = roundToInt(Float(height) * aspect)
      area = Float(width * height)
    }
    if area < minArea || area > maxArea || width > originalWidth || height > originalHeight
      || width <= 0 || height <= 0
    {
      return nil
    }
    let y = height < originalHeight ? stream.nextInt(below: originalHeight - height) : 0
    let x = width < originalWidth ? stream.nextInt(below: originalWidth - width) : 0
    return CropBox(y: y, x: x, height: height, width: width)
  }

  /// C's `lrintf` in the default rounding mode: nearest, ties to even.
  static func roundToInt(_ value: Float) -> Int { Int(value.rounded(.toNearestOrEven)) }
}
