import MuNetModel
import MuNetRuntime
import MuNetStorage

// Comparisons of two systems, or of a system and its replay (`munet verify`, `munet diff`):
// pure functions over canonical JSON, component tensors and states. "A" and "B" are the two
// sides (the record and the replay, or the two directories); texts name them with labels.

/// One of the two systems being compared.
public enum ComparedSide: Sendable, Equatable {
  case a, b
}

/// Names for the two sides in messages ("recorded"/"replay", "A"/"B").
public struct SideLabels: Sendable {
  public let a: String
  public let b: String

  public init(a: String, b: String) {
    self.a = a
    self.b = b
  }

  public subscript(side: ComparedSide) -> String { side == .a ? a : b }
}

// MARK: JSON

/// One value that differs between two JSON documents.
public struct FieldDifference: Equatable, Sendable {
  /// Where, in the document: `validations[1].correct`, `training.batch_size`; empty for the
  /// whole value.
  public let path: String
  /// A's value; nil when A lacks the field.
  public let a: JSONValue?
  /// B's value; nil when B lacks the field.
  public let b: JSONValue?

  public init(path: String, a: JSONValue?, b: JSONValue?) {
    self.path = path
    self.a = a
    self.b = b
  }

  /// `validations[1].correct: recorded 31, replay 30`.
  public func text(_ labels: SideLabels) -> String {
    let place = path.isEmpty ? "the whole value" : path
    return "\(place): \(labels.a) \(Self.valueText(a)), \(labels.b) \(Self.valueText(b))"
  }

  /// A value's canonical text (long values shortened), or `absent`.
  public static func valueText(_ value: JSONValue?, limit: Int = 240) -> String {
    guard let value else { return "absent" }
    let text = value.canonicalText
    return text.count <= limit ? text : String(text.prefix(limit)) + "…"
  }
}

/// Structural comparison of JSON values.
public enum JSONComparison {
  /// The fields where `a` and `b` differ, in canonical order (object keys ascending, array
  /// elements in order), at most `limit`. Objects compare member by member (a member only one
  /// side has is a difference of its own); arrays element by element when their lengths are
  /// equal, else as a whole (`mutations ["hp:opt_lr 0.05 -> 0.02"] vs []`).
  public static func differences(
    _ a: JSONValue, _ b: JSONValue, path: String = "", limit: Int = Int.max
  ) -> [FieldDifference] {
    var found: [FieldDifference] = []
    collect(a, b, path: path, limit: limit, into: &found)
    return found
  }

  private static func collect(
    _ a: JSONValue, _ b: JSONValue, path: String, limit: Int, into found: inout [FieldDifference]
  ) {
    guard found.count < limit, a != b else { return }
    switch (a, b) {
    case (.object(let objectA), .object(let objectB)):
      for key in unionOfKeys(objectA, objectB) {
        guard found.count < limit else { return }
        let member = path.isEmpty ? key : path + "." + key
        switch (objectA[key], objectB[key]) {
        case (let valueA?, let valueB?): collect(valueA, valueB, path: member, limit: limit, into: &found)
        case (let valueA, let valueB): found.append(FieldDifference(path: member, a: valueA, b: valueB))
        }
      }
    case (.array(let arrayA), .array(let arrayB)) where arrayA.count == arrayB.count:
      for index in arrayA.indices {
        collect(arrayA[index], arrayB[index], path: path + "[\(index)]", limit: limit, into: &found)
      }
    default:
      found.append(FieldDifference(path: path, a: a, b: b))
    }
  }

  /// The keys of both objects, ascending in canonical (byte) order, each once.
  static func unionOfKeys(_ a: JSONObject, _ b: JSONObject) -> [String] {
    var keys: [String] = []
    var indexA = 0
    var indexB = 0
    while indexA < a.members.count || indexB < b.members.count {
      let keyA = indexA < a.members.count ? a.members[indexA].key : nil
      let keyB = indexB < b.members.count ? b.members[indexB].key : nil
      if let keyA, keyB.map({ JSONObject.keyPrecedes(keyA, $0) }) ?? true {
        keys.append(a.members[indexA].key)
        indexA += 1
      } else if let keyB, keyA.map({ JSONObject.keyPrecedes(keyB, $0) }) ?? true {
        keys.append(b.members[indexB].key)
        indexB += 1
      } else {
        keys.append(a.members[indexA].key)
        indexA += 1
        indexB += 1
      }
    }
    return keys
  }
}

