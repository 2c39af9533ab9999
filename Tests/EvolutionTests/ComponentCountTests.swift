import MuNetModel
import MuNetRuntime
import Testing

@testable import MuNetEvolution

/// The planner scores a child before it exists, from parameter counts by formula; they must be
/// the counts of the components it will build.
@Test(arguments: [(0, 8, 1), (2, 12, 10), (3, 16, 37)])
func plannedParameterCountsMatchBuiltComponents(layers: Int, imageSize: Int, classCount: Int) {
  let architecture = EvolutionConfig.RootArchitecture(patchSize: 4, channels: 1, width: 24, heads: 3, mlpDim: 40, layers: 3)
  let factory = ComponentFactory(architecture: architecture)
  var hyper = EvolutionConfig.standardDefaults
  hyper[.layerCount] = .integer(layers)
  hyper[.imageSize] = .integer(imageSize)
  hyper[.adapterDim] = .integer(8)
  hyper.adapterLayers = Array(0..<layers).filter { $0 % 2 == 0 }
  let state = SystemState(factory: factory, rootID: 0)
  let config = state.modelConfig(hyper, classCount: classCount)
  let counts = ChildPlanner.parameterCounts(config)
  for name in ChildPlanner.componentNames(hyper) {
    let component = factory.fresh(
      name, tokenCount: config.tokenCount, adapterDim: 8, classCount: classCount, initKey: StreamKey(seed: 1))
    #expect(counts(name) == component.parameterCount, "\(name)")
  }
}
