import MuNetRuntime

/// The SVG plots of `munet report`, written as text: no dependencies, and the same system gives
/// the same bytes (coordinates are rounded to tenths of a pixel and written by
/// ``ReportFixed/decimalText(_:fractionDigits:decimals:)``; angles use munet's own cosine).
///
/// Every task has one colour in every plot: its position in the system's task list (introduction
/// order) in ``palette``; the root is grey.
public enum ReportPlots {
  /// Task colours (Tableau 10), repeated after ten tasks.
  public static let palette = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  ]
  static let rootColor = "#555555"

  static func color(_ taskIndex: Int) -> String { palette[taskIndex % palette.count] }

  // MARK: scores.svg

  /// For each task, the best validation accuracy of its population after each of its
  /// generations (``GenerationRecord/bestValidation``), against the generation's position among
  /// all generations of the journal; dashed lines mark where a task iteration starts.
  public static func scores(_ history: ReportHistory) -> String {
    let tasks = history.accuracy.tasks
    let generations = history.generations
    let maxPercent = generations.compactMap { $0.bestValidation.flatMap(ReportFixed.accuracy) }.max() ?? 0
    // The y axis: 0 … the next multiple of 10 % above the best value (at least 10 %).
    let tenPercent = ReportFixed.one / 10
    let topPercent = min(100, max(10, Int((maxPercent + tenPercent - 1) / tenPercent) * 10))
    let yStep = topPercent <= 50 ? 10 : 20
    let lastIndex = max(1, generations.count - 1)
    var chart = Chart(
      title: "Best validation accuracy of each task's population, per generation",
      width: 760, plotHeight: 300, bottomMargin: 60, legendRows: tasks.count,
      x: (0, Double(lastIndex)), y: (0, Double(topPercent)))
    chart.yAxis(ticks: ticks(through: topPercent, step: yStep), label: "validation accuracy (%)")
    let xStep = Int(niceStep(Int64(lastIndex), maxTicks: 10))
    chart.xAxis(ticks: ticks(through: lastIndex, step: xStep),
                label: "generation (all tasks, in run order; dashed: a task iteration starts)")
    for (index, record) in generations.enumerated() where index > 0 {
      let previous = generations[index - 1]
      if (previous.stage, previous.round, previous.task) != (record.stage, record.round, record.task) {
        chart.verticalMarker(at: Double(index) - 0.5)
      }
    }
    if generations.isEmpty { chart.note("no generation in this stage's journal") }
    for (j, task) in tasks.enumerated() {
      let points = generations.filter { $0.task == task }.compactMap { record -> (Double, Double)? in
        guard let accuracy = record.bestValidation.flatMap(ReportFixed.accuracy) else { return nil }
        return (Double(record.index), Double(accuracy) / Double(ReportFixed.one) * 100)
      }
      chart.series(points, color: color(j), title: task)
      chart.legend(row: j, color: color(j), text: task, style: .line)
    }
    return chart.document.text
  }

  // MARK: parameters.svg

  /// For each task end, the kept path's parameters (solid bar) and accounted parameters (light
  /// bar) in the task's colour, and the system's total parameters (black line) where known.
  public static func parameters(_ history: ReportHistory) -> String {
    let tasks = history.accuracy.tasks
    let ends = history.taskEnds
    var maximum: Int64 = 1
    for record in ends {
      let accounted = record.accountedParameters.flatMap(Double.init).map { Int64($0.rounded(.up)) } ?? 0
      maximum = max(maximum, Int64(record.parameters ?? 0), accounted, Int64(record.systemParameters ?? 0))
    }
    let yStep = niceStep(maximum, maxTicks: 6)
    let top = (maximum + yStep - 1) / yStep * yStep
    var labels: [String] = []
    var number = 0
    for record in ends {
      number += 1
      labels.append(AccuracyMatrix.Step(stage: record.stage, round: record.round, task: record.task)
        .label(number: number))
    }
    let longest = labels.map(\.count).max() ?? 0
    var chart = Chart(
      title: "Parameters of each task's kept path as tasks were added",
      width: max(760, 120 + 48 * ends.count), plotHeight: 300, bottomMargin: 40 + longest * 5, legendRows: 3,
      x: (-0.5, Double(max(1, ends.count)) - 0.5), y: (0, Double(top)))
    chart.yAxis(ticks: ticks(through: Int(top), step: Int(yStep)), label: "parameters")
    chart.categoryLabels(labels)
    if ends.isEmpty { chart.note("no task has ended yet") }
    for (i, record) in ends.enumerated() {
      let taskColor = color(tasks.firstIndex(of: record.task) ?? 0)
      if let parameters = record.parameters {
        chart.bar(center: Double(i) - 0.17, width: 0.32, value: Double(parameters), color: taskColor,
                  opacity: 1, title: "\(labels[i]): \(parameters) parameters")
      }
      if let accounted = record.accountedParameters, let value = Double(accounted) {
        chart.bar(center: Double(i) + 0.17, width: 0.32, value: value, color: taskColor, opacity: 0.4,
                  title: "\(labels[i]): \(accounted) accounted parameters")
      }
    }
    var segment: [(Double, Double)] = []
    for (i, record) in ends.enumerated() {
      if let total = record.systemParameters {
        segment.append((Double(i), Double(total)))
      } else {
        chart.series(segment, color: "#000000", title: "system parameters")
        segment = []
      }
    }
    chart.series(segment, color: "#000000", title: "system parameters")
    let grey = "#888888"
    chart.legend(row: 0, color: grey, text: "kept path: parameters (solid, the task's colour)",
                 style: .bar(1))
    chart.legend(row: 1, color: grey, text: "kept path: accounted parameters (light)", style: .bar(0.4))
    chart.legend(row: 2, color: "#000000", text: "system: parameters of all components it holds",
                 style: .line)
    return chart.document.text
  }

  // MARK: sharing.svg

  /// The root and every task as nodes on a circle; an edge joins two nodes whose retained paths
  /// (the root path for the root) use the same stored components, labelled with them
  /// (``Report/sharedComponents(_:)``, the final state).
  public static func sharing(state: SystemState) -> String {
    let names = ["root"] + state.tasks.map(\.name)
    let count = names.count
    let width = 1000, height = 720
    let center = (x: 500.0, y: 370.0), radius = 220.0
    var document = SVGDocument(width: width, height: height)
    document.add(text(x: Double(width) / 2, y: 28, "Components shared between retained paths (final state)",
                      size: 16, anchor: "middle", weight: "bold"))
    func position(_ index: Int, _ distance: Double) -> (x: Double, y: Double, dx: Double, dy: Double) {
      // Node 0 at the top, then clockwise; cos and sin from munet's own cosine (no libm).
      let angle = 2 * Double.pi * Double(index) / Double(count) - Double.pi / 2
      let dx = Double(Elementary.cos(Float(angle)))
      let dy = Double(Elementary.cos(Float(angle - Double.pi / 2)))
      return (center.x + distance * dx, center.y + distance * dy, dx, dy)
    }
    // Edges: every pair of users of a shared component, in node order.
    var edges: [(a: Int, b: Int, components: [String])] = []
    let shared = Report.sharedComponents(state)
    for component in shared {
      let users = component.users.compactMap { names.firstIndex(of: $0) }.sorted()
      for (k, a) in users.enumerated() {
        for b in users[(k + 1)...] {
          let label = "\(component.name) #\(component.id)"
          if let index = edges.firstIndex(where: { $0.a == a && $0.b == b }) {
            edges[index].components.append(label)
          } else {
            edges.append((a, b, [label]))
          }
        }
      }
    }
    edges.sort { ($0.a, $0.b) < ($1.a, $1.b) }
    for edge in edges {
      let from = position(edge.a, radius), to = position(edge.b, radius)
      let strokeWidth = 1.5 + Double(min(edge.components.count, 6))
      // The label sits 42% of the way from the lower node, so crossing diagonals do not overlap.
      let labelX = from.x + (to.x - from.x) * 0.42, labelY = from.y + (to.y - from.y) * 0.42
      let summary = edge.components.count <= 3
        ? "\(edge.components.count): " + edge.components.joined(separator: ", ")
        : "\(edge.components.count) components"
      let tooltip = names[edge.a] + " – " + names[edge.b] + ": " + edge.components.joined(separator: ", ")
      document.add("<g><title>\(escape(tooltip))</title>")
      document.add(line(from.x, from.y, to.x, to.y, stroke: "#999999", width: strokeWidth))
      let labelWidth = 6.8 * Double(summary.count) + 8
      document.add(rect(
        labelX - labelWidth / 2, labelY - 9, labelWidth, 16, fill: "#ffffff", opacity: 0.8,
        more: " rx=\"3\""))
      document.add(text(x: labelX, y: labelY + 4, summary, size: 11, anchor: "middle"))
      document.add("</g>")
    }
    for (index, name) in names.enumerated() {
      let node = position(index, radius)
      let isRoot = index == 0
      let task = isRoot ? nil : state.tasks[index - 1]
      let pathID = isRoot ? state.rootID : state.retainedPath(of: name)
      let fill = isRoot ? rootColor : color(index - 1)
      let dashed = pathID == nil ? " stroke-dasharray=\"4 3\" fill-opacity=\"0.25\"" : ""
      let outline = " stroke=\"#333333\" stroke-width=\"1.5\"" + dashed
      document.add(circle(node.x, node.y, radius: 22, fill: fill, more: outline))
      let label = position(index, radius + 36)
      let anchor = label.dx > 0.3 ? "start" : (label.dx < -0.3 ? "end" : "middle")
      let details = pathID.map { id in
        "path \(id), \(state.parameterCount(of: state.path(id))) parameters"
      } ?? "no retained path"
      // Two lines beside the node: above it, below it, or centred on it at the sides.
      let first = label.y + (label.dy < -0.3 ? -14 : (label.dy > 0.3 ? 4 : -2))
      document.add(text(x: label.x, y: first, name + (task?.isPrivate == true ? " (private)" : ""),
                        size: 13, anchor: anchor, weight: "bold"))
      document.add(text(x: label.x, y: first + 15, details, size: 11, anchor: anchor))
    }
    let totalShared = shared.count
    document.add(text(
      x: Double(width) / 2, y: Double(height) - 16,
      totalShared == 0
        ? "No component is used by two retained paths."
        : "\(totalShared) component\(totalShared == 1 ? " is" : "s are") used by two or more retained paths "
          + "(root included); an edge lists the components its two nodes share.",
      size: 12, anchor: "middle"))
    return document.text
  }

  // MARK: Helpers

  /// The smallest 1, 2 or 5 × 10^k step that divides `range` (≥ 0) into at most `maxTicks` parts.
  static func niceStep(_ range: Int64, maxTicks: Int64) -> Int64 {
    var magnitude: Int64 = 1
    while true {
      for factor: Int64 in [1, 2, 5] {
        let step = factor * magnitude
        if (range + step - 1) / step <= maxTicks { return step }
      }
      magnitude *= 10
    }
  }

  /// Ticks 0, step, 2·step, … up to `last`, labelled with their value.
  static func ticks(through last: Int, step: Int) -> [(Double, String)] {
    stride(from: 0, through: last, by: step).map { (Double($0), String($0)) }
  }

  static func line(
    _ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1,
    more: String = ""
  ) -> String {
    "<line x1=\"\(number(x1))\" y1=\"\(number(y1))\" x2=\"\(number(x2))\" y2=\"\(number(y2))\" "
      + "stroke=\"\(stroke)\" stroke-width=\"\(number(width))\"\(more)/>"
  }

  /// A rectangle; with `title` it carries a tooltip.
  static func rect(
    _ x: Double, _ y: Double, _ width: Double, _ height: Double, fill: String, opacity: Double = 1,
    more: String = "", title: String? = nil
  ) -> String {
    let start = "<rect x=\"\(number(x))\" y=\"\(number(y))\" width=\"\(number(width))\" "
      + "height=\"\(number(height))\" fill=\"\(fill)\" fill-opacity=\"\(number(opacity))\"\(more)"
    guard let title else { return start + "/>" }
    return start + "><title>\(escape(title))</title></rect>"
  }

  static func circle(_ x: Double, _ y: Double, radius: Double, fill: String, more: String = "") -> String {
    "<circle cx=\"\(number(x))\" cy=\"\(number(y))\" r=\"\(number(radius))\" fill=\"\(fill)\"\(more)/>"
  }

  /// A coordinate or length: tenths of a pixel, rounded half away from zero.
  static func number(_ value: Double) -> String {
    precondition(value.isFinite, "a coordinate is finite")
    return ReportFixed.decimalText(Int64((value * 10).rounded()), fractionDigits: 1, decimals: 1)
  }

  /// Text for XML character data and attribute values.
  static func escape(_ text: String) -> String {
    var result = ""
    for character in text {
      switch character {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&apos;"
      default: result.append(character)
      }
    }
    return result
  }

  static func text(
    x: Double, y: Double, _ content: String, size: Int, anchor: String = "start", weight: String? = nil,
    rotate: Int? = nil
  ) -> String {
    let rotation = rotate.map { " transform=\"rotate(\($0) \(number(x)) \(number(y)))\"" } ?? ""
    let bold = weight.map { " font-weight=\"\($0)\"" } ?? ""
    return "<text x=\"\(number(x))\" y=\"\(number(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\""
      + "\(bold)\(rotation)>\(escape(content))</text>"
  }
}