// MARK: Journals

/// Where a journal line is: its number and the decision it records (from its own fields).
public struct JournalLocation: Equatable, Sendable, CustomStringConvertible {
  /// 1-based line number.
  public let line: Int
  public let event: String?
  public let stage: Int?
  public let round: Int?
  public let task: String?
  public let generation: Int?
  public let child: Int?

  /// The location of line `line` (1-based) holding `entry` (nil when it is not JSON).
  public init(line: Int, entry: JSONValue?) {
    func int(_ key: String) -> Int? { entry?[key]?.integerValue.flatMap { Int(exactly: $0) } }
    self.line = line
    event = entry?["event"]?.stringValue
    stage = int("stage")
    round = int("round")
    task = entry?["task"]?.stringValue
    generation = int("generation")
    child = int("child")
  }

  /// `journal line 12 (child): stage 0, round 1, task fashion-mini, generation 0, child 1`.
  public var description: String {
    var parts: [String] = []
    if let stage { parts.append("stage \(stage)") }
    if let round { parts.append("round \(round)") }
    if let task { parts.append("task \(task)") }
    if let generation { parts.append("generation \(generation)") }
    if let child { parts.append("child \(child)") }
    let what = event.map { " (\($0))" } ?? ""
    return "journal line \(line)\(what)" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
  }
}

/// The first place where two journals differ.
public struct JournalDivergence: Sendable {
  public enum Kind: Sendable {
    /// Both have the line; these fields differ (empty: the same JSON written differently).
    case fields([FieldDifference])
    /// Only this side has the line (the other journal ended before it).
    case onlyIn(ComparedSide, JSONValue?)
  }

  public let location: JournalLocation
  public let kind: Kind
  /// For a kept child whose parameters differ: the components of that child that differ,
  /// tensor by tensor (when both sides' values were still available), or why they could not
  /// be compared.
  public var components: [ComponentDifference] = []
  /// Further remarks (e.g. why the tensors could not be compared).
  public var notes: [String] = []

  public init(location: JournalLocation, kind: Kind) {
    self.location = location
    self.kind = kind
  }

  /// Several lines: the location, then one line per field (indented).
  public func text(_ labels: SideLabels) -> String {
    var lines = ["\(location)"]
    switch kind {
    case .fields(let fields) where fields.isEmpty:
      lines.append("  the lines hold the same JSON but differ in bytes (not canonical)")
    case .fields(let fields):
      lines += fields.map { "  " + $0.text(labels) }
    case .onlyIn(let side, let entry):
      let other: ComparedSide = side == .a ? .b : .a
      lines.append(
        "  only \(labels[side]) has this line (\(labels[other]) ends after line \(location.line - 1)): "
          + FieldDifference.valueText(entry, limit: 160))
    }
    for component in components { lines.append(component.text(labels, indent: "  ")) }
    lines += notes.map { "  " + $0 }
    return lines.joined(separator: "\n")
  }
}

