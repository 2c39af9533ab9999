// The determinism tidy check: engine modules must not use what spec/determinism.md bans.
//
// It reads the sources as text (comments and string literals removed) and looks for the banned
// constructs. It is a lint, not a proof: it catches the easy mistakes that break bit-for-bit
// reproducibility, and its own self-test below plants each violation to show it is caught.
import Foundation
import Testing

/// Modules whose results must be deterministic (everything but the CLI's presentation).
let engineModules = [
  "MuNetRuntime", "MuNetBLAS", "MuNetStorage", "MuNetData", "MuNetModel", "MuNetTraining",
  "MuNetEvolution",
]

struct Rule: Sendable {
  let name: String
  let pattern: String
}

/// Each rule is a regular expression over comment- and string-free source text.
let bannedRules: [Rule] = [
  Rule(name: "clock", pattern: #"\bDate\s*\(|\bDate\.now\b|\bclock_gettime\b|\bgettimeofday\b|\bDispatchTime\b|\bDispatchWallTime\b|\bContinuousClock\b|\bSuspendingClock\b|\bCFAbsoluteTimeGetCurrent\b|\bProcessInfo\b|\bmunet_monotonic_ns\b|\btime\s*\(\s*nil\s*\)"#),
  Rule(name: "stdlib random", pattern: #"\.random\s*\(|\brandomElement\s*\(|\.shuffled\s*\(|\.shuffle\s*\(\s*(\)|using:)|\bSystemRandomNumberGenerator\b|\bRandomNumberGenerator\b|\barc4random\w*|\bdrand48\b|\bsrand\s*\(|\brand\s*\(\s*\)"#),
  Rule(name: "libm transcendental", pattern: #"(?<![\w.])(?<!func )(exp|expf|exp2|exp2f|expm1|expm1f|exp10|log|logf|log2|log2f|log10|log10f|log1p|log1pf|tanh|tanhf|sinh|cosh|erf|erff|erfc|erfcf|sin|sinf|cos|cosf|tan|tanf|pow|powf|atan|atanf|atan2|atan2f|asin|acos|lgamma|tgamma)\s*\("#),
  Rule(name: "libm through a module", pattern: #"\b(Glibc|Darwin|Foundation|Musl)\.(exp|log|tanh|erf|sin|cos|pow)\w*"#),
  Rule(name: "RealModule elementary functions", pattern: #"\b(Float|Double|Float16|Float80)\.(exp|expMinusOne|log|log2|log10|tanh|erf|sin|cos|tan|pow|atan|sinh|cosh)\s*\("#),
  Rule(name: "Relaxed arithmetic", pattern: #"\bRelaxed\b"#),
  Rule(name: "import of Foundation or swift-numerics", pattern: #"^\s*(@\w+\s+)*import\s+(Foundation|FoundationEssentials|RealModule|Numerics)\b"#),
  Rule(name: "unordered iteration", pattern: #"\bfor\b[^{\n]*\bin\b[^{\n]*\.(keys|values)\s*\{"#),
]

/// Flags that allow the compiler to change floating-point results.
let bannedBuildFlags = [
  "-ffast-math", "-Ounchecked", "-funsafe-math-optimizations", "-ffp-contract=fast",
  "-fassociative-math", "-freciprocal-math", "-enable-fast-math", "fp contract(fast)",
  "float_control", "fp reassociate",
]

let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Removes comments and the contents of string literals, keeping line structure.
func strippedSource(_ text: String) -> String {
  var output = ""
  var chars = Array(text.unicodeScalars)[...]
  enum State { case code, lineComment, blockComment(Int), string, multilineString }
  var state = State.code
  while let c = chars.first {
    let next = chars.dropFirst().first
    switch state {
    case .code:
      if c == "/" && next == "/" { state = .lineComment; chars = chars.dropFirst(2); continue }
      if c == "/" && next == "*" { state = .blockComment(1); chars = chars.dropFirst(2); continue }
      if c == "\"" && chars.starts(with: "\"\"\"".unicodeScalars) {
        state = .multilineString; output += "\"\"\""; chars = chars.dropFirst(3); continue
      }
      if c == "\"" { state = .string; output.unicodeScalars.append(c); chars = chars.dropFirst(); continue }
      output.unicodeScalars.append(c)
    case .lineComment:
      if c == "\n" { state = .code; output += "\n" }
    case .blockComment(let depth):
      if c == "*" && next == "/" {
        state = depth == 1 ? .code : .blockComment(depth - 1); chars = chars.dropFirst(2); continue
      }
      if c == "/" && next == "*" { state = .blockComment(depth + 1); chars = chars.dropFirst(2); continue }
      if c == "\n" { output += "\n" }
    case .string:
      if c == "\\" { chars = chars.dropFirst(2); continue }
      if c == "\"" { state = .code; output.unicodeScalars.append(c) }
      if c == "\n" { state = .code; output += "\n" }
    case .multilineString:
      if chars.starts(with: "\"\"\"".unicodeScalars) {
        state = .code; output += "\"\"\""; chars = chars.dropFirst(3); continue
      }
      if c == "\n" { output += "\n" }
    }
    chars = chars.dropFirst()
  }
  return output
}

struct Violation: CustomStringConvertible {
  let file: String
  let line: Int
  let rule: String
  let text: String
  var description: String { "\(file):\(line): \(rule): \(text)" }
}

func violations(in source: String, file: String) -> [Violation] {
  let lines = strippedSource(source).components(separatedBy: "\n")
  var found: [Violation] = []
  for rule in bannedRules {
    let regex = try! NSRegularExpression(pattern: rule.pattern, options: [.anchorsMatchLines])
    for (index, line) in lines.enumerated() {
      let range = NSRange(line.startIndex..., in: line)
      if regex.firstMatch(in: line, range: range) != nil {
        found.append(Violation(file: file, line: index + 1, rule: rule.name,
                               text: line.trimmingCharacters(in: .whitespaces)))
      }
    }
  }
  return found
}

func swiftFiles(under directory: URL) -> [URL] {
  let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
  var files: [URL] = []
  while let url = enumerator?.nextObject() as? URL {
    if url.pathExtension == "swift" { files.append(url) }
  }
  return files.sorted { $0.path < $1.path }
}

@Test func engineModulesUseNothingBanned() throws {
  var all: [Violation] = []
  var filesChecked = 0
  for module in engineModules {
    let directory = repositoryRoot.appendingPathComponent("Sources/\(module)")
    for file in swiftFiles(under: directory) {
      let text = try String(contentsOf: file, encoding: .utf8)
      let relative = file.path.replacingOccurrences(of: repositoryRoot.path + "/", with: "")
      all += violations(in: text, file: relative)
      filesChecked += 1
    }
  }
  #expect(filesChecked >= engineModules.count, "tidy found too few files: is the root right?")
  #expect(all.isEmpty, "banned constructs in engine modules:\n\(all.map(\.description).joined(separator: "\n"))")
}

@Test func buildSettingsHaveNoFastMath() throws {
  var checked = [repositoryRoot.appendingPathComponent("Package.swift")]
  let sources = repositoryRoot.appendingPathComponent("Sources")
  let enumerator = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
  while let url = enumerator?.nextObject() as? URL {
    if ["c", "h", "modulemap"].contains(url.pathExtension) { checked.append(url) }
  }
  for file in checked {
    let text = try String(contentsOf: file, encoding: .utf8)
    for flag in bannedBuildFlags {
      #expect(!text.contains(flag), "\(file.lastPathComponent) contains banned flag \(flag)")
    }
  }
}

/// The checker itself must catch each kind of violation, and must not flag the allowed forms.
@Test(arguments: [
  ("let t = Date()", "clock"),
  ("let now = clock_gettime(CLOCK_MONOTONIC, &ts)", "clock"),
  ("let x = Float.random(in: 0..<1)", "stdlib random"),
  ("items.shuffle()", "stdlib random"),
  ("let y = values.shuffled()", "stdlib random"),
  ("var g = SystemRandomNumberGenerator()", "stdlib random"),
  ("let y = exp(x)", "libm transcendental"),
  ("let y = expf(x) + 1", "libm transcendental"),
  ("let y = tanh(x)", "libm transcendental"),
  ("let y = Foundation.log(x)", "libm through a module"),
  ("let y = Float.exp(x)", "RealModule elementary functions"),
  ("let y = Relaxed.sum(a, b)", "Relaxed arithmetic"),
  ("import Foundation", "import of Foundation or swift-numerics"),
  ("for key in table.keys {", "unordered iteration"),
])
func tidyCatchesPlantedViolation(source: String, rule: String) {
  let found = violations(in: source, file: "planted.swift")
  #expect(found.contains { $0.rule == rule }, "tidy missed \(rule) in `\(source)`")
}

@Test(arguments: [
  "let y = Elementary.exp(x)",
  "let y = stream.nextFloat() // Date() in a comment is fine",
  "let s = \"exp(x) in a string is fine\"",
  "let r = x.squareRoot()",
  "let e = model.expected(x)",
  "for key in table.keys.sorted() {",
  "stream.shuffle(&buffer)",
  "public static func exp(_ x: Float) -> Float {",
])
func tidyAllowsPermittedForms(source: String) {
  let found = violations(in: source, file: "allowed.swift")
  #expect(found.isEmpty, "tidy flagged an allowed form: \(found)")
}