/// An SVG document under construction: one element per line.
struct SVGDocument {
  let width: Int
  let height: Int
  private var elements: [String] = []

  init(width: Int, height: Int) {
    self.width = width
    self.height = height
    elements.append(ReportPlots.rect(0, 0, Double(width), Double(height), fill: "#ffffff"))
  }

  mutating func add(_ element: String) { elements.append(element) }

  var text: String {
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" "
      + "viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\">\n"
      + elements.joined(separator: "\n") + "\n</svg>\n"
  }
}

/// A chart with a linear x and y axis above a legend: the frame of scores.svg and
/// parameters.svg.
struct Chart {
  enum LegendStyle { case line, bar(Double) }

  private(set) var document: SVGDocument
  let left = 70.0, top = 50.0
  let plotWidth: Double, plotHeight: Double
  let x: (min: Double, max: Double)
  let y: (min: Double, max: Double)
  let legendTop: Double
  private let axisColor = "#333333"

  init(
    title: String, width: Int, plotHeight: Int, bottomMargin: Int, legendRows: Int,
    x: (Double, Double), y: (Double, Double)
  ) {
    self.plotWidth = Double(width) - left - 30
    self.plotHeight = Double(plotHeight)
    self.x = x
    self.y = y
    legendTop = top + Double(plotHeight + bottomMargin)
    document = SVGDocument(width: width, height: Int(legendTop) + 18 * legendRows + 16)
    document.add(ReportPlots.text(
      x: Double(width) / 2, y: 28, title, size: 16, anchor: "middle", weight: "bold"))
    document.add(ReportPlots.rect(
      left, top, plotWidth, self.plotHeight, fill: "none", more: " stroke=\"\(axisColor)\""))
  }

