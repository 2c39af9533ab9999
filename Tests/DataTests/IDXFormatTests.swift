import MuNetData
import Testing

@Suite struct IDXFormatTests {
  @Test func imagesAndLabelsRoundTrip() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let shape = ImageShape(height: 3, width: 2)
    let pixels: [UInt8] = (0..<(4 * 6)).map { UInt8($0 * 11) }
    let labels: [Int32] = [3, 0, 9, 255]
    let imagesPath = try directory.write(
      "a-images-idx3-ubyte", IDXFormat.encodeImages(pixels, count: 4, shape: shape))
    let labelsPath = try directory.write("a-labels-idx1-ubyte", IDXFormat.encodeLabels(labels))
    // The header is the standard one: magic 0x00000803, then N, H, W big-endian.
    #expect(
      Array(IDXFormat.encodeImages(pixels, count: 4, shape: shape).prefix(16))
        == [0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2])
    let images = try IDXFormat.readImages(imagesPath)
    #expect(images.count == 4 && images.shape == shape && images.pixelMaximum == 255)
    #expect(images.pixels == .uint8(pixels))
    #expect(try IDXFormat.readLabels(labelsPath) == labels)
  }

  @Test func imagesWithChannelsUseMagic804() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let shape = ImageShape(height: 2, width: 2, channels: 3)
    let pixels: [UInt8] = (0..<24).map { UInt8($0) }
    let bytes = IDXFormat.encodeImages(pixels, count: 2, shape: shape)
    #expect(Array(bytes.prefix(4)) == [0, 0, 8, 4])
    let images = try IDXFormat.readImages(try directory.write("c.idx", bytes))
    #expect(images.shape == shape && images.count == 2 && images.pixels == .uint8(pixels))
  }

  @Test func malformedHeadersGiveTypedErrorsNamingTheFile() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let good = IDXFormat.encodeImages(
      [UInt8](repeating: 7, count: 2 * 4), count: 2, shape: ImageShape(height: 2, width: 2))

    func imagesError(_ name: String, _ bytes: [UInt8], limits: LoadLimits = .standard) throws -> DataError? {
      let path = try directory.write(name, bytes)
      let error = dataError { () throws(DataError) in try IDXFormat.readImages(path, limits: limits) }
      #expect(error?.file == path)
      #expect(error?.description.hasPrefix(path + ": ") == true)
      return error
    }

    #expect(try imagesError("empty", [])?.problem == .truncatedHeader(neededBytes: 4, fileBytes: 0))
    #expect(
      try imagesError("float-magic", [0, 0, 0x0D, 3] + good.dropFirst(4))?.problem
        == .badMagic(found: "0x00000d03", expected: "0x00000803 or 0x00000804 (ubyte images)"))
    #expect(
      try imagesError("labels-as-images", IDXFormat.encodeLabels([1, 2]))?.problem
        == .badMagic(found: "0x00000801", expected: "0x00000803 or 0x00000804 (ubyte images)"))
    #expect(
      try imagesError("short-header", Array(good.prefix(10)))?.problem
        == .truncatedHeader(neededBytes: 16, fileBytes: 10))
    #expect(
      try imagesError("truncated", Array(good.dropLast(3)))?.problem
        == .truncated(expectedBytes: 24, fileBytes: 21))
    #expect(
      try imagesError("trailing", good + [1, 2])?.problem == .trailingBytes(expectedBytes: 24, fileBytes: 26))
    let zero = IDXFormat.encodeHeader(magic: 0x803, dims: [0, 28, 28])
    #expect(try imagesError("zero", zero)?.problem == .zeroDimension(axis: 0))
    // 2^32-1 cubed overflows Int; it must be rejected from the header alone (16-byte file).
    let huge = IDXFormat.encodeHeader(magic: 0x803, dims: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF])
    #expect(
      try imagesError("overflow", huge)?.problem
        == .tooManyElements(dims: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], limit: 1 << 31))
    // 60000 × 28 × 28 fits the default limit but not a small one.
    let mnistHeader = IDXFormat.encodeHeader(magic: 0x803, dims: [60000, 28, 28])
    #expect(
      try imagesError("limit", mnistHeader, limits: LoadLimits(elementsMax: 1000))?.problem
        == .tooManyElements(dims: [60000, 28, 28], limit: 1000))
    // A header that promises 47 MB in a 16-byte file is truncated, without allocating 47 MB first.
    #expect(
      try imagesError("promise", mnistHeader)?.problem == .truncated(expectedBytes: 47_040_016, fileBytes: 16)
    )
    #expect(
      try imagesError("too-large", good, limits: LoadLimits(fileBytesMax: 23))?.problem
        == .fileTooLarge(limitBytes: 23))
  }

  @Test func malformedLabelFilesGiveTypedErrors() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let images = IDXFormat.encodeImages([1, 2, 3, 4], count: 1, shape: ImageShape(height: 2, width: 2))
    let path = try directory.write("images-as-labels", images)
    #expect(
      dataError { () throws(DataError) in try IDXFormat.readLabels(path) }?.problem
        == .badMagic(found: "0x00000803", expected: "0x00000801 (ubyte labels)"))
    let labelsPath = try directory.write("labels", IDXFormat.encodeLabels([0, 5, 12]))
    let error = dataError { () throws(DataError) in
      try IDXFormat.readLabels(labelsPath, limits: LoadLimits(classCountMax: 10))
    }
    #expect(error == DataError(file: labelsPath, problem: .badLabel(index: 2, value: "12 is outside 0..<10")))
    let missing = directory.path + "/absent"
    let missingError = dataError { () throws(DataError) in try IDXFormat.readLabels(missing) }
    #expect(missingError?.file == missing)
    guard case .unreadable(let reason)? = missingError?.problem else {
      Issue.record("expected .unreadable, got \(String(describing: missingError))")
      return
    }
    #expect(reason.contains("No such file"))
  }

  @Test func aFolderIsNotAFile() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let error = dataError { () throws(DataError) in try IDXFormat.readImages(directory.path) }
    #expect(error == DataError(file: directory.path, problem: .unreadable("not a regular file")))
  }
}
