import Foundation
import MuNetRuntime
import MuNetStorage

/// A Tier 0 computation whose output bits are pinned in golden/kernel-digests.json.
struct GoldenCase {
  /// The key in the file, e.g. `gemm-tn-acc-37x29x41`.
  let name: String
  /// True when the bits depend on `Elementary` exp/log/tanh/erf/cos (so they change whenever
  /// those functions do).
  let usesElementary: Bool
  let numericsCase: NumericsCase

  /// The SHA-256 of the Tier 0 output (``NumericsOutput/digest``), as 64 hex digits.
  func digest(reference: Compute) -> String {
    numericsCase.prepare().run(reference).digest.hex
  }
}

/// The golden-digest file: `{"cases": {name: hex, ...}, "note": "..."}`, keys sorted.
struct GoldenFile: Codable, Equatable {
  var cases: [String: String]
  var note: String
}

/// How the computed digests compare with a golden file.
struct GoldenComparison: Codable, Equatable {
  /// Cases computed.
  var total: Int
  var matched: Int
  /// Cases whose digest differs from the file's.
  var mismatched: [String]
  /// Cases the file has no digest for.
  var missing: [String]
  /// Digests in the file for cases this build does not know.
  var unexpected: [String]

  var passed: Bool { matched == total && unexpected.isEmpty }

  var violations: [String] {
    mismatched.map { "golden digest mismatch: \($0)" }
      + missing.map { "golden digest missing from the file: \($0)" }
      + unexpected.map { "golden file has a digest for an unknown case: \($0)" }
  }
}

/// A golden file that cannot be used.
enum GoldenDigestError: Error, CustomStringConvertible {
  case missing(path: String)
  case unreadable(path: String, reason: String)
  case malformed(path: String, reason: String)
  case exists(path: String)

  var description: String {
    switch self {
    case .missing(let path):
      let directory = FileManager.default.currentDirectoryPath
      return "golden digest file \(path) not found (looked relative to \(directory)); "
        + "run from the repository root or pass --golden PATH"
    case .unreadable(let path, let reason): return "cannot read golden digest file \(path): \(reason)"
    case .malformed(let path, let reason): return "golden digest file \(path) is malformed: \(reason)"
    case .exists(let path): return "\(path) exists; pass --force to overwrite it"
    }
  }
}

/// The golden kernel digests: small Tier 0 cases (a couple of seconds in a debug build) whose
/// output bits must be the same in every build, debug or release, on every machine.
enum GoldenDigests {
  /// Where check-numerics looks by default, relative to the current directory.
  static let defaultPath = "golden/kernel-digests.json"

  static var cases: [GoldenCase] {
    var cases: [GoldenCase] = []
    func add(_ name: String, elementary: Bool, _ make: (StreamKey) -> NumericsCase) {
      let numericsCase = make(NumericsInputs.goldenKey(name))
      cases.append(GoldenCase(name: name, usesElementary: elementary, numericsCase: numericsCase))
    }
    let layouts: [(ViewLayoutKind, ViewLayoutKind)] = [
      (.dense, .dense), (.dense, .transposed), (.transposed, .dense), (.transposed, .transposed),
    ]
    for (a, b) in layouts {
      let code = GEMMCases.transposeCode(a, b).lowercased()
      add("gemm-\(code)-acc-37x29x41", elementary: false) { key in
        GEMMCases.gemm(op: "gemm", m: 37, k: 29, n: 41, a: a, b: b, accumulate: true, key: key)
      }
    }
    add("gemm-strided-acc-37x29x41", elementary: false) { key in
      GEMMCases.gemm(op: "gemm", m: 37, k: 29, n: 41, a: .strided, b: .block, c: .strided, accumulate: true,
                     key: key)
    }
    add("batched-gemm-qkt-3x49x16x49", elementary: false) { key in
      GEMMCases.batched(op: "batched", count: 3, m: 49, k: 16, n: 49, bTransposed: true, key: key)
    }
    let (rows, cols) = (33, 47)
    add("add-33x47", elementary: false) { RowOpCases.add(rows: rows, cols: cols, key: $0) }
    add("bias-add-33x47", elementary: false) { RowOpCases.addBias(rows: rows, cols: cols, key: $0) }
    add("column-sums-33x47", elementary: false) { RowOpCases.columnSums(rows: rows, cols: cols, key: $0) }
    add("layernorm-forward-33x47", elementary: false) {
      RowOpCases.layerNormForward(rows: rows, cols: cols, key: $0)
    }
    add("layernorm-backward-33x47", elementary: false) {
      RowOpCases.layerNormBackward(rows: rows, cols: cols, key: $0)
    }
    add("sum-of-squares-100000", elementary: false) { RowOpCases.sumOfSquares(count: 100_000, key: $0) }
    add("clip-global-norm-100000+97", elementary: false) {
      RowOpCases.clipByGlobalNorm(counts: [100_000, 97], key: $0)
    }
    add("softmax-forward-33x47", elementary: true) {
      RowOpCases.softmaxForward(rows: rows, cols: cols, key: $0)
    }
    add("softmax-backward-33x47", elementary: true) {
      RowOpCases.softmaxBackward(rows: rows, cols: cols, key: $0)
    }
    for form in GELUForm.allCases {
      add("gelu-\(form.rawValue)-forward-33x47", elementary: true) {
        RowOpCases.geluForward(rows: rows, cols: cols, form: form, key: $0)
      }
      add("gelu-\(form.rawValue)-backward-33x47", elementary: true) {
        RowOpCases.geluBackward(rows: rows, cols: cols, form: form, key: $0)
      }
    }
    add("cross-entropy-forward-33x47", elementary: true) {
      RowOpCases.crossEntropyForward(rows: rows, cols: cols, key: $0)
    }
    add("cross-entropy-backward-33x47", elementary: true) {
      RowOpCases.crossEntropyBackward(rows: rows, cols: cols, key: $0)
    }
    for function in ElementaryCases.Function.allCases {
      add("elementary-\(function.rawValue)-4096", elementary: true) {
        ElementaryCases.make(function, key: $0)
      }
    }
    return cases
  }