  func px(_ value: Double) -> Double { left + (value - x.min) / (x.max - x.min) * plotWidth }
  func py(_ value: Double) -> Double { top + plotHeight - (value - y.min) / (y.max - y.min) * plotHeight }

  mutating func yAxis(ticks: [(Double, String)], label: String) {
    for (value, text) in ticks {
      let position = py(value)
      document.add(ReportPlots.line(left, position, left + plotWidth, position, stroke: "#e6e6e6"))
      document.add(ReportPlots.line(left - 5, position, left, position, stroke: axisColor))
      document.add(ReportPlots.text(x: left - 8, y: position + 4, text, size: 11, anchor: "end"))
    }
    document.add(ReportPlots.text(
      x: 18, y: top + plotHeight / 2, label, size: 12, anchor: "middle", rotate: -90))
  }

  mutating func xAxis(ticks: [(Double, String)], label: String) {
    let bottom = top + plotHeight
    for (value, text) in ticks {
      let position = px(value)
      document.add(ReportPlots.line(position, bottom, position, bottom + 5, stroke: axisColor))
      document.add(ReportPlots.text(x: position, y: bottom + 18, text, size: 11, anchor: "middle"))
    }
    document.add(ReportPlots.text(
      x: left + plotWidth / 2, y: bottom + 40, label, size: 12, anchor: "middle"))
  }