/// Line-by-line comparison of journals (canonical JSON lines).
public enum JournalComparison {
  /// The lines of a journal, without their newlines.
  public static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    var result: [ArraySlice<UInt8>] = []
    var start = 0
    for index in bytes.indices where bytes[index] == 0x0A {
      result.append(bytes[start..<index])
      start = index + 1
    }
    if start < bytes.count { result.append(bytes[start...]) }
    return result
  }

  /// Compares line `number` (1-based) of A and B (nil: that journal has no such line); nil
  /// when the lines are byte-identical.
  public static func compare(
    _ a: ArraySlice<UInt8>?, _ b: ArraySlice<UInt8>?, number: Int
  ) -> JournalDivergence? {
    if let a, let b, a.elementsEqual(b) { return nil }
    let entryA = a.map(parse)
    let entryB = b.map(parse)
    let location = JournalLocation(line: number, entry: (entryA ?? nil) ?? (entryB ?? nil))
    switch (entryA, entryB) {
    case (let parsedA?, let parsedB?):
      let valueA = parsedA ?? .string(String(decoding: a!, as: UTF8.self))
      let valueB = parsedB ?? .string(String(decoding: b!, as: UTF8.self))
      return JournalDivergence(location: location, kind: .fields(JSONComparison.differences(valueA, valueB)))
    case (let parsedA?, nil): return JournalDivergence(location: location, kind: .onlyIn(.a, parsedA))
    case (nil, let parsedB?): return JournalDivergence(location: location, kind: .onlyIn(.b, parsedB))
    case (nil, nil): return nil
    }
  }

  /// The first line where the journals differ, or nil when they are identical.
  public static func firstDivergence(_ a: [UInt8], _ b: [UInt8]) -> JournalDivergence? {
    let linesA = lines(a)
    let linesB = lines(b)
    for index in 0..<max(linesA.count, linesB.count) {
      let lineA = index < linesA.count ? linesA[index] : nil
      let lineB = index < linesB.count ? linesB[index] : nil
      if let divergence = compare(lineA, lineB, number: index + 1) { return divergence }
    }
    return nil
  }

  static func parse(_ line: ArraySlice<UInt8>) -> JSONValue? {
    try? JSONValue.parse(Array(line))
  }
}

// MARK: Tensors and components

/// How one tensor of a component differs between the two sides.
public struct TensorDifference: Equatable, Sendable {
  public enum Kind: Equatable, Sendable {
    /// Only this side has the tensor.
    case onlyIn(ComparedSide)
    case shape(a: [Int], b: [Int])
    /// `differing` of `count` values differ in their bits; the first at `firstIndex` (flat,
    /// row-major); `maxAbsoluteDifference` over the differing values (nil when one of them is
    /// not finite).
    case values(
      differing: Int, count: Int, firstIndex: Int, a: Float, b: Float, maxAbsoluteDifference: Double?)
  }

  public let name: String
  public let kind: Kind

  /// `tensor head/kernel: 1 of 160 values differ, first at index 17: recorded 0.25 (bits
  /// 0x3e800000), replay 0.5 (bits 0x3f000000); max |difference| 0.25`.
  public func text(_ labels: SideLabels) -> String {
    switch kind {
    case .onlyIn(let side): return "tensor \(name): only \(labels[side]) has it"
    case .shape(let a, let b): return "tensor \(name): shape \(labels.a) \(a), \(labels.b) \(b)"
    case .values(let differing, let count, let firstIndex, let a, let b, let maxDifference):
      let maximum = maxDifference.map { "\($0)" } ?? "not finite"
      return "tensor \(name): \(differing) of \(count) values differ, first at index \(firstIndex): "
        + "\(labels.a) \(a) (bits \(Self.bits(a))), \(labels.b) \(b) (bits \(Self.bits(b))); "
        + "max |difference| \(maximum)"
    }
  }

  static func bits(_ value: Float) -> String {
    let hex = String(value.bitPattern, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - hex.count) + hex
  }
}

/// A component that differs between the two sides: its digests and the tensors that differ.
public struct ComponentDifference: Sendable {
  public let id: Int
  public let name: String
  public let digestA: String?
  public let digestB: String?
  public let tensors: [TensorDifference]
  /// Why the tensors could not be compared (e.g. the file no longer exists), if so.
  public let note: String?

  public init(
    id: Int, name: String, digestA: String?, digestB: String?, tensors: [TensorDifference],
    note: String? = nil
  ) {
    self.id = id
    self.name = name
    self.digestA = digestA
    self.digestB = digestB
    self.tensors = tensors
    self.note = note
  }

  /// The component, its digests, then one line per tensor.
  public func text(_ labels: SideLabels, indent: String = "") -> String {
    let digests = "sha256 \(labels.a) \(digestA ?? "-"), \(labels.b) \(digestB ?? "-")"
    var lines = ["\(indent)component \(id) (\(name)): " + digests]
    if let note { lines.append(indent + "  " + note) }
    lines += tensors.map { indent + "  " + $0.text(labels) }
    return lines.joined(separator: "\n")
  }
}

