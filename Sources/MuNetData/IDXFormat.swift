/// The IDX format of the MNIST files (uncompressed), unsigned-byte data only.
///
/// Layout: a 4-byte big-endian magic `0x000008RR` (0x08 = unsigned byte, RR = number of
/// dimensions), RR big-endian UInt32 dimensions, then the values in C order.
/// - images: magic 0x00000803 [N, H, W] (one channel) or 0x00000804 [N, H, W, C];
/// - labels: magic 0x00000801 [N].
///
/// The header is read and checked first (every dimension > 0, the product at most
/// ``LoadLimits/elementsMax``, the file exactly header + product bytes long); only then is the
/// data read into an array of that size.
public enum IDXFormat {
  /// Magic number of ubyte images without a channel axis.
  public static let imagesMagic: UInt32 = 0x0000_0803
  /// Magic number of ubyte images with a channel axis.
  public static let imagesWithChannelsMagic: UInt32 = 0x0000_0804
  /// Magic number of ubyte labels.
  public static let labelsMagic: UInt32 = 0x0000_0801

  /// The images of an IDX file: N × H × W × C uint8 values (HWC per image), pixel maximum 255.
  public static func readImages(
    _ path: String, limits: LoadLimits = .standard
  ) throws(DataError) -> LoadedImages {
    try DataFile.withFile(path, limits: limits) { file throws(DataError) in
      let dims = try header(of: file, ranks: [3, 4], expected: "0x00000803 or 0x00000804 (ubyte images)")
      let elements = try DataChecks.elementCount(dims, file: path, limits: limits)
      let headerBytes = 4 + 4 * dims.count
      try DataChecks.requireSize(headerBytes + elements, of: file)
      let pixels = try file.read(offset: headerBytes, count: elements)
      let shape = ImageShape(height: dims[1], width: dims[2], channels: dims.count == 4 ? dims[3] : 1)
      return LoadedImages(pixels: .uint8(pixels), count: dims[0], shape: shape, pixelMaximum: 255)
    }
  }

  /// The labels of an IDX labels file.
  public static func readLabels(_ path: String, limits: LoadLimits = .standard) throws(DataError) -> [Int32] {
    try DataFile.withFile(path, limits: limits) { file throws(DataError) in
      let dims = try header(of: file, ranks: [1], expected: "0x00000801 (ubyte labels)")
      let count = try DataChecks.elementCount(dims, file: path, limits: limits)
      try DataChecks.requireSize(8 + count, of: file)
      let labels = try file.read(offset: 8, count: count).map { Int32($0) }
      try DataChecks.checkLabels(labels, file: path, limits: limits)
      return labels
    }
  }

  /// The bytes of an IDX images file (magic 0x803 when `shape.channels` is 1, else 0x804).
  public static func encodeImages(_ pixels: [UInt8], count: Int, shape: ImageShape) -> [UInt8] {
    precondition(pixels.count == count * shape.elementCount, "IDXFormat.encodeImages: size mismatch")
    let dims =
      shape.channels == 1
      ? [count, shape.height, shape.width] : [count, shape.height, shape.width, shape.channels]
    return encodeHeader(magic: shape.channels == 1 ? imagesMagic : imagesWithChannelsMagic, dims: dims)
      + pixels
  }

  /// The bytes of an IDX labels file (labels must be in 0...255).
  public static func encodeLabels(_ labels: [Int32]) -> [UInt8] {
    encodeHeader(magic: labelsMagic, dims: [labels.count]) + labels.map { UInt8($0) }
  }

  /// A header: magic then dims, all big-endian UInt32.
  public static func encodeHeader(magic: UInt32, dims: [Int]) -> [UInt8] {
    var bytes = bigEndianBytes(magic)
    for dim in dims { bytes += bigEndianBytes(UInt32(dim)) }
    return bytes
  }

  private static func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
  }

  /// The dimensions in the header of `file`, whose magic must be ubyte with a rank in `ranks`.
  private static func header(of file: DataFile, ranks: [Int], expected: String) throws(DataError) -> [Int] {
    let prefix = try file.readPrefix(4 + 4 * 4)
    guard prefix.count >= 4 else {
      throw DataError(file: file.path, problem: .truncatedHeader(neededBytes: 4, fileBytes: file.byteCount))
    }
    let magic = readBigEndian(prefix, at: 0)
    let rank = Int(magic & 0xFF)
    guard magic >> 8 == 0x08, ranks.contains(rank) else {
      throw DataError(file: file.path, problem: .badMagic(found: DataChecks.hex32(magic), expected: expected))
    }
    let headerBytes = 4 + 4 * rank
    guard prefix.count >= headerBytes else {
      throw DataError(
        file: file.path, problem: .truncatedHeader(neededBytes: headerBytes, fileBytes: file.byteCount))
    }
    return (0..<rank).map { Int(readBigEndian(prefix, at: 4 + 4 * $0)) }
  }

  private static func readBigEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
      | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
  }
}
