// Post-processors (HF `processors`) reduced to what they do to ids of a single sequence:
// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel (no-op on ids) and Sequence.
// Pair sequences, type ids and offsets are not modelled: LayerCard encodes one text at a time.

/// One element of a single-sequence template.
enum TemplatePiece: Sendable, Equatable {
    case special([Int])
    case sequence
}

/// Adds special tokens around the encoded sequence when `addSpecialTokens` is set.
indirect enum PostProcessor: Sendable {
    case none
    case template([TemplatePiece])
    case sequence([PostProcessor])

    func process(_ ids: [Int], addSpecialTokens: Bool) -> [Int] {
        guard addSpecialTokens else { return ids }
        switch self {
        case .none: return ids
        case let .template(pieces):
            var out: [Int] = []
            for p in pieces {
                switch p {
                case let .special(s): out.append(contentsOf: s)
                case .sequence: out.append(contentsOf: ids)
                }
            }
            return out
        case let .sequence(steps): return steps.reduce(ids) { $1.process($0, addSpecialTokens: true) }
        }
    }

    /// The first special id the template puts before the sequence (the BOS / [CLS] token).
    var leadingSpecialID: Int? {
        switch self {
        case .none: return nil
        case let .template(pieces):
            if case let .special(s)? = pieces.first { return s.first }
            return nil
        case let .sequence(steps): return steps.lazy.compactMap(\.leadingSpecialID).first
        }
    }

    /// The first special id the template puts after the sequence (the EOS / [SEP] token).
    var trailingSpecialID: Int? {
        switch self {
        case .none: return nil
        case let .template(pieces):
            guard let seq = pieces.firstIndex(of: .sequence), seq + 1 < pieces.count,
                  case let .special(s) = pieces[seq + 1] else { return nil }
            return s.first
        case let .sequence(steps): return steps.lazy.compactMap(\.trailingSpecialID).first
        }
    }
}
