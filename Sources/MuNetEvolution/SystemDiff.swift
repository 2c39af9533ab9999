import MuNetStorage

/// How two system directories differ (`munet diff A B`): configurations, journals, states.
public struct SystemDiffReport: Sendable {
  public static let labels = SideLabels(a: "A", b: "B")
  /// Most state differences listed (the count says how many were found).
  public static let stateDifferencesMax = 40

  public let directoryA: String
  public let directoryB: String
  public let digestA: String
  public let digestB: String
  /// The canonical configuration keys whose values differ.
  public let configDifferences: [FieldDifference]
  public let journalLinesA: Int
  public let journalLinesB: Int
  /// The first journal line that differs (nil when the journals are identical).
  public let journalDivergence: JournalDivergence?
  /// Components and paths present on one side only, components with other digests (tensor by
  /// tensor), other fields; at most ``stateDifferencesMax``.
  public let stateDifferences: [StateDifference]
  /// Run facts (tier, threads, version) that differ: outside the digest, shown for information.
  public let runDifferences: [FieldDifference]

  /// True when the systems are the same: same digest, configuration, journal and state.
  public var isIdentical: Bool {
    digestA == digestB && configDifferences.isEmpty && journalDivergence == nil && stateDifferences.isEmpty
  }

  /// The report as `munet diff` prints it (no final newline).
  public var text: String {
    let labels = Self.labels
    var lines = ["A: \(directoryA)", "B: \(directoryB)"]
    if isIdentical {
      lines.append(
        "identical: system digest \(digestA) (configuration, journal of \(journalLinesA) lines, state)")
    } else {
      lines.append("system digest: A \(digestA), B \(digestB)")
      let keys = configDifferences.count
      lines.append(keys == 0
        ? "configuration: identical"
        : "configuration: " + plural(keys, "key") + (keys == 1 ? " differs" : " differ"))
      lines += configDifferences.map { "  " + $0.text(labels) }
      let counts = "A \(journalLinesA) lines, B \(journalLinesB) lines"
      if let journalDivergence {
        lines.append("journal (\(counts)): first difference at " + journalDivergence.text(labels))
      } else {
        lines.append("journal (\(counts)): identical")
      }
      if stateDifferences.isEmpty {
        lines.append("state: identical")
      } else {
        let limit = Self.stateDifferencesMax
        let more = stateDifferences.count == limit ? " (the first \(limit))" : ""
        lines.append("state: " + plural(stateDifferences.count, "difference") + more)
        lines += stateDifferences.map { "  " + $0.text(labels).replacing("\n", with: "\n  ") }
      }
    }
    if !runDifferences.isEmpty {
      lines.append("run facts (not part of any digest): "
        + runDifferences.map { $0.text(labels) }.joined(separator: "; "))
    }
    return lines.joined(separator: "\n")
  }
}

/// Compares two system directories.
public enum SystemDiff {
  /// Opens both directories (verifying every file) and compares them.
  public static func compare(
    _ directoryA: String, _ directoryB: String
  ) throws(EvolutionError) -> SystemDiffReport {
    let (storeA, stateA, configA) = try StateComparison.open(directoryA)
    let (storeB, stateB, configB) = try StateComparison.open(directoryB)
    var journal = JournalComparison.firstDivergence(storeA.journalBytes, storeB.journalBytes)
    if var divergence = journal {
      childComponents(
        &divergence, journalA: storeA.journalBytes, stateA: stateA,
        journalB: storeB.journalBytes, stateB: stateB)
      journal = divergence
    }
    return SystemDiffReport(
      directoryA: directoryA, directoryB: directoryB,
      digestA: SystemDigest.system(state: stateA, store: storeA, config: configA),
      digestB: SystemDigest.system(state: stateB, store: storeB, config: configB),
      configDifferences: JSONComparison.differences(configA.json, configB.json),
      journalLinesA: JournalComparison.lines(storeA.journalBytes).count,
      journalLinesB: JournalComparison.lines(storeB.journalBytes).count,
      journalDivergence: journal,
      stateDifferences: StateComparison.differences(
        stateA, stateB, limit: SystemDiffReport.stateDifferencesMax),
      runDifferences: JSONComparison.differences(.object(storeA.run), .object(storeB.run)))
  }

  /// For a child line kept on both sides whose parameters differ: the components it created,
  /// tensor by tensor, when both sides still hold its path.
  static func childComponents(
    _ divergence: inout JournalDivergence, journalA: [UInt8], stateA: SystemState, journalB: [UInt8],
    stateB: SystemState
  ) {
    guard case .fields(let fields) = divergence.kind,
          fields.contains(where: { $0.path == "parameters_sha256" }) else { return }
    let index = divergence.location.line - 1
    let entryA = JournalComparison.parse(JournalComparison.lines(journalA)[index])
    let entryB = JournalComparison.parse(JournalComparison.lines(journalB)[index])
    guard entryA?["event"]?.stringValue == "child", entryA?["kept"]?.boolValue == true,
          entryB?["kept"]?.boolValue == true else { return }
    let createdA = Verifier.createdComponents(entryA, state: stateA)
    let createdB = Verifier.createdComponents(entryB, state: stateB)
    guard !createdA.isEmpty, !createdB.isEmpty else {
      let side = createdA.isEmpty ? "A" : "B"
      divergence.notes.append(
        "the child's path is no longer in \(side)'s state (dropped at its task's end): "
          + "its tensors cannot be compared")
      return
    }
    var result: [ComponentDifference] = []
    for (a, b) in zip(createdA, createdB) where a.name == b.name {
      let (storedA, storedB) = (stateA.component(a.id), stateB.component(b.id))
      guard storedA.digest != storedB.digest else { continue }
      result.append(ComponentDifference(
        id: a.id, name: a.name, digestA: storedA.digest, digestB: storedB.digest,
        tensors: TensorComparison.differences(storedA.component, storedB.component),
        note: a.id == b.id ? nil : "B's component id is \(b.id)"))
    }
    divergence.components = result
  }
}
