// Strict JSON for Layer Cards: encoding refuses NaN/Infinity (the error names the field),
// decoding checks what the math downstream relies on (known spec version, L×L symmetric
// coupling with unit diagonal, one LayerStats per layer, module layers in range, finite and
// non-negative norms). Deliberately not a schema migrator: unknown spec versions are refused.
import Foundation
import LCCore
import LCFormats

extension LayerCard {
    /// Spec versions this build understands.
    public static let knownSpecVersions: Set<Int> = [1]
    /// Tolerance for coupling symmetry and its unit diagonal.
    public static let couplingTolerance = 1e-6

    /// Deterministic JSON (sorted keys, pretty). Non-finite numbers are refused.
    /// - Throws: `LCError.format(path: "<card model-id>", ...)` naming the field holding NaN/Infinity.
    public func encodedJSON() throws -> Data {
        do { return try JSON.encode(self) } catch let EncodingError.invalidValue(value, ctx) {
            let field = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw LCError.format(path: "card \(model_id)", message: "non-finite number \(value) at field '\(field)'")
        }
    }

    /// Reads and validates a card.
    /// - Throws: `LCError.io` if unreadable, `LCError.format(path:message:)` naming the file and field otherwise.
    public static func load(from url: URL) throws -> LayerCard {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LCError.io(path: url.path, message: "cannot read card: \(error.localizedDescription)")
        }
        return try decode(data, path: url.path)
    }

    /// Decodes and validates a card from bytes; `path` is only used in error messages. The bytes first go
    /// through the strict parser (duplicate keys, NaN/Infinity literals, trailing garbage are errors).
    public static func decode(_ data: Data, path: String) throws -> LayerCard {
        _ = try StrictJSON.parse(data, path: path)
        let card: LayerCard
        do { card = try JSONDecoder().decode(LayerCard.self, from: data) } catch {
            throw LCError.format(path: path, message: "invalid card JSON: \(JSON.describe(error))")
        }
        try card.validate(path: path)
        return card
    }

    /// Checks the invariants selection and comparison rely on.
    /// - Throws: `LCError.format(path:message:)`; the message names the offending field.
    public func validate(path: String) throws {
        func fail(_ field: String, _ msg: String) -> LCError { .format(path: path, message: "field '\(field)': \(msg)") }
        guard LayerCard.knownSpecVersions.contains(spec_version) else {
            throw fail("spec_version", "unknown spec version \(spec_version) (this build knows \(LayerCard.knownSpecVersions.sorted()))")
        }
        let L = config.numLayers
        guard L > 0 else { throw fail("config.num_layers", "must be positive, got \(L)") }
        guard layers.count == L else { throw fail("layers", "has \(layers.count) entries but config.num_layers is \(L)") }
        for (i, s) in layers.enumerated() {
            guard s.layer == i else { throw fail("layers.\(i).layer", "expected \(i), got \(s.layer) (layers must be in order)") }
            let cols: [(String, Double?)] = [("grad_norm", s.grad_norm), ("resnorm", s.resnorm), ("resnorm_lora", s.resnorm_lora),
                                             ("act_energy_mean", s.act_energy_mean), ("predicted_gain", s.predicted_gain),
                                             ("cost", s.cost), ("cost_relative", s.cost_relative),
                                             ("block_influence", s.block_influence), ("act_norm", s.act_norm)]
            for (name, v) in cols {
                guard let v else { continue }
                guard v.isFinite, v >= 0 else { throw fail("layers.\(i).\(name)", "must be finite and >= 0, got \(v)") }
            }
            if let g = s.measured_gain, !g.isFinite { throw fail("layers.\(i).measured_gain", "not finite") }
        }
        for (i, m) in modules.enumerated() {
            guard (0..<L).contains(m.layer) else { throw fail("modules.\(i).layer", "layer \(m.layer) out of range 0..<\(L)") }
            for (name, v) in [("grad_norm", m.grad_norm), ("act_energy", m.act_energy), ("resnorm", m.resnorm),
                              ("resnorm_lora", m.resnorm_lora)] {
                guard v.isFinite, v >= 0 else { throw fail("modules.\(i).\(name)", "must be finite and >= 0, got \(v)") }
            }
        }
        guard coupling.count == L else { throw fail("coupling", "has \(coupling.count) rows, expected \(L)") }
        for (i, row) in coupling.enumerated() {
            guard row.count == L else { throw fail("coupling.\(i)", "has \(row.count) columns, expected \(L)") }
            for (j, v) in row.enumerated() {
                guard v.isFinite, abs(v) <= 1 + LayerCard.couplingTolerance else {
                    throw fail("coupling.\(i).\(j)", "must be a cosine in [-1, 1], got \(v)")
                }
            }
            guard abs(row[i] - 1) <= LayerCard.couplingTolerance else {
                throw fail("coupling.\(i).\(i)", "diagonal must be 1 (±1e-6), got \(row[i])")
            }
        }
        for i in 0..<L {
            for j in (i + 1)..<max(i + 1, L) where abs(coupling[i][j] - coupling[j][i]) > LayerCard.couplingTolerance {
                throw fail("coupling.\(i).\(j)", "not symmetric: \(coupling[i][j]) vs coupling.\(j).\(i) = \(coupling[j][i])")
            }
        }
        guard cost_model.adapter_flops_per_token.isFinite, cost_model.adapter_flops_per_token >= 0 else {
            throw fail("cost_model.adapter_flops_per_token", "must be finite and >= 0")
        }
    }
}
