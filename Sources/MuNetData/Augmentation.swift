import MuNetRuntime

/// The data hyperparameters of a path (the reference's `ds_*` hparams), training only.
///
/// Plain `Float` parameters: augmentation is data processing, not a scheduler decision; all its
/// randomness comes from keyed streams (see ``TaskData``).
public struct AugmentationParameters: Sendable, Equatable, Hashable {
  /// Random crop (`ds_crop`); it happens only when this is true *and* ``areaRangeMin`` < 1,
  /// as in µ2Net.
  public var crop: Bool
  /// Smallest crop area as a fraction of the image (`ds_area_range_min`), in (0, 1].
  public var areaRangeMin: Float
  /// Aspect ratios (width / height) range over [min, 1/min] (`ds_aspect_ratio_range_min`), in
  /// [0.001, 1].
  public var aspectRatioRangeMin: Float
  /// Random left-right flip with probability 1/2 - 2^-24 (`ds_flip_left_right`).
  public var flipLeftRight: Bool
  /// Brightness: add a uniform value in [-δ, δ) when δ > 0 (`ds_brightness_delta`).
  public var brightnessDelta: Float
  /// Contrast: scale around each channel's mean by a uniform factor in [1-δ, 1+δ) when δ > 0
  /// (`ds_contrast_delta`).
  public var contrastDelta: Float
  /// Crop attempts before the whole image is used (TF's default, 100).
  public var cropAttemptsMax: Int

  /// Parameters as named above (preconditions: the documented ranges).
  public init(
    crop: Bool, areaRangeMin: Float, aspectRatioRangeMin: Float, flipLeftRight: Bool,
    brightnessDelta: Float = 0, contrastDelta: Float = 0, cropAttemptsMax: Int = DistortedCrop.attemptsDefault
  ) {
    precondition(areaRangeMin > 0 && areaRangeMin <= 1, "areaRangeMin must be in (0, 1], got \(areaRangeMin)")
    precondition(
      aspectRatioRangeMin >= 0.001 && aspectRatioRangeMin <= 1,
      "aspectRatioRangeMin must be in [0.001, 1], got \(aspectRatioRangeMin)")
    precondition(brightnessDelta >= 0 && brightnessDelta.isFinite, "brightnessDelta must be ≥ 0")
    precondition(contrastDelta >= 0 && contrastDelta.isFinite, "contrastDelta must be ≥ 0")
    precondition(cropAttemptsMax >= 1, "cropAttemptsMax must be ≥ 1")
    self.crop = crop
    self.areaRangeMin = areaRangeMin
    self.aspectRatioRangeMin = aspectRatioRangeMin
    self.flipLeftRight = flipLeftRight
    self.brightnessDelta = brightnessDelta
    self.contrastDelta = contrastDelta
    self.cropAttemptsMax = cropAttemptsMax
  }

  /// µ2Net's defaults: crop on, area ≥ 0.05, aspect in [0.75, 4/3], flip on, no colour changes.
  public static let referenceDefault = AugmentationParameters(
    crop: true, areaRangeMin: 0.05, aspectRatioRangeMin: 0.75, flipLeftRight: true)
  /// No augmentation at all.
  public static let none = AugmentationParameters(
    crop: false, areaRangeMin: 1, aspectRatioRangeMin: 1, flipLeftRight: false)

  /// Whether training images are cropped.
  public var cropsImages: Bool { crop && areaRangeMin < 1 }
  /// The upper end of the aspect-ratio range, Float(1 / Double(min)).
  public var aspectRatioRangeMax: Float { Float(1.0 / Double(aspectRatioRangeMin)) }
}

/// One example through the input pipeline: the same code for a batch slot or a lone example,
/// so an example's values never depend on its batch, its slot or the thread count.
///
/// Training (reference `Task.get_ds`, in this order): scale to [-1, 1]; random crop
/// (``DistortedCrop``); flip left-right when `nextFloat() > 0.5`; brightness `x + δ'` with
/// `δ' = u * (δ + δ) + (-δ)`; contrast per channel `(x - mean) * f + mean` with
/// `f = u * ((1 + δ) - (1 - δ)) + (1 - δ)` and `mean` = Float(sum in Double in HWC order / count);
/// bilinear resize to the output size (``BilinearResize``); clip to [-1, 1]. Each random
/// decision reads its own stream `exampleKey.child(purpose)` for purpose "crop", "flip",
/// "brightness", "contrast", and only when that step is enabled, so enabling one step never
/// changes the draws of another.
/// Evaluation: scale, resize, clip.
struct ExamplePipeline {
  let outputHeight: Int
  let outputWidth: Int