  /// One rotated label under each integer x position (category axis).
  mutating func categoryLabels(_ labels: [String]) {
    let bottom = top + plotHeight
    for (index, label) in labels.enumerated() {
      let position = px(Double(index))
      document.add(ReportPlots.line(position, bottom, position, bottom + 5, stroke: axisColor))
      document.add(ReportPlots.text(
        x: position, y: bottom + 14, label, size: 11, anchor: "end", rotate: -40))
    }
  }

  mutating func verticalMarker(at value: Double) {
    let position = px(value)
    document.add(ReportPlots.line(
      position, top, position, top + plotHeight, stroke: "#bbbbbb", more: " stroke-dasharray=\"4 4\""))
  }

  mutating func note(_ text: String) {
    document.add(ReportPlots.text(
      x: left + plotWidth / 2, y: top + plotHeight / 2, text, size: 13, anchor: "middle"))
  }

  /// A polyline through `points` (if two or more) with a dot on each.
  mutating func series(_ points: [(Double, Double)], color: String, title: String) {
    guard !points.isEmpty else { return }
    document.add("<g><title>\(ReportPlots.escape(title))</title>")
    if points.count > 1 {
      let list = points.map { ReportPlots.number(px($0.0)) + "," + ReportPlots.number(py($0.1)) }
      document.add("<polyline points=\"\(list.joined(separator: " "))\" fill=\"none\" "
        + "stroke=\"\(color)\" stroke-width=\"2\"/>")
    }
    for point in points { document.add(ReportPlots.circle(px(point.0), py(point.1), radius: 3, fill: color)) }
    document.add("</g>")
  }

  /// A bar from y = 0 to `value` centred on x = `center` (`width` in x units).
  mutating func bar(
    center: Double, width: Double, value: Double, color: String, opacity: Double, title: String
  ) {
    let x0 = px(center - width / 2), x1 = px(center + width / 2)
    let yTop = py(value), yBottom = py(0)
    document.add(ReportPlots.rect(
      x0, yTop, x1 - x0, yBottom - yTop, fill: color, opacity: opacity, title: title))
  }

  mutating func legend(row: Int, color: String, text: String, style: LegendStyle) {
    let y = legendTop + 18 * Double(row)
    switch style {
    case .line:
      document.add(ReportPlots.line(left, y - 4, left + 24, y - 4, stroke: color, width: 2))
      document.add(ReportPlots.circle(left + 12, y - 4, radius: 3, fill: color))
    case .bar(let opacity):
      document.add(ReportPlots.rect(left + 4, y - 10, 16, 12, fill: color, opacity: opacity))
    }
    document.add(ReportPlots.text(x: left + 32, y: y, text, size: 12))
  }
}
