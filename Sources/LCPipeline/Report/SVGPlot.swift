// A small SVG plotting helper for self-contained reports: line/bar plots with axes, ticks, labels
// and an optional log y-axis; a heatmap with a colour bar; a scatter with a Pareto front and
// labelled markers. Emits plain SVG text (no fonts, scripts or links). Not a general charting API.
import Foundation

/// One plotted series.
public struct PlotSeries: Sendable {
    public enum Style: Sendable { case line, bars, points }
    public var name: String
    public var values: [Double?]
    public var color: String
    public var style: Style
    public init(_ name: String, _ values: [Double?], color: String, style: Style = .line) {
        self.name = name; self.values = values; self.color = color; self.style = style
    }
}

/// A labelled point on a scatter.
public struct PlotMarker: Sendable {
    public var label: String, x: Double, y: Double, color: String
    public init(label: String, x: Double, y: Double, color: String) { self.label = label; self.x = x; self.y = y; self.color = color }
}

public enum SVGPlot {
    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
    static func f(_ x: Double) -> String { String(format: "%.1f", x) }

    /// Tick label: compact, scientific for very large or small magnitudes.
    public static func tickLabel(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e4 || a < 1e-3 { return String(format: "%.0e", v).replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+", with: "e") }
        if a >= 10 || v == v.rounded() { return String(format: "%.0f", v) }
        return String(format: a >= 1 ? "%.1f" : "%.2g", v)
    }

    /// "Nice" linear ticks (steps of 1, 2 or 5 × 10^k) covering [lo, hi].
    public static func niceTicks(_ lo: Double, _ hi: Double, count: Int = 6) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(max(count - 1, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = (lo / step).rounded(.down) * step
        var out: [Double] = []
        // Up to the first tick at or above hi, so the axis always closes with a labelled tick.
        while true {
            if t >= lo - step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t) }
            if t >= hi - step * 1e-9 || out.count > 100 { break }
            t += step
        }
        return out
    }

