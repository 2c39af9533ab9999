/// Labelled images as CSV text: one example per line, its pixel values (row-major, HWC) then
/// its label in the last column.
///
/// - Separator `,`; spaces around fields and `\r\n` line ends are accepted; blank lines are
///   skipped. If the first field of the first non-blank line is not a number, that line is a
///   header and is skipped.
/// - Pixels: integers or decimals (anything Swift's `Float(String)` reads), finite and ≥ 0.
///   All integers in 0...255 are stored as UInt8, anything else as Float.
/// - Labels: integers (`3` or `3.0`) in 0..<``LoadLimits/classCountMax``.
/// - Image shape: the declared one (its element count must equal the pixel columns), or else
///   a square single-channel image (the pixel column count must be a perfect square).
/// - Pixel maximum: the declared one, or else inferred: 1 when every pixel is ≤ 1, 16 when
///   the pixels are integers ≤ 16 (UCI optdigits' 17 grey levels), otherwise 255.
///
/// Every row must have as many columns as the first (checked for all rows first, so the value
/// count is bounded by the file's length); the number of values (rows × pixel columns) is
/// checked against ``LoadLimits/elementsMax`` before the value arrays are allocated.
public enum CSVFormat {
  /// Images and labels of the CSV file at `path`.
  public static func read(
    _ path: String, shape declaredShape: ImageShape? = nil, pixelMaximum declaredMaximum: Float? = nil,
    limits: LoadLimits = .standard
  ) throws(DataError) -> (images: LoadedImages, labels: [Int32]) {
    let text = try DataFile.withFile(path, limits: limits) { file throws(DataError) in try file.readAll() }
    var lines = dataLines(text)
    guard let first = lines.first else {
      throw DataError(file: path, problem: .badImageShape("the file has no rows"))
    }
    if parseNumber(
      fields(text, first.range).first ?? (first.range.lowerBound..<first.range.lowerBound), in: text) == nil
    {
      lines.removeFirst()  // a header line
    }
    guard let firstRow = lines.first else {
      throw DataError(file: path, problem: .badImageShape("the file has a header but no rows"))
    }
    let columns = fields(text, firstRow.range).count
    guard columns >= 2 else {
      throw DataError(file: path, problem: .badImageShape("\(columns) column: need pixels and a label"))
    }
    let shape = try imageShape(pixelColumns: columns - 1, declared: declaredShape, file: path)
    // Every row must have the first row's columns before the values are allocated: then the
    // value count is bounded by the text's length (each value needs its comma), whatever the
    // first row claims.
    for line in lines {
      let count = 1 + text[line.range].reduce(0) { $0 + ($1 == UInt8(ascii: ",") ? 1 : 0) }
      guard count == columns else {
        throw DataError(file: path, problem: .raggedRow(line: line.number, columns: count, expected: columns))
      }
    }
    let elements = try DataChecks.elementCount([lines.count, columns - 1], file: path, limits: limits)
    var values = [Float](repeating: 0, count: elements)
    var labels = [Int32](repeating: 0, count: lines.count)
    var allBytes = true
    var maximum: Float = 0
    for (row, line) in lines.enumerated() {
      let rowFields = fields(text, line.range)
      guard rowFields.count == columns else {
        throw DataError(
          file: path, problem: .raggedRow(line: line.number, columns: rowFields.count, expected: columns))
      }
      for column in 0..<(columns - 1) {
        guard let value = parseNumber(rowFields[column], in: text), value.isFinite, value >= 0 else {
          throw DataError(
            file: path,
            problem: .badNumber(
              line: line.number, column: column + 1, text: fieldText(rowFields[column], in: text)))
        }
        values[row * (columns - 1) + column] = value
        maximum = max(maximum, value)
        if value > 255 || value.rounded(.towardZero) != value { allBytes = false }
      }
      labels[row] = try label(
        rowFields[columns - 1], in: text, line: line.number, row: row,
        columns: columns, file: path, limits: limits)
    }
    let pixelMaximum = declaredMaximum ?? inferredMaximum(maximum, integral: allBytes)
    let pixels: ImagePixels = allBytes ? .uint8(values.map { UInt8($0) }) : .float(values)
    return (
      LoadedImages(pixels: pixels, count: lines.count, shape: shape, pixelMaximum: pixelMaximum), labels
    )
  }

