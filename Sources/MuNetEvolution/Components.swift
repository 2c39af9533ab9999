import MuNetModel
import MuNetRuntime
import MuNetStorage

/// A component held by the system: its parameters, and the tasks whose retained paths use it.
///
/// A component with any lock is frozen forever for everyone else (µ2Net train locks); the root
/// carries the pseudo-task lock ``SystemState/rootTask``. Children always clone unlocked
/// components and may reference locked ones.
public final class StoredComponent {
  public let id: Int
  public let component: any ViTComponent
  /// Task names in byte order.
  public internal(set) var locks: [String]
  /// SHA-256 of the component's canonical file (see ``ComponentFile``).
  public let digest: String

  init(id: Int, component: any ViTComponent, locks: [String], digest: String) {
    self.id = id
    self.component = component
    self.locks = locks
    self.digest = digest
  }

  public var name: String { component.name }
  public var parameterCount: Int { component.parameterCount }
  public var isLocked: Bool { !locks.isEmpty }

  func addLock(_ task: String) {
    guard !locks.contains(task) else { return }
    locks.append(task)
    locks.sort { JSONObject.keyPrecedes($0, $1) }
  }

  func removeLock(_ task: String) { locks.removeAll { $0 == task } }
}

/// Builds, copies and reads components by name (`embedding`, `encoderblock_3`, …).
public struct ComponentFactory: Sendable {
  public let architecture: EvolutionConfig.RootArchitecture

  public init(architecture: EvolutionConfig.RootArchitecture) { self.architecture = architecture }

  /// What a component name denotes.
  public enum Kind: Equatable, Sendable {
    case embedding, classToken, positionEmbedding, encoderNorm, head
    case block(Int)
    case adapter(Int)

    public init?(name: String) {
      switch name {
      case "embedding": self = .embedding
      case "cls": self = .classToken
      case "posembed_input": self = .positionEmbedding
      case "encoder_norm": self = .encoderNorm
      case "head": self = .head
      default:
        if let index = Kind.index(name, prefix: "encoderblock_") {
          self = .block(index)
        } else if let index = Kind.index(name, prefix: "residual_adapter_") {
          self = .adapter(index)
        } else {
          return nil
        }
      }
    }

    private static func index(_ name: String, prefix: String) -> Int? {
      guard name.hasPrefix(prefix), let index = Int(name.dropFirst(prefix.count)), index >= 0,
            String(index) == name.dropFirst(prefix.count) else { return nil }
      return index
    }
  }

  /// A freshly initialised trainable component. `tokenCount`, `adapterDim` and `classCount`
  /// give the shapes the name does not.
  public func fresh(
    _ name: String, tokenCount: Int, adapterDim: Int, classCount: Int, initKey: StreamKey
  ) -> any ViTComponent {
    let a = architecture
    switch Kind(name: name)! {
    case .embedding:
      return PatchEmbedding(patchSize: a.patchSize, channels: a.channels, width: a.width, trainable: true, initKey: initKey)
    case .classToken: return ClassToken(width: a.width, trainable: true, initKey: initKey)
    case .positionEmbedding:
      return PositionEmbedding(tokenCount: tokenCount, width: a.width, trainable: true, initKey: initKey)
    case .encoderNorm: return EncoderNorm(width: a.width, trainable: true, initKey: initKey)
    case .head: return Head(width: a.width, classCount: classCount, trainable: true, initKey: initKey)
    case .block(let index):
      return EncoderBlock(
        index: index, width: a.width, heads: a.heads, mlpDim: a.mlpDim, trainable: true, initKey: initKey)
    case .adapter(let index):
      return ResidualAdapter(index: index, width: a.width, adapterDim: adapterDim, trainable: true, initKey: initKey)
    }
  }

  /// A copy of `component` with its own memory.
  public static func copy(_ component: any ViTComponent, trainable: Bool) -> any ViTComponent {
    switch component {
    case let c as PatchEmbedding: PatchEmbedding(copying: c, trainable: trainable)
    case let c as ClassToken: ClassToken(copying: c, trainable: trainable)
    case let c as PositionEmbedding: PositionEmbedding(copying: c, trainable: trainable)
    case let c as EncoderNorm: EncoderNorm(copying: c, trainable: trainable)
    case let c as Head: Head(copying: c, trainable: trainable)
    case let c as EncoderBlock: EncoderBlock(copying: c, trainable: trainable)
    case let c as ResidualAdapter: ResidualAdapter(copying: c, trainable: trainable)
    default: preconditionFailure("unknown component type \(type(of: component))")
    }
  }