    /// Log ticks: every decade, plus 2× and 5× when the range spans fewer than 3 decades.
    public static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let a = floor(log10(lo)), b = ceil(log10(hi))
        var out: [Double] = []
        for e in stride(from: a, through: b, by: 1) {
            for m in (b - a < 3 ? [1.0, 2, 5] : [1.0]) { let v = m * pow(10, e); if v >= lo * 0.999 && v <= hi * 1.001 { out.append(v) } }
        }
        return out
    }

    /// Line / bar / point plot against x = 0..<n (layer index) or given x values.
    public static func plot(title: String, xLabel: String, yLabel: String, series: [PlotSeries], logY: Bool = false,
                            yMin: Double? = nil, width: Double = 1120, height: Double = 320) -> String {
        let n = series.map(\.values.count).max() ?? 0
        let ml = 78.0, mr = 300.0, mt = 34.0, mb = 50.0
        let pw = width - ml - mr, ph = height - mt - mb
        let vals = series.flatMap { $0.values.compactMap { $0 } }.filter { $0.isFinite && (!logY || $0 > 0) }
        var lo = yMin ?? (logY ? (vals.min() ?? 1) : min(0, vals.min() ?? 0)), hi = vals.max() ?? 1
        if logY { lo = pow(10, floor(log10(max(lo, 1e-300)))); hi = pow(10, ceil(log10(max(hi, lo * 10)))) }
        if hi <= lo { hi = lo + 1 }
        let ticks = logY ? logTicks(lo, hi) : niceTicks(lo, hi)
        if !logY, let last = ticks.last, last > hi { hi = last }
        func ty(_ v: Double) -> Double {
            let t = logY ? (log10(max(v, lo)) - log10(lo)) / (log10(hi) - log10(lo)) : (v - lo) / (hi - lo)
            return mt + ph * (1 - t)
        }
        let slot = pw / Double(max(n, 1))
        func tx(_ i: Int) -> Double { ml + slot * (Double(i) + 0.5) }
        var s = "<svg width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<text x=\"\(f(ml))\" y=\"20\" font-size=\"14\" font-weight=\"bold\">\(esc(title))</text>\n"
        for t in ticks {
            let y = ty(t)
            s += "<line x1=\"\(f(ml))\" x2=\"\(f(ml + pw))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(f(ml - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(tickLabel(t))</text>\n"
        }
        let every = max(1, Int((Double(n) / 16).rounded(.up)))
        for i in stride(from: 0, to: n, by: every) {
            s += "<line x1=\"\(f(tx(i)))\" x2=\"\(f(tx(i)))\" y1=\"\(f(mt + ph))\" y2=\"\(f(mt + ph + 4))\" stroke=\"#333\"/>"
            s += "<text x=\"\(f(tx(i)))\" y=\"\(f(mt + ph + 17))\" text-anchor=\"middle\">\(i)</text>\n"
        }
        s += "<rect x=\"\(f(ml))\" y=\"\(f(mt))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#333\"/>\n"
        let barSeries = series.filter { $0.style == .bars }
        for (si, ser) in series.enumerated() {
            switch ser.style {
            case .bars:
                let bi = barSeries.firstIndex { $0.name == ser.name } ?? 0
                let bw = slot * 0.8 / Double(max(barSeries.count, 1))
                for (i, v) in ser.values.enumerated() {
                    guard let v, v.isFinite else { continue }
                    let x = ml + slot * Double(i) + slot * 0.1 + bw * Double(bi)
                    let y0 = ty(logY ? lo : max(lo, 0)), y1 = ty(v)
                    s += "<rect x=\"\(f(x))\" y=\"\(f(min(y0, y1)))\" width=\"\(f(bw))\" height=\"\(f(abs(y0 - y1)))\" fill=\"\(ser.color)\"><title>\(esc(ser.name)) layer \(i): \(tickLabel(v))</title></rect>"
                }
            case .line, .points:
                var pts: [String] = []
                for (i, v) in ser.values.enumerated() {
                    guard let v, v.isFinite, !logY || v > 0 else {
                        if ser.style == .line, pts.count > 1 { s += "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>" }
                        pts = []; continue
                    }
                    pts.append("\(f(tx(i))),\(f(ty(v)))")
                    s += "<circle cx=\"\(f(tx(i)))\" cy=\"\(f(ty(v)))\" r=\"\(ser.style == .points ? 3.5 : 2.5)\" fill=\"\(ser.color)\"><title>\(esc(ser.name)) layer \(i): \(tickLabel(v))</title></circle>"
                }
                if ser.style == .line, pts.count > 1 { s += "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>" }
            }
            let ly = mt + 8 + Double(si) * 18
            s += "\n<rect x=\"\(f(ml + pw + 14))\" y=\"\(f(ly - 8))\" width=\"12\" height=\"10\" fill=\"\(ser.color)\"/><text x=\"\(f(ml + pw + 32))\" y=\"\(f(ly + 1))\">\(esc(ser.name))</text>\n"
        }
        s += "<text x=\"\(f(ml + pw / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        s += "<text transform=\"translate(16,\(f(mt + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>\n"
        return s + "</svg>"
    }

    /// Diverging blue–white–red colour for v in [lo, hi].
    public static func diverging(_ v: Double, lo: Double, hi: Double) -> String {
        let t = max(0, min(1, (v - lo) / (hi - lo))) * 2 - 1
        let (r, g, b): (Double, Double, Double) = t < 0 ? (1 + t * 0.85, 1 + t * 0.6, 1 + t * 0.1) : (1 - t * 0.1, 1 - t * 0.75, 1 - t * 0.8)
        return String(format: "#%02x%02x%02x", Int(r * 255), Int(g * 255), Int(b * 255))
    }

    /// Heatmap of an n×n matrix (row 0 at the top) with a colour bar.
    public static func heatmap(title: String, matrix: [[Double]], xLabel: String, yLabel: String, lo: Double = -1, hi: Double = 1,
                               colorbarLabel: String, size: Double = 520) -> String {
        let n = matrix.count
        let ml = 60.0, mt = 34.0, mb = 48.0, cbw = 18.0
        let side = size - mt - mb, cell = side / Double(max(n, 1))
        let width = ml + side + 110
        var s = "<svg width=\"\(f(width))\" height=\"\(f(size))\" viewBox=\"0 0 \(f(width)) \(f(size))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<text x=\"\(f(ml))\" y=\"20\" font-size=\"14\" font-weight=\"bold\">\(esc(title))</text>\n"
        for i in 0..<n {
            for j in 0..<n where j < matrix[i].count {
                s += "<rect x=\"\(f(ml + cell * Double(j)))\" y=\"\(f(mt + cell * Double(i)))\" width=\"\(f(cell + 0.3))\" height=\"\(f(cell + 0.3))\" fill=\"\(diverging(matrix[i][j], lo: lo, hi: hi))\"><title>[\(i), \(j)] = \(String(format: "%.3f", matrix[i][j]))</title></rect>"
            }
            s += "\n"
        }
        let every = max(1, Int((Double(n) / 10).rounded(.up)))
        for i in stride(from: 0, to: n, by: every) {
            let c = mt + cell * (Double(i) + 0.5)
            s += "<text x=\"\(f(ml - 5))\" y=\"\(f(c + 4))\" text-anchor=\"end\">\(i)</text>"
            s += "<text x=\"\(f(ml + cell * (Double(i) + 0.5)))\" y=\"\(f(mt + side + 15))\" text-anchor=\"middle\">\(i)</text>\n"
        }
        s += "<rect x=\"\(f(ml))\" y=\"\(f(mt))\" width=\"\(f(side))\" height=\"\(f(side))\" fill=\"none\" stroke=\"#333\"/>\n"
        let cx = ml + side + 24
        for k in 0..<100 {
            let v = hi - (hi - lo) * (Double(k) + 0.5) / 100
            s += "<rect x=\"\(f(cx))\" y=\"\(f(mt + side * Double(k) / 100))\" width=\"\(f(cbw))\" height=\"\(f(side / 100 + 0.5))\" fill=\"\(diverging(v, lo: lo, hi: hi))\"/>"
        }
        for t in niceTicks(lo, hi, count: 5) {
            let y = mt + side * (hi - t) / (hi - lo)
            s += "<line x1=\"\(f(cx + cbw))\" x2=\"\(f(cx + cbw + 4))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#333\"/><text x=\"\(f(cx + cbw + 7))\" y=\"\(f(y + 4))\">\(tickLabel(t))</text>"
        }
        s += "<rect x=\"\(f(cx))\" y=\"\(f(mt))\" width=\"\(f(cbw))\" height=\"\(f(side))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text transform=\"translate(\(f(cx + cbw + 52)),\(f(mt + side / 2))) rotate(90)\" text-anchor=\"middle\">\(esc(colorbarLabel))</text>\n"
        s += "<text x=\"\(f(ml + side / 2))\" y=\"\(f(size - 10))\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        s += "<text transform=\"translate(16,\(f(mt + side / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>\n"
        return s + "</svg>"
    }

    /// Pareto front of (cost x, gain y): points not dominated by one with x' ≤ x and y' ≥ y, sorted by x.
    public static func paretoFront(_ pts: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
        let sorted = pts.sorted { $0.x != $1.x ? $0.x < $1.x : $0.y > $1.y }
        var out: [(x: Double, y: Double)] = []
        var best = -Double.infinity
        for p in sorted where p.y > best { out.append(p); best = p.y }
        return out
    }

    /// Scatter of a point cloud, its Pareto front (step line) and labelled markers.
    public static func scatter(title: String, xLabel: String, yLabel: String, cloud: [(x: Double, y: Double)],
                               markers: [PlotMarker], width: Double = 1120, height: Double = 480) -> String {
        let ml = 70.0, mr = 330.0, mt = 34.0, mb = 50.0
        let pw = width - ml - mr, ph = height - mt - mb
        let xs = cloud.map(\.x) + markers.map(\.x), ys = cloud.map(\.y) + markers.map(\.y)
        var xlo = xs.min() ?? 0, xhi = xs.max() ?? 1
        if xhi - xlo < 1e-9 { xlo -= 0.05; xhi += 0.05 }
        let pad = (xhi - xlo) * 0.04
        xlo -= pad; xhi += pad
        let xt = niceTicks(xlo, xhi, count: 9), yt = niceTicks(0, max(ys.max() ?? 1, 1e-9))
        xlo = min(xlo, xt.first ?? xlo); xhi = max(xhi, xt.last ?? xhi)
        let ylo = 0.0, yhi = max(yt.last ?? 1, ys.max() ?? 1)
        func tx(_ x: Double) -> Double { ml + pw * (x - xlo) / (xhi - xlo) }
        func ty(_ y: Double) -> Double { mt + ph * (1 - (y - ylo) / (yhi - ylo)) }
        var s = "<svg width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<text x=\"\(f(ml))\" y=\"20\" font-size=\"14\" font-weight=\"bold\">\(esc(title))</text>\n"
        for t in yt { s += "<line x1=\"\(f(ml))\" x2=\"\(f(ml + pw))\" y1=\"\(f(ty(t)))\" y2=\"\(f(ty(t)))\" stroke=\"#e5e5e5\"/><text x=\"\(f(ml - 6))\" y=\"\(f(ty(t) + 4))\" text-anchor=\"end\">\(tickLabel(t))</text>\n" }
        for t in xt where t >= xlo && t <= xhi { s += "<line x1=\"\(f(tx(t)))\" x2=\"\(f(tx(t)))\" y1=\"\(f(mt))\" y2=\"\(f(mt + ph))\" stroke=\"#eeeeee\"/><text x=\"\(f(tx(t)))\" y=\"\(f(mt + ph + 17))\" text-anchor=\"middle\">\(tickLabel(t))</text>\n" }
        s += "<rect x=\"\(f(ml))\" y=\"\(f(mt))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#333\"/>\n"
        for p in cloud { s += "<circle cx=\"\(f(tx(p.x)))\" cy=\"\(f(ty(p.y)))\" r=\"2\" fill=\"#b0b0b0\"/>" }
        let front = paretoFront(cloud + markers.map { ($0.x, $0.y) })
        if front.count > 1 {
            var d = "M \(f(tx(front[0].x))) \(f(ty(front[0].y)))"
            for p in front.dropFirst() { d += " H \(f(tx(p.x))) V \(f(ty(p.y)))" }
            s += "\n<path d=\"\(d)\" fill=\"none\" stroke=\"#444\" stroke-dasharray=\"5,3\" stroke-width=\"1.5\"/>\n"
        }
        for (i, m) in markers.enumerated() {
            s += "<circle cx=\"\(f(tx(m.x)))\" cy=\"\(f(ty(m.y)))\" r=\"5.5\" fill=\"\(m.color)\" stroke=\"#000\" stroke-width=\"0.8\"><title>\(esc(m.label))</title></circle>"
            s += "<text x=\"\(f(tx(m.x) + 7))\" y=\"\(f(ty(m.y) - 6))\" font-size=\"11\">\(i + 1)</text>\n"
            let ly = mt + 8 + Double(i) * 17
            s += "<circle cx=\"\(f(ml + pw + 20))\" cy=\"\(f(ly - 4))\" r=\"5\" fill=\"\(m.color)\" stroke=\"#000\" stroke-width=\"0.8\"/><text x=\"\(f(ml + pw + 30))\" y=\"\(f(ly))\">\(i + 1) \(esc(m.label))</text>\n"
        }
        let ly = mt + 8 + Double(markers.count) * 17 + 6
        s += "<line x1=\"\(f(ml + pw + 14))\" x2=\"\(f(ml + pw + 28))\" y1=\"\(f(ly - 4))\" y2=\"\(f(ly - 4))\" stroke=\"#444\" stroke-dasharray=\"5,3\"/><text x=\"\(f(ml + pw + 32))\" y=\"\(f(ly))\">Pareto front</text>"
        s += "<circle cx=\"\(f(ml + pw + 21))\" cy=\"\(f(ly + 13))\" r=\"2\" fill=\"#b0b0b0\"/><text x=\"\(f(ml + pw + 32))\" y=\"\(f(ly + 17))\">searched sets</text>\n"
        s += "<text x=\"\(f(ml + pw / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        s += "<text transform=\"translate(16,\(f(mt + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>\n"
        return s + "</svg>"
    }
}