  /// CSV text for `images` (values written as integers when stored as UInt8) and `labels`.
  public static func encode(_ images: LoadedImages, labels: [Int32]) -> [UInt8] {
    precondition(labels.count == images.count, "CSVFormat.encode: count mismatch")
    var text = ""
    let elements = images.shape.elementCount
    for example in 0..<images.count {
      for offset in 0..<elements {
        switch images.pixels {
        case .uint8(let values): text += String(values[example * elements + offset])
        case .float(let values): text += String(values[example * elements + offset])
        }
        text += ","
      }
      text += String(labels[example]) + "\n"
    }
    return Array(text.utf8)
  }

  // MARK: Parsing

  /// A non-blank line: its byte range (without the line end) and 1-based line number.
  struct Line {
    let range: Range<Int>
    let number: Int
  }

  static func dataLines(_ text: [UInt8]) -> [Line] {
    var lines: [Line] = []
    var start = 0
    var number = 1
    for index in 0...text.count where index == text.count || text[index] == UInt8(ascii: "\n") {
      var end = index
      if end > start && text[end - 1] == UInt8(ascii: "\r") { end -= 1 }
      if text[start..<end].contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) {
        lines.append(Line(range: start..<end, number: number))
      }
      start = index + 1
      number += 1
    }
    return lines
  }

  /// The byte ranges of the comma-separated fields of `range`, spaces trimmed.
  static func fields(_ text: [UInt8], _ range: Range<Int>) -> [Range<Int>] {
    var result: [Range<Int>] = []
    var start = range.lowerBound
    for index in range.lowerBound...range.upperBound
    where index == range.upperBound || text[index] == UInt8(ascii: ",") {
      var low = start
      var high = index
      while low < high && (text[low] == UInt8(ascii: " ") || text[low] == UInt8(ascii: "\t")) { low += 1 }
      while high > low && (text[high - 1] == UInt8(ascii: " ") || text[high - 1] == UInt8(ascii: "\t")) {
        high -= 1
      }
      result.append(low..<high)
      start = index + 1
    }
    return result
  }

  /// The number in `field`: plain decimal digits exactly (up to 9 digits), anything else through
  /// `Float(String)`. Nil when it is not a number.
  static func parseNumber(_ field: Range<Int>, in text: [UInt8]) -> Float? {
    guard !field.isEmpty else { return nil }
    if field.count <= 9, text[field].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
      var value = 0
      for byte in text[field] { value = value * 10 + Int(byte - UInt8(ascii: "0")) }
      return Float(value)
    }
    return Float(fieldText(field, in: text))
  }

  static func fieldText(_ field: Range<Int>, in text: [UInt8]) -> String {
    String(decoding: text[field], as: UTF8.self)
  }

  private static func label(
    _ field: Range<Int>, in text: [UInt8], line: Int, row: Int, columns: Int, file: String, limits: LoadLimits
  ) throws(DataError) -> Int32 {
    let shown = fieldText(field, in: text)
    guard let value = Double(shown), value.isFinite else {
      throw DataError(file: file, problem: .badNumber(line: line, column: columns, text: shown))
    }
    guard value.rounded(.towardZero) == value, value >= 0, value < Double(limits.classCountMax) else {
      throw DataError(
        file: file,
        problem: .badLabel(
          index: row, value: "'\(shown)' on line \(line) is not an integer in 0..<\(limits.classCountMax)"))
    }
    return Int32(value)
  }

  private static func imageShape(
    pixelColumns: Int, declared: ImageShape?, file: String
  ) throws(DataError) -> ImageShape {
    if let declared {
      guard declared.elementCount == pixelColumns else {
        throw DataError(
          file: file,
          problem: .badImageShape(
            "\(pixelColumns) pixel columns, the declared shape \(declared) needs \(declared.elementCount)"))
      }
      return declared
    }
    var side = 0
    while (side + 1) * (side + 1) <= pixelColumns { side += 1 }
    guard side * side == pixelColumns else {
      throw DataError(
        file: file,
        problem: .badImageShape(
          "\(pixelColumns) pixel columns is not a square number; declare the image shape"))
    }
    return ImageShape(height: side, width: side, channels: 1)
  }

  private static func inferredMaximum(_ maximum: Float, integral: Bool) -> Float {
    if maximum <= 1 { return 1 }
    if integral && maximum <= 16 { return 16 }
    return 255
  }
}
