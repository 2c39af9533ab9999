import MuNetData
import MuNetRuntime
import Testing

@Suite struct BilinearResizeTests {
  @Test func equalSizesAreTheIdentity() {
    var stream = StreamKey(seed: 11).stream
    let source = (0..<(5 * 7 * 2)).map { _ in stream.nextFloat() * 2 - 1 }
    let output = BilinearResize.resized(
      source, height: 5, width: 7, channels: 2, outputHeight: 5, outputWidth: 7)
    #expect(output.map(\.bitPattern) == source.map(\.bitPattern))
  }

  @Test func twoByTwoToFourByFourMatchesHandComputedValues() {
    // Half-pixel centers: output i samples input (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
    // clamped to the edges, so rows/columns are [a, a + (b-a)/4, a + 3(b-a)/4, b].
    let output = BilinearResize.resized([0, 1, 2, 3], height: 2, width: 2, outputHeight: 4, outputWidth: 4)
    #expect(
      output == [
        0, 0.25, 0.75, 1,
        0.5, 0.75, 1.25, 1.5,
        1.5, 1.75, 2.25, 2.5,
        2, 2.25, 2.75, 3,
      ])
  }

  @Test func downscalingAveragesNeighbours() {
    // 4 -> 2: positions 0.5 and 2.5, the midpoints of pairs.
    #expect(
      BilinearResize.resized([0, 2, 4, 8], height: 1, width: 4, outputHeight: 1, outputWidth: 2) == [1, 6])
    // 3 -> 2: positions 0.25 and 1.75.
    #expect(
      BilinearResize.resized([0, 4, 8], height: 3, width: 1, outputHeight: 2, outputWidth: 1) == [1, 7])
    // 1 -> 3: every output samples the one input.
    #expect(BilinearResize.resized([5], height: 1, width: 1, outputHeight: 3, outputWidth: 1) == [5, 5, 5])
  }

  @Test func axisSamplesFollowHalfPixelCenters() {
    #expect(
      BilinearResize.axisSample(index: 0, inputSize: 2, outputSize: 4)
        == .init(lower: 0, upper: 0, fraction: 0.75))
    #expect(
      BilinearResize.axisSample(index: 3, inputSize: 2, outputSize: 4)
        == .init(lower: 1, upper: 1, fraction: 0.25))
    #expect(
      BilinearResize.axisSample(index: 13, inputSize: 28, outputSize: 14)
        == .init(lower: 26, upper: 27, fraction: 0.5))
  }

  @Test func channelsAreResizedIndependently() {
    var stream = StreamKey(seed: 5).stream
    let channels = 3
    let source = (0..<(4 * 3 * channels)).map { _ in stream.nextFloat() }
    let all = BilinearResize.resized(
      source, height: 4, width: 3, channels: channels, outputHeight: 7, outputWidth: 5)
    for channel in 0..<channels {
      let plane = stride(from: channel, to: source.count, by: channels).map { source[$0] }
      let alone = BilinearResize.resized(plane, height: 4, width: 3, outputHeight: 7, outputWidth: 5)
      let fromAll = stride(from: channel, to: all.count, by: channels).map { all[$0] }
      #expect(alone == fromAll)
    }
  }
}

@Suite struct DistortedCropTests {
  @Test func cropsRespectTheAreaAndAspectConstraints() {
    let height = 28
    let width = 28
    var cropped = 0
    var smallest = height * width
    for sample in 0..<500 {
      var stream = StreamKey(seed: 3).child("crop", sample).stream
      let box = DistortedCrop.sample(
        height: height, width: width, areaMin: 0.05, aspectRatioMin: 0.75,
        aspectRatioMax: Float(1 / 0.75), stream: &stream)
      #expect(box.y >= 0 && box.x >= 0 && box.height >= 1 && box.width >= 1)
      #expect(box.y + box.height <= height && box.x + box.width <= width)
      let area = box.height * box.width
      smallest = min(smallest, area)
      if area < height * width {
        cropped += 1
        #expect(Float(area) >= 0.05 * Float(height * width))
        // width = round(height * aspect) with aspect in [0.75, 4/3].
        #expect(Float(box.width) >= 0.75 * Float(box.height) - 0.5)
        #expect(Float(box.width) <= Float(1 / 0.75) * Float(box.height) + 0.5)
        // TF draws the offset from [0, H - h): a smaller crop never touches the far edges.
        if box.height < height { #expect(box.y + box.height < height) }
        if box.width < width { #expect(box.x + box.width < width) }
      }
    }
    #expect(cropped > 450, "nearly every attempt sequence finds a crop")
    #expect(smallest < 28 * 28 / 4, "small crops occur")
  }

  @Test func theSameStreamGivesTheSameCrop() {
    var first = StreamKey(seed: 9).stream
    var second = StreamKey(seed: 9).stream
    let a = DistortedCrop.sample(
      height: 20, width: 12, areaMin: 0.1, aspectRatioMin: 0.5, aspectRatioMax: 2, stream: &first)
    let b = DistortedCrop.sample(
      height: 20, width: 12, areaMin: 0.1, aspectRatioMin: 0.5, aspectRatioMax: 2, stream: &second)
    #expect(a == b && first.wordOffset == second.wordOffset)
  }

  @Test func fullAreaWithSquareAspectIsTheWholeImage() {
    for sample in 0..<20 {
      var stream = StreamKey(seed: 1).child("s", sample).stream
      let box = DistortedCrop.sample(
        height: 9, width: 9, areaMin: 1, aspectRatioMin: 1, aspectRatioMax: 1, stream: &stream)
      #expect(box == CropBox(y: 0, x: 0, height: 9, width: 9))
    }
  }
}