/// Tensor-by-tensor comparison of two components.
public enum TensorComparison {
  /// The tensors of `a` and `b` that differ (by name, in canonical order): missing on one side,
  /// of another shape, or with values whose bits differ.
  public static func differences(_ a: any ViTComponent, _ b: any ViTComponent) -> [TensorDifference] {
    let parametersA = sorted(a.parameters.namedParameters)
    let parametersB = sorted(b.parameters.namedParameters)
    var result: [TensorDifference] = []
    var indexA = 0
    var indexB = 0
    while indexA < parametersA.count || indexB < parametersB.count {
      let nameA = indexA < parametersA.count ? parametersA[indexA].name : nil
      let nameB = indexB < parametersB.count ? parametersB[indexB].name : nil
      if let nameA, nameB.map({ JSONObject.keyPrecedes(nameA, $0) }) ?? true {
        result.append(TensorDifference(name: nameA, kind: .onlyIn(.a)))
        indexA += 1
      } else if let nameB, nameA.map({ JSONObject.keyPrecedes(nameB, $0) }) ?? true {
        result.append(TensorDifference(name: nameB, kind: .onlyIn(.b)))
        indexB += 1
      } else {
        let (parameterA, parameterB) = (parametersA[indexA], parametersB[indexB])
        if let kind = difference(parameterA.value, parameterB.value) {
          result.append(TensorDifference(name: parameterA.name, kind: kind))
        }
        indexA += 1
        indexB += 1
      }
    }
    return result
  }

  private static func sorted(_ parameters: [NamedParameter]) -> [NamedParameter] {
    parameters.sorted { JSONObject.keyPrecedes($0.name, $1.name) }
  }

  /// How two tensors of the same name differ, or nil when their shapes and bits are equal.
  static func difference(_ a: Tensor, _ b: Tensor) -> TensorDifference.Kind? {
    guard a.shape.dims == b.shape.dims else { return .shape(a: a.shape.dims, b: b.shape.dims) }
    let valuesA = a.buffer
    let valuesB = b.buffer
    var differing = 0
    var first: Int?
    var maximum: Double? = 0
    for index in 0..<valuesA.count where valuesA[index].bitPattern != valuesB[index].bitPattern {
      differing += 1
      if first == nil { first = index }
      let (x, y) = (valuesA[index], valuesB[index])
      if x.isFinite && y.isFinite, let current = maximum {
        let gap = (Double(x) - Double(y)).magnitude
        maximum = Swift.max(current, gap)
      } else {
        maximum = nil
      }
    }
    guard let first else { return nil }
    return .values(
      differing: differing, count: valuesA.count, firstIndex: first, a: valuesA[first], b: valuesB[first],
      maxAbsoluteDifference: maximum)
  }

  /// The difference of a component present on both sides with different digests.
  static func componentDifference(
    id: Int, a: StoredComponent, b: StoredComponent
  ) -> ComponentDifference {
    let tensors = differences(a.component, b.component)
    return ComponentDifference(
      id: id, name: a.name, digestA: a.digest, digestB: b.digest, tensors: tensors,
      note: tensors.isEmpty ? "every tensor is equal: the files differ in their bytes only" : nil)
  }
}

// MARK: States

/// One difference between two system states.
public enum StateDifference: Sendable {
  /// A component id only one side holds.
  case componentOnlyIn(ComparedSide, id: Int, name: String)
  /// A component both sides hold, with different digests (and so different tensors).
  case component(ComponentDifference)
  /// Another field of a component both hold (name, locks, parameter count).
  case componentField(id: Int, name: String, FieldDifference)
  /// A path id only one side holds.
  case pathOnlyIn(ComparedSide, id: Int, task: String)
  /// A field of a path both hold.
  case pathField(id: Int, task: String, FieldDifference)
  /// A field of the state outside paths and components (cursor, retained, tasks, …).
  case field(FieldDifference)

  public func text(_ labels: SideLabels) -> String {
    switch self {
    case .componentOnlyIn(let side, let id, let name):
      return "component \(id) (\(name)): only \(labels[side]) has it"
    case .component(let difference): return difference.text(labels)
    case .componentField(let id, let name, let field):
      return "component \(id) (\(name)): " + field.text(labels)
    case .pathOnlyIn(let side, let id, let task): return "path \(id) (\(task)): only \(labels[side]) has it"
    case .pathField(let id, let task, let field): return "path \(id) (\(task)): " + field.text(labels)
    case .field(let field): return "state." + field.text(labels)
    }
  }
}

