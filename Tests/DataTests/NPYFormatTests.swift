import MuNetData
import Testing

/// A v1 .npy file with an arbitrary header text (for malformed headers).
private func rawNPY(_ header: String, data: [UInt8]) -> [UInt8] {
  let text = Array(header.utf8)
  return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text + data
}

@Suite struct NPYFormatTests {
  @Test func uint8ImagesAndLabelDtypesRoundTrip() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let pixels: [UInt8] = (0..<(3 * 2 * 2)).map { UInt8($0 * 20) }
    let file = NPYFormat.encode(descr: "|u1", shape: [3, 2, 2], data: pixels)
    // NumPy pads the v1 header so the data starts at a multiple of 64 bytes.
    #expect((file.count - pixels.count) % 64 == 0)
    let images = try NPYFormat.readImages(try directory.write("x.npy", file))
    #expect(
      images.count == 3 && images.shape == ImageShape(height: 2, width: 2) && images.pixelMaximum == 255)
    #expect(images.pixels == .uint8(pixels))

    let labels: [Int32] = [0, 7, 2]
    let u1 = try directory.write(
      "u1.npy", NPYFormat.encode(descr: "|u1", shape: [3], data: labels.map { UInt8($0) }))
    let i4 = try directory.write(
      "i4.npy", NPYFormat.encode(descr: "<i4", shape: [3], data: littleEndianBytes(labels)))
    let i8 = try directory.write(
      "i8.npy",
      NPYFormat.encode(
        descr: "<i8", shape: [3], data: littleEndianBytes(labels.map { Int64($0) })))
    for path in [u1, i4, i8] { #expect(try NPYFormat.readLabels(path) == labels, "\(path)") }
  }

  @Test func floatImagesRoundTripAndInferTheirRange() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let unit: [Float] = [0, 0.25, 0.5, 1, 0.125, 0.75, 0, 1]
    let f4 = try directory.write(
      "f4.npy", NPYFormat.encode(descr: "<f4", shape: [2, 2, 2, 1], data: littleEndianBytes(unit)))
    let images = try NPYFormat.readImages(f4)
    #expect(images.pixels == .float(unit) && images.pixelMaximum == 1)
    #expect(images.shape == ImageShape(height: 2, width: 2, channels: 1) && images.count == 2)

    let bytes: [Double] = [0, 255, 128, 3.5]
    let f8 = try directory.write(
      "f8.npy", NPYFormat.encode(descr: "<f8", shape: [1, 2, 2], data: littleEndianBytes(bytes)))
    let wide = try NPYFormat.readImages(f8)
    #expect(wide.pixels == .float([0, 255, 128, 3.5]) && wide.pixelMaximum == 255)
  }

  @Test func version2HeadersAreRead() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let header = Array("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }\n".utf8)
    let length = UInt32(header.count)
    let file: [UInt8] =
      [0x93] + Array("NUMPY".utf8) + [2, 0]
      + [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), 0, 0] + header + [4, 1]
    #expect(try NPYFormat.readLabels(try directory.write("v2.npy", file)) == [4, 1])
  }

  @Test func malformedFilesGiveTypedErrorsNamingTheFile() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    func imagesError(_ name: String, _ bytes: [UInt8], limits: LoadLimits = .standard) throws -> DataProblem?
    {
      let path = try directory.write(name, bytes)
      let error = dataError { () throws(DataError) in try NPYFormat.readImages(path, limits: limits) }
      #expect(error?.file == path)
      return error?.problem
    }
    let data = [UInt8](repeating: 1, count: 8)
    #expect(
      try imagesError(
        "fortran", NPYFormat.encode(descr: "|u1", shape: [2, 2, 2], data: data, fortranOrder: true))
        == .fortranOrder)
    #expect(
      try imagesError("big-endian", NPYFormat.encode(descr: ">f4", shape: [1, 1, 2], data: data))
        == .unsupportedDtype(">f4"))
    #expect(
      try imagesError("half", NPYFormat.encode(descr: "<f2", shape: [1, 2, 2], data: data))
        == .unsupportedDtype("<f2"))
    #expect(
      try imagesError("object", NPYFormat.encode(descr: "|O", shape: [1, 2, 2], data: data))
        == .unsupportedDtype("|O"))
    #expect(
      try imagesError("rank", NPYFormat.encode(descr: "|u1", shape: [8], data: data))
        == .unsupportedRank(found: 1, expected: "3 or 4 (N, H, W[, C])"))
    #expect(
      try imagesError("zero", NPYFormat.encode(descr: "|u1", shape: [2, 0, 4], data: []))
        == .zeroDimension(axis: 1))
    #expect(
      try imagesError("overflow", NPYFormat.encode(descr: "<f8", shape: [1 << 40, 1 << 40, 2], data: []))
        == .tooManyElements(dims: [1 << 40, 1 << 40, 2], limit: 1 << 31))
    #expect(
      try imagesError(
        "dimension-digits",
        rawNPY(
          "{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999, 1, 1), }", data: [0]))
        == .badHeader("shape dimension too large"))
    let short = NPYFormat.encode(descr: "<f4", shape: [1, 2, 2], data: data)  // 8 of 16 data bytes
    let headerBytes = short.count - data.count
    #expect(
      try imagesError("truncated", short)
        == .truncated(expectedBytes: headerBytes + 16, fileBytes: headerBytes + 8))
    #expect(
      try imagesError("trailing", NPYFormat.encode(descr: "|u1", shape: [1, 2, 2], data: data))
        == .trailingBytes(expectedBytes: headerBytes + 4, fileBytes: headerBytes + 8))
    #expect(
      try imagesError("magic", Array("NUMPY-not".utf8) + data)
        == .badMagic(found: "0x4e554d50592d", expected: "\\x93NUMPY"))
    #expect(
      try imagesError("short", [0x93] + Array("NUMPY".utf8) + [1])
        == .truncatedHeader(neededBytes: 10, fileBytes: 7))
    var version3 = NPYFormat.encode(descr: "|u1", shape: [1, 2, 2], data: [1, 2, 3, 4])
    version3[6] = 3
    #expect(
      try imagesError("version", version3)
        == .badHeader("unsupported .npy version 3.0 (1.0 and 2.0 are read)"))
    let headerPromise: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0xFF]
    #expect(
      try imagesError("header-promise", headerPromise)
        == .truncatedHeader(neededBytes: 10 + 65535, fileBytes: 10))
    // "Maybe" starts at byte 54 (0-based) of this header.
    let garbage = rawNPY("{'descr': '|u1', 'shape': (1, 2, 2), 'fortran_order': Maybe}", data: [1, 2, 3, 4])
    #expect(try imagesError("garbage", garbage) == .badHeader("unexpected value at byte 54"))
    #expect(
      try imagesError("no-shape", rawNPY("{'descr': '|u1', 'fortran_order': False}", data: []))
        == .badHeader("no 'shape' tuple"))
    #expect(
      try imagesError("duplicate", rawNPY("{'descr': '|u1', 'descr': '<f4'}", data: []))
        == .badHeader("duplicate key 'descr'"))
    #expect(
      try imagesError("unterminated", rawNPY("{'descr': '|u1", data: []))
        == .badHeader("unterminated string"))
    let nan = littleEndianBytes([Float(0), .nan, 1, 0])
    #expect(
      try imagesError("nan", NPYFormat.encode(descr: "<f4", shape: [1, 2, 2], data: nan))
        == .badPixel(index: 1, value: "nan"))
  }

  @Test func badLabelsGiveTypedErrors() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let negative = try directory.write(
      "neg.npy", NPYFormat.encode(descr: "<i4", shape: [2], data: littleEndianBytes([Int32(1), -3])))
    #expect(
      dataError { () throws(DataError) in try NPYFormat.readLabels(negative) }
        == DataError(file: negative, problem: .badLabel(index: 1, value: "-3 is outside 0..<65536")))
    let floats = try directory.write(
      "f.npy", NPYFormat.encode(descr: "<f4", shape: [1], data: littleEndianBytes([Float(1)])))
    #expect(
      dataError { () throws(DataError) in try NPYFormat.readLabels(floats) }?.problem
        == .unsupportedDtype("<f4"))
    let matrix = try directory.write("m.npy", NPYFormat.encode(descr: "|u1", shape: [1, 1], data: [1]))
    #expect(
      dataError { () throws(DataError) in try NPYFormat.readLabels(matrix) }?.problem
        == .unsupportedRank(found: 2, expected: "1 (N)"))
  }
}