  /// Scratch for one example: two images of the source size and the resize samples.
  struct Scratch {
    let image: UnsafeMutablePointer<Float>
    let cropped: UnsafeMutablePointer<Float>
    let rows: UnsafeMutablePointer<BilinearResize.AxisSample>
    let columns: UnsafeMutablePointer<BilinearResize.AxisSample>
  }

  /// Writes the augmented, resized, clipped example `index` of `dataset` to `output`.
  func augmented(
    _ dataset: Dataset, index: Int, key: StreamKey, parameters: AugmentationParameters,
    scratch: Scratch, output: UnsafeMutablePointer<Float>
  ) {
    let shape = dataset.shape
    var box = CropBox(y: 0, x: 0, height: shape.height, width: shape.width)
    if parameters.cropsImages {
      var stream = key.child("crop").stream
      box = DistortedCrop.sample(
        height: shape.height, width: shape.width, areaMin: parameters.areaRangeMin,
        aspectRatioMin: parameters.aspectRatioRangeMin, aspectRatioMax: parameters.aspectRatioRangeMax,
        attempts: parameters.cropAttemptsMax, stream: &stream)
    }
    var flip = false
    if parameters.flipLeftRight {
      var stream = key.child("flip").stream
      flip = stream.nextFloat() > 0.5
    }
    dataset.writeScaled(index, to: scratch.image)
    let channels = shape.channels
    let elements = box.height * box.width * channels
    for y in 0..<box.height {
      for x in 0..<box.width {
        let sourceX = flip ? box.x + box.width - 1 - x : box.x + x
        let source = scratch.image + ((box.y + y) * shape.width + sourceX) * channels
        let target = scratch.cropped + (y * box.width + x) * channels
        for channel in 0..<channels { target[channel] = source[channel] }
      }
    }
    if parameters.brightnessDelta > 0 {
      var stream = key.child("brightness").stream
      let delta = parameters.brightnessDelta
      let shift = stream.nextFloat() * (delta + delta) + (-delta)
      for offset in 0..<elements { scratch.cropped[offset] = scratch.cropped[offset] + shift }
    }
    if parameters.contrastDelta > 0 {
      var stream = key.child("contrast").stream
      let lower = 1 - parameters.contrastDelta
      let upper = 1 + parameters.contrastDelta
      let factor = stream.nextFloat() * (upper - lower) + lower
      adjustContrast(scratch.cropped, pixelCount: box.height * box.width, channels: channels, factor: factor)
    }
    resizeAndClip(
      scratch.cropped, height: box.height, width: box.width, channels: channels,
      scratch: scratch, output: output)
  }

  /// Writes the scaled, resized, clipped example `index` of `dataset` to `output` (no augmentation).
  func plain(_ dataset: Dataset, index: Int, scratch: Scratch, output: UnsafeMutablePointer<Float>) {
    dataset.writeScaled(index, to: scratch.image)
    resizeAndClip(
      scratch.image, height: dataset.shape.height, width: dataset.shape.width,
      channels: dataset.shape.channels, scratch: scratch, output: output)
  }

  private func adjustContrast(
    _ image: UnsafeMutablePointer<Float>, pixelCount: Int, channels: Int, factor: Float
  ) {
    for channel in 0..<channels {
      var sum: Double = 0
      for pixel in 0..<pixelCount { sum += Double(image[pixel * channels + channel]) }
      let mean = Float(sum / Double(pixelCount))
      for pixel in 0..<pixelCount {
        let offset = pixel * channels + channel
        image[offset] = (image[offset] - mean) * factor + mean
      }
    }
  }

  private func resizeAndClip(
    _ image: UnsafeMutablePointer<Float>, height: Int, width: Int, channels: Int, scratch: Scratch,
    output: UnsafeMutablePointer<Float>
  ) {
    BilinearResize.resize(
      image, height: height, width: width, channels: channels, into: output,
      outputHeight: outputHeight, outputWidth: outputWidth,
      rowSamples: scratch.rows, columnSamples: scratch.columns)
    for offset in 0..<(outputHeight * outputWidth * channels) {
      output[offset] = min(max(output[offset], -1), 1)
    }
  }
}
