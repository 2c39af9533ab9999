import Foundation
import MuNetData
import MuNetModel
import MuNetRuntime
import MuNetStorage
import MuNetTestSupport
import MuNetTraining
import Testing

/// A small configuration on the committed mnist-mini fixture, fast enough for debug builds.
private let tinyConfig = ViTConfig(
  imageSize: 28, patchSize: 7, channels: 1, width: 16, heads: 2, mlpDim: 32, layerCount: 1, classCount: 10)

private func tinySettings(steps: Int = 8, validations: Int = 2) -> TrainingSettings {
  var settings = TrainingSettings(steps: steps, validations: validations)
  settings.batchSize = 16
  settings.evaluationBatchSize = 32
  settings.learningRate = 0.05
  settings.validationExamplesMax = 40
  return settings
}

/// Trains a fresh tiny model with `compute` and returns it with the result.
private func trainTiny(
  _ compute: Compute, settings: TrainingSettings = tinySettings(), seed: UInt64 = 7
) throws -> (ViTModel, TrainingResult) {
  let splits = try DatasetRegistry.load("mnist-mini")
  let root = StreamKey(seed: seed)
  let model = try ViTModel(config: tinyConfig, initKey: root.child("init"))
  let data = TaskData(
    name: "mnist-mini", splits: splits, seed: root, batchSize: settings.batchSize, imageSize: 28,
    augmentation: .none, evaluationBatchSize: settings.evaluationBatchSize)
  let trainer = try Trainer(model: model, data: data, settings: settings, compute: compute)
  return (model, trainer.run())
}

private func parameterBits(_ model: ViTModel) -> [UInt32] {
  model.namedParameters().flatMap { parameter in
    (0..<parameter.value.elementCount).map { parameter.value.base[$0].bitPattern }
  }
}

@Suite struct TrainerTests {
  @Test func trainingIsBitwiseReproducibleAcrossRunsAndThreadCounts() throws {
    let (first, firstResult) = try trainTiny(Compute(tier: .reference))
    let (second, secondResult) = try trainTiny(Compute(tier: .reference))
    #expect(firstResult == secondResult)
    #expect(parameterBits(first) == parameterBits(second), "two Tier 0 runs differ")
    for threads in [2, 3] {
      let (threaded, threadedResult) = try trainTiny(Compute(tier: .threads, threadCount: threads))
      #expect(threadedResult == firstResult)
      #expect(parameterBits(threaded) == parameterBits(first), "Tier 1 with \(threads) threads differs from Tier 0")
    }
    let (otherSeed, _) = try trainTiny(Compute(tier: .reference), seed: 8)
    #expect(parameterBits(otherSeed) != parameterBits(first), "the seed must matter")
  }

  @Test func savedModelFilesHaveTheSameHash() throws {
    let (tier0, _) = try trainTiny(Compute(tier: .reference))
    let (tier1, _) = try trainTiny(Compute(tier: .threads, threadCount: 2))
    let base = temporaryDirectory()
    try ModelFile.save(model: tier0, metadata: ["munet.task": "mnist-mini"], to: base + "/tier0.safetensors")
    try ModelFile.save(model: tier1, metadata: ["munet.task": "mnist-mini"], to: base + "/tier1.safetensors")
    let hash0 = SHA256.hash(try readFile(base + "/tier0.safetensors", limitBytes: 1 << 26)).hex
    let hash1 = SHA256.hash(try readFile(base + "/tier1.safetensors", limitBytes: 1 << 26)).hex
    #expect(hash0 == hash1)
    #expect(hash0.count == 64)
  }

  @Test func keepsTheBestValidationAndEvaluatesIt() throws {
    let settings = tinySettings(steps: 12, validations: 4)
    let splits = try DatasetRegistry.load("mnist-mini")
    let root = StreamKey(seed: 3)
    let model = try ViTModel(config: tinyConfig, initKey: root.child("init"))
    let data = TaskData(
      name: "mnist-mini", splits: splits, seed: root, batchSize: settings.batchSize, imageSize: 28,
      augmentation: .none, evaluationBatchSize: settings.evaluationBatchSize)
    let trainer = try Trainer(model: model, data: data, settings: settings, compute: Compute(tier: .reference))
    let result = trainer.run()
    #expect(result.validations.map(\.step) == [3, 6, 9, 12])
    let best = try #require(result.best)
    let maxCorrect = result.validations.map(\.correct).max()!
    #expect(best.correct == maxCorrect)
    // µ2Net's rule: among equal scores the latest is kept.
    #expect(best.step == result.validations.last { $0.correct == maxCorrect }!.step)
    // The model now holds the kept parameters: evaluating them again gives the same count.
    #expect(trainer.evaluate(.validation, examplesMax: settings.validationExamplesMax).correct == best.correct)
    #expect(result.testCount == splits.test.count)
  }

  @Test func validationsAreEvenlySpacedAndEndAtTheLastStep() {
    for (steps, validations) in [(10, 3), (7, 7), (100, 1), (1000, 6)] {
      let settings = TrainingSettings(steps: steps, validations: validations)
      let points = (0..<steps).filter { settings.validates(afterStep: $0) }.map { $0 + 1 }
      #expect(points.count == validations)
      #expect(points.last == steps)
    }
  }

  @Test func aDivergingRunIsReportedNotHidden() throws {
    var settings = tinySettings(steps: 30, validations: 3)
    settings.learningRate = 1e30
    settings.warmupRatio = 0
    settings.schedule = .constant
    let (_, result) = try trainTiny(Compute(tier: .reference), settings: settings)
    #expect(result.diverged)
    #expect(result.stepsRun < 30)
  }

  @Test func settingsProblemsAreListedTogether() {
    var settings = TrainingSettings(steps: 0, validations: 5)
    settings.learningRate = -1
    settings.momentum = 2
    let problems = settings.problems()
    #expect(problems.count >= 3, "\(problems)")
  }

  @Test(arguments: [1, 2])
  func aWarmedUpTrainingStepMakesNoHeapAllocation(threads: Int) throws {
    try #require(allocationCountingAvailable, "allocation counting needs glibc")
    let compute = threads == 1 ? Compute(tier: .reference) : Compute(tier: .threads, threadCount: threads)
    let settings = tinySettings()
    let splits = try DatasetRegistry.load("mnist-mini")
    let model = try ViTModel(config: tinyConfig, initKey: StreamKey(seed: 1))
    let data = TaskData(
      name: "mnist-mini", splits: splits, seed: StreamKey(seed: 1), batchSize: settings.batchSize,
      imageSize: 28, augmentation: .referenceDefault, evaluationBatchSize: settings.evaluationBatchSize)
    let trainer = try Trainer(model: model, data: data, settings: settings, compute: compute)
    let schedule = settings.learningRateSchedule
    trainer.trainStep(0, schedule: schedule)
    trainer.trainStep(1, schedule: schedule)
    let count = allocationCount(pool: compute.pool) {
      trainer.trainStep(2, schedule: schedule)
      trainer.trainStep(3, schedule: schedule)
    }
    #expect(count == 0, "\(count) heap allocations in two warmed-up training steps")
  }
}

/// A fresh temporary directory.
private func temporaryDirectory() -> String {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("munet-trainer-\(UUID().uuidString)")
  try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url.path
}
