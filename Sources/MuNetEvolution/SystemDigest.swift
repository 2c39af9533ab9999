import MuNetStorage

/// The digests `munet digest` prints.
///
/// - The system digest is the SHA-256 of the manifest's canonical body: the configuration, the
///   whole state (every path, component digest, lock, metric and counter) and the committed
///   journal's SHA-256. It leaves out the run facts (tier, threads, version), which do not
///   change results in the deterministic tiers.
/// - A task digest is the SHA-256 of the canonical JSON
///   `{"components": [[name, file SHA-256], …], "hyperparameters": {…}, "task": name}` of the
///   task's retained path: its bytes and hyperparameters only, not metrics that change when
///   other tasks share its components (accounted parameters, scores).
public enum SystemDigest {
  public static func system(state: SystemState, store: SystemStore, config: EvolutionConfig) -> String {
    SHA256.hash(
      JSONValue.object(ManifestCodec.body(state: state, config: config, journal: store.journalSummary)).canonicalBytes
    ).hex
  }

  /// The digest of `task`'s retained path, or nil when the task has none.
  public static func task(_ task: String, state: SystemState) -> String? {
    guard let id = state.retainedPath(of: task) else { return nil }
    return path(state.path(id), state: state)
  }

  /// The digest of one path (see the type's doc).
  public static func path(_ path: EvolutionPath, state: SystemState) -> String {
    let components: [JSONValue] = path.componentIDs.map { id in
      let stored = state.component(id)
      return .array([.string(stored.name), .string(stored.digest)])
    }
    let body = JSONValue.object(JSONObject([
      ("task", .string(path.task)), ("hyperparameters", path.hyperparameters.json), ("components", .array(components)),
    ]))
    return SHA256.hash(body.canonicalBytes).hex
  }
}
