// The set model behind every objective (spec v2 §6b, issue 15): how a layer set's gain is predicted from per-layer
// values. Every model is the spec §3 NNLS form on some coupling matrix, followed by a monotone calibration of the
// gain fraction:
//   nnls-coupling  the card's measured coupling, no calibration (spec §3, the v1 default)
//   kernel-nnls    a depth kernel R_ij = exp(−|i−j|/τ) instead of the coupling (neighbours redundant), no calibration
//   additive       identity coupling (single-layer gains add up), fraction^β
//   saturating     identity coupling, (1 − exp(−c·fraction)) / (1 − exp(−c)) (diminishing returns)
// with per-layer values v_l = b_l²/2 from the signal (Signal.b). Greedy searches rank sets by the NNLS gain; the
// calibration is monotone, so it changes the shown fractions and the cost objective's target, not the ranking of
// sets of one search. The Python twins (scripts/validity/set_models.py) are what leave-one-task-out validation
// scored (docs/validity/); `SetModelCatalog` holds the validated parameters and error bands.
import Foundation
import LCCore

public struct SetModel: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case nnlsCoupling = "nnls-coupling", kernelNNLS = "kernel-nnls", additive, saturating
    }
    public var kind: Kind
    /// τ (kernel-nnls), β (additive), c (saturating); nil for nnls-coupling.
    public var param: Double?

    public init(kind: Kind, param: Double? = nil) { self.kind = kind; self.param = param }

    public static let specV1 = SetModel(kind: .nnlsCoupling)

    /// "saturating:4", "kernel-nnls:2", "nnls-coupling".
    public var description: String { param.map { "\(kind.rawValue):\(SetModel.format($0))" } ?? kind.rawValue }

    static func format(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(x) }

    /// Parses `description`. - Throws: `LCError.usage` naming the accepted forms.
    public init(parsing s: String) throws {
        let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
        let usage = "--set-model: expected nnls-coupling, kernel-nnls:TAU, additive:BETA or saturating:C (got '\(s)')"
        guard let k = parts.first.flatMap(Kind.init(rawValue:)) else { throw LCError.usage(usage) }
        if k == .nnlsCoupling {
            guard parts.count == 1 else { throw LCError.usage(usage) }
            self.init(kind: k)
            return
        }
        guard parts.count == 2, let p = Double(parts[1]), p.isFinite, p > 0 else { throw LCError.usage(usage) }
        self.init(kind: k, param: p)
    }

    /// The coupling matrix the NNLS runs on for L layers.
    public func coupling(card: [[Double]], L: Int) -> [[Double]] {
        switch kind {
        case .nnlsCoupling: return card
        case .kernelNNLS:
            let tau = param ?? 1
            return (0..<L).map { i in (0..<L).map { j in Foundation.exp(-Double(abs(i - j)) / tau) } }
        case .additive, .saturating:
            return (0..<L).map { i in (0..<L).map { $0 == i ? 1.0 : 0.0 } }
        }
    }

    /// Predicted gain fraction from the NNLS fraction gain(S)/gain(all) on `coupling`.
    public func calibrate(_ raw: Double) -> Double {
        let r = min(max(raw, 0), 1)
        switch kind {
        case .nnlsCoupling, .kernelNNLS: return r
        case .additive: return Foundation.pow(r, param ?? 1)
        case .saturating:
            let c = param ?? 1
            return (1 - Foundation.exp(-c * r)) / (1 - Foundation.exp(-c))
        }
    }

    /// The NNLS fraction whose calibrated value is `f` (the cost objective's target).
    public func uncalibrate(_ f: Double) -> Double {
        let x = min(max(f, 0), 1)
        switch kind {
        case .nnlsCoupling, .kernelNNLS: return x
        case .additive: return Foundation.pow(x, 1 / (param ?? 1))
        case .saturating:
            let c = param ?? 1
            return -Foundation.log(1 - x * (1 - Foundation.exp(-c))) / c
        }
    }
}

/// What leave-one-task-out validation measured for a set model with one per-layer source at one horizon.
public struct SetModelValidation: Codable, Sendable, Equatable {
    public var model: SetModel
    /// The per-layer source the parameter was fitted with: a card column or "measured_gain".
    public var source: String
    /// Probe steps of the corpus runs.
    public var horizon_steps: Int
    /// Held-out mean Spearman (predicted vs measured set gain fractions), mean absolute error and 90th percentile
    /// absolute error of the predicted fraction, in fraction units (0.08 = 8 points).
    public var spearman: Double
    public var mae: Double
    public var p90: Double
    public var tasks: [String]
    /// Where the table is (repository path).
    public var table: String

