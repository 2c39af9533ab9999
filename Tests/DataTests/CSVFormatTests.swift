import MuNetData
import Testing

@Suite struct CSVFormatTests {
  @Test func integerCSVRoundTripsAsBytes() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let pixels: [UInt8] = [0, 255, 17, 3, 9, 200, 1, 0]
    let images = LoadedImages(
      pixels: .uint8(pixels), count: 2, shape: ImageShape(height: 2, width: 2), pixelMaximum: 255)
    let path = try directory.write("a.csv", CSVFormat.encode(images, labels: [4, 1]))
    #expect(
      String(decoding: CSVFormat.encode(images, labels: [4, 1]), as: UTF8.self)
        == "0,255,17,3,4\n9,200,1,0,1\n")
    let (read, labels) = try CSVFormat.read(path)
    #expect(read == images)
    #expect(labels == [4, 1])
  }

  @Test func headerSpacesCRLFBlankLinesAndFloatLabels() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let text = "p0,p1,p2,p3,label\r\n 0.5 , 0.25,1,0, 2.0\r\n\r\n0,0,0.75,1e-1,0\r\n"
    let (images, labels) = try CSVFormat.read(try directory.write("f.csv", text: text))
    #expect(labels == [2, 0])
    #expect(images.pixels == .float([0.5, 0.25, 1, 0, 0, 0, 0.75, 0.1]))
    #expect(images.pixelMaximum == 1 && images.shape == ImageShape(height: 2, width: 2))
  }

  @Test func declaredShapeAndInferredMaximum() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    // 6 pixel columns: not a square, so only a declared shape reads it.
    let path = try directory.write("r.csv", text: "0,16,3,4,5,6,1\n1,2,3,4,5,6,0\n")
    let shape = ImageShape(height: 1, width: 2, channels: 3)
    let (images, _) = try CSVFormat.read(path, shape: shape)
    #expect(images.shape == shape && images.pixelMaximum == 16)
    #expect(
      dataError { () throws(DataError) in try CSVFormat.read(path) }
        == DataError(
          file: path,
          problem: .badImageShape("6 pixel columns is not a square number; declare the image shape")))
    #expect(
      dataError { () throws(DataError) in try CSVFormat.read(path, shape: ImageShape(height: 2, width: 2)) }?
        .problem
        == .badImageShape("6 pixel columns, the declared shape 2x2x1 needs 4"))
    let wide = try directory.write("w.csv", text: "0,17,0,0,1\n")
    #expect(try CSVFormat.read(wide).images.pixelMaximum == 255)
    #expect(try CSVFormat.read(wide, pixelMaximum: 20).images.pixelMaximum == 20)
  }

  @Test func malformedRowsGiveTypedErrorsWithLineNumbers() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    func problem(_ text: String) throws -> DataProblem? {
      let path = try directory.write("bad.csv", text: text)
      let error = dataError { () throws(DataError) in
        try CSVFormat.read(path, limits: LoadLimits(classCountMax: 10))
      }
      #expect(error?.file == path)
      return error?.problem
    }
    #expect(try problem("1,2,3,4,0\n1,2,3,0\n") == .raggedRow(line: 2, columns: 4, expected: 5))
    #expect(try problem("1,2,3,4,0\n\n1,2,3,4,5,0\n") == .raggedRow(line: 3, columns: 6, expected: 5))
    #expect(try problem("1,2,3,4,0\n1,x,3,4,0\n") == .badNumber(line: 2, column: 2, text: "x"))
    #expect(try problem("1,2,3,4,0\n1,,3,4,0\n") == .badNumber(line: 2, column: 2, text: ""))
    #expect(try problem("1,2,3,-4,0\n") == .badNumber(line: 1, column: 4, text: "-4"))
    #expect(try problem("1,2,3,nan,0\n") == .badNumber(line: 1, column: 4, text: "nan"))
    #expect(
      try problem("1,2,3,4,1.5\n")
        == .badLabel(index: 0, value: "'1.5' on line 1 is not an integer in 0..<10"))
    #expect(
      try problem("1,2,3,4,0\n1,2,3,4,10\n")
        == .badLabel(index: 1, value: "'10' on line 2 is not an integer in 0..<10"))
    #expect(try problem("1,2,3,4,zero\n") == .badNumber(line: 1, column: 5, text: "zero"))
    #expect(try problem("") == .badImageShape("the file has no rows"))
    #expect(try problem("a,b,label\n") == .badImageShape("the file has a header but no rows"))
    #expect(try problem("5\n") == .badImageShape("1 column: need pixels and a label"))
  }

  @Test func elementLimitIsCheckedBeforeAllocating() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let path = try directory.write("big.csv", text: String(repeating: "1,2,3,4,0\n", count: 10))
    #expect(
      dataError { () throws(DataError) in try CSVFormat.read(path, limits: LoadLimits(elementsMax: 39)) }?
        .problem
        == .tooManyElements(dims: [10, 4], limit: 39))
    #expect(
      dataError { () throws(DataError) in try CSVFormat.read(path, limits: LoadLimits(fileBytesMax: 99)) }?
        .problem
        == .fileTooLarge(limitBytes: 99))
  }
}
