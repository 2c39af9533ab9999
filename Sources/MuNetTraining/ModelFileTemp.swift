import MuNetModel
import MuNetStorage
// TEMPORARY (replaced by the numpy branch's ModelFile).
public enum ModelFile {
  public static func save(model: ViTModel, metadata: [String: String], to path: String) throws {
    let arrays = model.exportParameters()
    var inputs: [SafeTensors.Input] = []
    var storage: [[Float]] = arrays.map(\.values)
    for (i, a) in arrays.enumerated() {
      storage[i].withUnsafeBufferPointer { inputs.append(SafeTensors.Input(name: a.name, shape: a.shape, values: $0)) }
    }
    try SafeTensors.write(inputs, metadata: metadata, to: path)
  }
  public static func load(path: String) throws -> (ViTModel, [String: String]) { fatalError("temporary") }
}