    public init(model: SetModel, source: String, horizon_steps: Int, spearman: Double, mae: Double, p90: Double, tasks: [String],
                table: String) {
        self.model = model; self.source = source; self.horizon_steps = horizon_steps; self.spearman = spearman
        self.mae = mae; self.p90 = p90; self.tasks = tasks; self.table = table
    }
}

/// The validated defaults (from docs/validity/<model>/set-models.json; a test checks these constants against it).
public enum SetModelCatalog {
    /// Validated models, best first per source: written by scripts/validity/catalog_swift.py from set-models.json
    /// (between the markers; do not edit by hand).
    public static let validated: [SetModelValidation] = [
        // BEGIN GENERATED CATALOG
        SetModelValidation(model: SetModel(kind: .kernelNNLS, param: 6.0), source: "act_norm", horizon_steps: 5,
                           spearman: 0.42026300956063284, mae: 0.19016482409421384, p90: 0.40682282433068934, tasks: ["arith", "cls", "instr"],
                           table: "docs/validity/smollm2-135m-instruct.q4_1/set-models.md"),
        SetModelValidation(model: SetModel(kind: .additive, param: 0.1), source: "block_influence", horizon_steps: 5,
                           spearman: 0.4193880576376216, mae: 0.2133082031382408, p90: 0.3881968221148657, tasks: ["arith", "cls", "instr"],
                           table: "docs/validity/smollm2-135m-instruct.q4_1/set-models.md"),
        SetModelValidation(model: SetModel(kind: .additive, param: 0.25), source: "grad_norm", horizon_steps: 5,
                           spearman: 0.7167055409928409, mae: 0.09337773124168025, p90: 0.19897967597859298, tasks: ["arith", "cls", "instr"],
                           table: "docs/validity/smollm2-135m-instruct.q4_1/set-models.md"),
        SetModelValidation(model: SetModel(kind: .kernelNNLS, param: 8.0), source: "measured_gain", horizon_steps: 5,
                           spearman: 0.7061728724372465, mae: 0.1529737424184906, p90: 0.2859486048814433, tasks: ["arith", "cls", "instr"],
                           table: "docs/validity/smollm2-135m-instruct.q4_1/set-models.md"),
        SetModelValidation(model: SetModel(kind: .nnlsCoupling, param: nil), source: "predicted_gain", horizon_steps: 5,
                           spearman: 0.47818180624879475, mae: 0.4667659680851492, p90: 0.7286475038690071, tasks: ["arith", "cls", "instr"],
                           table: "docs/validity/smollm2-135m-instruct.q4_1/set-models.md"),
        SetModelValidation(model: SetModel(kind: .nnlsCoupling, param: nil), source: "resnorm", horizon_steps: 5,
                           spearman: 0.47818180624879475, mae: 0.4667659680851492, p90: 0.7286475038690071, tasks: ["arith", "cls", "instr"],
                           table: "docs/validity/smollm2-135m-instruct.q4_1/set-models.md"),
        SetModelValidation(model: SetModel(kind: .nnlsCoupling, param: nil), source: "resnorm_lora", horizon_steps: 5,
                           spearman: 0.48966667559207205, mae: 0.46941695450404647, p90: 0.7338987270951433, tasks: ["arith", "cls", "instr"],
                           table: "docs/validity/smollm2-135m-instruct.q4_1/set-models.md"),        // END GENERATED CATALOG
    ]

    /// The default model and its validation for a signal: the validated winner fitted on that source, else the
    /// spec v1 NNLS with no validation.
    public static func defaultModel(for signal: Signal) -> (model: SetModel, validation: SetModelValidation?) {
        if let v = validated.first(where: { $0.source == signal.rawValue }) { return (v.model, v) }
        return (.specV1, nil)
    }

    /// The validation of a given model and signal, when the corpus scored that pair.
    public static func validation(of model: SetModel, signal: Signal) -> SetModelValidation? {
        validated.first { $0.model == model && $0.source == signal.rawValue }
    }
}