  /// The digest of every case, in ``cases`` order.
  static func compute(_ cases: [GoldenCase] = GoldenDigests.cases) -> [(name: String, digest: String)] {
    let reference = Compute(tier: .reference)
    return cases.map { ($0.name, $0.digest(reference: reference)) }
  }

  static func note(_ cases: [GoldenCase] = GoldenDigests.cases) -> String {
    let elementary = cases.filter(\.usesElementary).map(\.name).joined(separator: ", ")
    return "SHA-256 of the little-endian bit patterns of each case's Tier 0 outputs (Float values, "
      + "then Double values), inputs from the Philox streams StreamKey(seed: \(NumericsInputs.seed))"
      + ".child(\"check-numerics\").child(\"golden\", name). Written by `munet check-numerics "
      + "--write-golden PATH`; checked by `munet check-numerics` (release) and Tests/CLITests (debug). "
      + "A changed digest is a change of results. These depend on Elementary exp/log/tanh/erf/cos "
      + "and change with them: \(elementary)."
  }

  /// Reads a golden file.
  static func load(_ path: String) throws(GoldenDigestError) -> GoldenFile {
    guard FileManager.default.fileExists(atPath: path) else { throw .missing(path: path) }
    let bytes: [UInt8]
    do {
      bytes = try readFile(path, limitBytes: 1 << 20)
    } catch {
      throw .unreadable(path: path, reason: error.description)
    }
    do {
      return try JSONDecoder().decode(GoldenFile.self, from: Data(bytes))
    } catch {
      throw .malformed(path: path, reason: "\(error)")
    }
  }

  /// The file's bytes: pretty-printed JSON with sorted keys and a final newline.
  static func encode(_ digests: [(name: String, digest: String)], note: String) throws -> [UInt8] {
    var table: [String: String] = [:]
    for (name, digest) in digests {
      precondition(table[name] == nil, "duplicate golden case \(name)")
      table[name] = digest
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return Array(try encoder.encode(GoldenFile(cases: table, note: note))) + [UInt8(ascii: "\n")]
  }

  /// Writes `digests` to `path` atomically; refuses to replace an existing file unless `force`.
  static func write(
    _ digests: [(name: String, digest: String)], note: String, to path: String, force: Bool
  ) throws {
    if !force && FileManager.default.fileExists(atPath: path) { throw GoldenDigestError.exists(path: path) }
    try AtomicFile.write(try encode(digests, note: note), to: path)
  }

  /// Compares computed digests with a golden file.
  static func compare(
    _ digests: [(name: String, digest: String)], with file: GoldenFile
  ) -> GoldenComparison {
    let known = Set(digests.map(\.name))
    var comparison = GoldenComparison(
      total: digests.count, matched: 0, mismatched: [], missing: [],
      unexpected: file.cases.keys.filter { !known.contains($0) }.sorted())
    for (name, digest) in digests {
      switch file.cases[name] {
      case nil: comparison.missing.append(name)
      case digest?: comparison.matched += 1
      default: comparison.mismatched.append(name)
      }
    }
    return comparison
  }
}

/// munet's own elementary functions over 4096 fixed inputs each: a few special values, then
/// inputs from the case's Philox stream spread over the function's interesting range.
enum ElementaryCases {
  enum Function: String, CaseIterable {
    case exp, log, tanh, erf, cos
  }

  static let inputCount = 4096

  static let specials: [Float] = [
    0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
    .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, -1, 0.5, 2,
  ]

  static func inputs(_ function: Function, key: StreamKey) -> [Float] {
    let count = inputCount - specials.count
    let random: [Float]
    switch function {
    case .exp: random = NumericsInputs.uniform(count, key: key, operand: "x", scale: 128).values
    case .tanh: random = NumericsInputs.uniform(count, key: key, operand: "x", scale: 16).values
    case .erf: random = NumericsInputs.uniform(count, key: key, operand: "x", scale: 8).values
    case .log:
      // Every positive finite float is equally likely: subnormals and all binades.
      let words = NumericsInputs.words(count, key: key, operand: "bits")
      random = words.map { Float(bitPattern: $0 % 0x7F80_0000) }
    case .cos:
      let near = NumericsInputs.uniform(count / 2, key: key, operand: "near", scale: 16).values
      let far = NumericsInputs.uniform(count - count / 2, key: key, operand: "far", scale: 65536).values
      random = near + far
    }
    return specials + random
  }

  static func evaluate(_ function: Function, _ x: Float) -> Float {
    switch function {
    case .exp: Elementary.exp(x)
    case .log: Elementary.log(x)
    case .tanh: Elementary.tanh(x)
    case .erf: Elementary.erf(x)
    case .cos: Elementary.cos(x)
    }
  }

  static func make(_ function: Function, key: StreamKey) -> NumericsCase {
    NumericsCase(op: "elementary \(function.rawValue)", shape: "\(inputCount)", kind: .deterministic) {
      let x = inputs(function, key: key)
      return PreparedNumericsCase { _ in NumericsOutput(floats: x.map { evaluate(function, $0) }) }
    }
  }
}