/// Comparison of two system states (as the manifest writes them).
public enum StateComparison {
  /// Every difference (at most `limit`): first components (missing on one side; same id with
  /// other digests, tensor by tensor; other fields), then paths, then the other state fields.
  public static func differences(
    _ a: SystemState, _ b: SystemState, limit: Int = Int.max
  ) -> [StateDifference] {
    var result: [StateDifference] = []
    func add(_ difference: StateDifference) { if result.count < limit { result.append(difference) } }
    for id in mergedIDs(a.componentIDs, b.componentIDs) {
      switch (a.components[id], b.components[id]) {
      case (let storedA?, let storedB?):
        for field in JSONComparison.differences(componentJSON(storedA), componentJSON(storedB)) {
          add(.componentField(id: id, name: storedA.name, field))
        }
        if storedA.digest != storedB.digest {
          if storedA.name == storedB.name {
            add(.component(TensorComparison.componentDifference(id: id, a: storedA, b: storedB)))
          } else {
            add(.componentField(
              id: id, name: storedA.name,
              FieldDifference(path: "sha256", a: .string(storedA.digest), b: .string(storedB.digest))))
          }
        }
      case (let storedA?, nil): add(.componentOnlyIn(.a, id: id, name: storedA.name))
      case (nil, let storedB?): add(.componentOnlyIn(.b, id: id, name: storedB.name))
      case (nil, nil): break
      }
    }
    let stateA = ManifestCodec.stateJSON(a)
    let stateB = ManifestCodec.stateJSON(b)
    let pathsA = pathsByID(stateA)
    let pathsB = pathsByID(stateB)
    for id in mergedIDs(a.pathIDs, b.pathIDs) {
      switch (pathsA[id], pathsB[id]) {
      case (let pathA?, let pathB?):
        let task = pathA["task"]?.stringValue ?? "?"
        for field in JSONComparison.differences(pathA, pathB) { add(.pathField(id: id, task: task, field)) }
      case (let pathA?, nil): add(.pathOnlyIn(.a, id: id, task: pathA["task"]?.stringValue ?? "?"))
      case (nil, let pathB?): add(.pathOnlyIn(.b, id: id, task: pathB["task"]?.stringValue ?? "?"))
      case (nil, nil): break
      }
    }
    var restA = stateA.objectValue ?? JSONObject()
    var restB = stateB.objectValue ?? JSONObject()
    for key in ["paths", "components"] {
      restA.set(key, nil)
      restB.set(key, nil)
    }
    for field in JSONComparison.differences(.object(restA), .object(restB), limit: limit) {
      add(.field(field))
    }
    return result
  }

  /// Opens the system in `directory` (verifying every file); a directory without a manifest is
  /// an error that says so.
  static func open(
    _ directory: String
  ) throws(EvolutionError) -> (SystemStore, SystemState, EvolutionConfig) {
    guard SystemStore.holdsSystem(directory) else {
      throw .directory(path: directory, problem: "holds no munet system (no \(SystemStore.manifestName))")
    }
    return try SystemStore.open(directory: directory)
  }

  /// A component's manifest fields other than its digest (the digest is compared by tensors
  /// when the names agree, and as a field otherwise).
  private static func componentJSON(_ stored: StoredComponent) -> JSONValue {
    .object(JSONObject([
      ("name", .string(stored.name)), ("parameters", .integer(Int64(stored.parameterCount))),
      ("locks", .array(stored.locks.map { .string($0) })),
    ]))
  }

  private static func pathsByID(_ state: JSONValue) -> [Int: JSONValue] {
    var result: [Int: JSONValue] = [:]
    for path in state["paths"]?.arrayValue ?? [] {
      if let id = path["id"]?.integerValue.flatMap({ Int(exactly: $0) }) { result[id] = path }
    }
    return result
  }

  /// The ids of two ascending lists, ascending, each once.
  static func mergedIDs(_ a: [Int], _ b: [Int]) -> [Int] {
    let known = Set(a)
    var ids = a + b.filter { !known.contains($0) }
    ids.sort()
    return ids
  }
}
