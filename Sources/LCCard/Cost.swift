// Cost of a layer selection (spec §4): back-propagation must reach min(S), so
//   cost(S) = layers[min S].cost + (|S| − 1) · cost_model.adapter_flops_per_token,
//   speedup(S) = 1 − cost(S) / cost(all layers).
// Pure arithmetic on the card's cost columns; the costs themselves come from the profile stage.
import Foundation

/// Cost lookup for one card.
public struct CostModelView: Sendable {
    /// Per-layer "adapters only at l" cost, in `unit`.
    public let layerCost: [Double]
    public let adapterCost: Double
    public let unit: String

    public init(layerCost: [Double], adapterCost: Double, unit: String = "flops_per_token") {
        self.layerCost = layerCost; self.adapterCost = adapterCost; self.unit = unit
    }

    public init(card: LayerCard) {
        self.init(layerCost: card.layers.map(\.cost), adapterCost: card.cost_model.adapter_flops_per_token,
                  unit: card.cost_model.unit)
    }

    /// cost(S); 0 for the empty set. Out-of-range indices are a programmer error.
    public func cost(_ S: [Int]) -> Double {
        let set = Set(S)
        guard let m = set.min() else { return 0 }
        return layerCost[m] + Double(set.count - 1) * adapterCost
    }

    /// cost(all layers).
    public var costAll: Double { cost(Array(0..<layerCost.count)) }

    /// speedup(S) = 1 − cost(S)/cost(all); 0 when cost(all) is 0.
    public func speedup(_ S: [Int]) -> Double {
        let all = costAll
        return all > 0 ? 1 - cost(S) / all : 0
    }
}