  /// A frozen component named `name` with the values of `file` (a ``ComponentFile``, or with
  /// `onlyThisComponent` false a whole-model checkpoint); every tensor must be present with
  /// the shape the architecture implies.
  public func load(
    _ file: SafeTensorsFile, name: String, source: String, onlyThisComponent: Bool = true
  ) throws(EvolutionError) -> any ViTComponent {
    guard let kind = Kind(name: name) else { throw .file(path: source, problem: "unknown component name \(name)") }
    let width = architecture.width
    // A size the architecture does not fix is read from one tensor's shape; that whole shape
    // is checked before the component is built, so the file holds (almost) as many values as
    // the component allocates: a header cannot claim a size its data does not have.
    func dim(_ tensor: String, _ axis: Int, shape expected: (Int) -> [Int]) throws(EvolutionError) -> Int {
      guard let shape = file.tensor(named: tensor)?.shape, axis < shape.count else {
        throw .file(path: source, problem: "tensor \(tensor) is missing")
      }
      guard shape == expected(shape[axis]) else {
        let problem = "tensor \(tensor) has shape \(shape), expected \(expected(shape[axis]))"
        throw .file(path: source, problem: problem)
      }
      return shape[axis]
    }
    let tokenCount =
      kind == .positionEmbedding ? try dim("posembed_input/pos_embedding", 1) { [1, $0, width] } : 1
    let adapterDim: Int
    if case .adapter(let index) = kind {
      adapterDim = try dim("residual_adapter_\(index)/Dense_1/kernel", 1) { [width, $0] }
    } else {
      adapterDim = 1
    }
    let classCount = kind == .head ? try dim("head/kernel", 1) { [width, $0] } : 1
    guard tokenCount >= 1, tokenCount <= 1 << 20, adapterDim >= 1, adapterDim <= 65_536,
          classCount >= 1, classCount <= 1_000_000 else {
      throw .file(path: source, problem: "tensor shapes out of range")
    }
    let component = fresh(name, tokenCount: tokenCount, adapterDim: adapterDim, classCount: classCount, initKey: StreamKey(seed: 0))
    component.parameters.setTrainable(false)
    let parameters = component.parameters.namedParameters
    guard !onlyThisComponent || file.tensors.count == parameters.count else {
      throw .file(path: source, problem: "holds \(file.tensors.count) tensors, \(name) has \(parameters.count)")
    }
    for parameter in parameters {
      guard let tensor = file.tensor(named: parameter.name) else {
        throw .file(path: source, problem: "tensor \(parameter.name) is missing")
      }
      guard tensor.shape == parameter.value.shape.dims else {
        throw .file(path: source, problem: "tensor \(parameter.name) has shape \(tensor.shape), expected \(parameter.value.shape.dims)")
      }
      file.copyValues(of: tensor, into: parameter.value.buffer)
    }
    return component
  }
}

/// The canonical file of one component: safetensors with the component's tensors (sorted by
/// name) and the metadata `munet.format` = `munet-component-1` and `munet.component` = its
/// name. Same parameters, same bytes: the file's SHA-256 is the component's digest.
public enum ComponentFile {
  public static let formatName = "munet-component-1"
  public static let fileBytesMax = 1 << 31

  /// The file's bytes.
  public static func encode(_ component: any ViTComponent) -> [UInt8] {
    let parameters = component.parameters.namedParameters.sorted { JSONObject.keyPrecedes($0.name, $1.name) }
    let inputs = parameters.map { parameter in
      SafeTensors.Input(
        name: parameter.name, shape: parameter.value.shape.dims, values: UnsafeBufferPointer(parameter.value.buffer))
    }
    do {
      return try SafeTensors.encode(
        inputs, metadata: ["munet.format": formatName, "munet.component": component.name], source: component.name)
    } catch {
      preconditionFailure("a component's own tensors always encode: \(error)")
    }
  }

  /// Checks `bytes` against `digest` and decodes them into a frozen component.
  public static func decode(
    _ bytes: [UInt8], expectedName: String, digest: String, factory: ComponentFactory, source: String
  ) throws(EvolutionError) -> any ViTComponent {
    let actual = SHA256.hash(bytes).hex
    guard actual == digest else {
      throw .file(path: source, problem: "checksum mismatch (SHA-256 \(actual), the manifest says \(digest)): "
        + "the file is corrupt or was changed")
    }
    let file: SafeTensorsFile
    do { file = try SafeTensors.decode(bytes, source: source) } catch {
      throw .file(path: source, problem: "\(error)")
    }
    guard file.metadata("munet.format") == formatName, file.metadata("munet.component") == expectedName else {
      throw .file(path: source, problem: "not the \(formatName) file of component \(expectedName)")
    }
    let component = try factory.load(file, name: expectedName, source: source)
    // Only the canonical bytes: equal parameters have one file and one digest (a valid file
    // with other spacing, order or metadata would give the same values another identity).
    guard encode(component) == bytes else {
      throw .file(path: source, problem: "is not the canonical \(formatName) file of its values")
    }
    return component
  }
}
