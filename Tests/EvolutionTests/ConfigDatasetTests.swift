import MuNetData
import Testing

@testable import MuNetEvolution

/// The dataset check made before a run starts accepts derived tasks (spec/data.md §6) by their
/// base and their parts, and names the task when either is wrong.
@Test func derivedTaskNamesAreCheckedByTheirBaseAndParts() throws {
  let root = try Fixtures.repositoryRoot()
  // Fixtures present, the fetched data absent: `mnist` itself is missing here.
  let locations = DataLocations(
    dataDirectory: root + "/no-such-data-folder", fixturesDirectory: root + "/fixtures/data")
  var config = EvolutionConfig(tasks: [
    .init(name: "mnist-mini/rotated:90"), .init(name: "mnist-mini/permuted:1"),
    .init(name: "mnist-mini/split:0-4"), .init(name: "fashion-mini/split:5-9/rotated:-45"),
  ])
  #expect(config.datasetProblems(locations: locations).isEmpty)

  config.tasks = [.init(name: "mnist/rotated:90")]
  let missing = config.datasetProblems(locations: locations)
  #expect(missing.count == 1 && missing[0].contains("'mnist' (the base of 'mnist/rotated:90') are missing"),
          "\(missing)")

  config.tasks = [.init(name: "mnist-mini/rotated:ninety")]
  let malformed = config.datasetProblems(locations: locations)
  #expect(malformed.count == 1 && malformed[0].contains("mnist-mini/rotated:ninety"), "\(malformed)")

  config.tasks = [.init(name: "no-such-base/rotated:90")]
  let unknown = config.datasetProblems(locations: locations)
  #expect(unknown.count == 1 && unknown[0].contains("'no-such-base' (the base of"), "\(unknown)")
}
