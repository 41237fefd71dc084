// One block's backward per architecture family, in reverse order of TransformerModel+Block.swift, reporting
// each module's (a, delta) to the visitor. Reads bottom to top like the forward reversed.
// Deliberately no parameter gradients.
import LCKernels

/// Gradient scratch buffers for one block, allocated once per backward pass and reused by every layer.
final class BlockGradScratch {
    let dResid1: FloatBuffer, dAct: FloatBuffer, dUp: FloatBuffer, dGate: FloatBuffer
    let dFfnIn: FloatBuffer, dDown: FloatBuffer, dAttnOut: FloatBuffer, dq: FloatBuffer
    let dk: FloatBuffer, dv: FloatBuffer, dqp: FloatBuffer, dkp: FloatBuffer, dAttnIn: FloatBuffer
    let dqkv: FloatBuffer

    init(config c: ModelConfig, B: Int, T: Int) {
        let N = B * T, C = c.hiddenSize, I = c.intermediateSize
        let qD = c.numHeads * c.headDim, kD = c.numKVHeads * c.headDim
        dResid1 = FloatBuffer(count: N * C); dAct = FloatBuffer(count: N * I)
        dUp = FloatBuffer(count: N * I); dGate = FloatBuffer(count: c.activation == "silu" ? N * I : 0)
        dFfnIn = FloatBuffer(count: N * C); dDown = FloatBuffer(count: N * C)
        dAttnOut = FloatBuffer(count: N * qD); dq = FloatBuffer(count: N * qD); dk = FloatBuffer(count: N * kD)
        dv = FloatBuffer(count: N * kD)
        let qwen3 = c.architecture == "qwen3"
        dqp = FloatBuffer(count: qwen3 ? N * qD : 0); dkp = FloatBuffer(count: qwen3 ? N * kD : 0)
        dAttnIn = FloatBuffer(count: N * C)
        dqkv = FloatBuffer(count: c.architecture == "gpt2" ? N * 3 * C : 0)
    }
}

extension TransformerModel {
    private func lwb(_ w: LayerWeights, _ l: Int, _ role: String) -> UnsafePointer<Float> {
        guard let b = w[role] else { preconditionFailure("weight \(role) of layer \(l) not loaded") }
        return b.cptr
    }

    /// Writes dL/d(input) of block `l` into `dInput` from dL/d(output) `dOut` (all (B,T,C); distinct buffers).
    func blockBackward(_ l: Int, weights w: LayerWeights, acts a: BlockActivations, dOut: FloatBuffer, dInput: FloatBuffer, scratch sc: BlockGradScratch,
                       batch: Batch, visit: (ModuleGradient) -> Void) {
        let c = config, N = batch.B * batch.T, C = c.hiddenSize, I = c.intermediateSize, HS = c.headDim
        let NH = c.numHeads, KVH = c.numKVHeads, qD = NH * HS, kD = KVH * HS, arch = c.architecture
        precondition(w.lowRank.isEmpty, "blockBackward: low-rank weight terms are forward-only (layer \(l))")
        func v(_ m: String, _ inp: FloatBuffer, _ d: FloatBuffer, _ dIn: Int, _ dOutDim: Int) {
            visit(ModuleGradient(layer: l, module: m, input: inp.cptr, outputGrad: d.cptr, N: N, dIn: dIn, dOut: dOutDim))
        }
        let names = TensorNames.modules(arch: arch)  // q k v o gate? up down, in forward order
        let dResid1 = sc.dResid1, dAct = sc.dAct, dUp = sc.dUp, dFfnIn = sc.dFfnIn
        // ---- MLP ----
        var dDown = dOut
        if arch == "bert" {  // out = LN3(resid2), resid2 = ffnIn + down
            dDown = sc.dDown; dDown.zero()
            layerNormBackward(dinp: dDown.ptr, dweight: nil, dbias: nil, dout: dOut.cptr, inp: a.resid2.cptr, weight: lwb(w, l, "out_norm"),
                              mean: a.norm3Mean.cptr, rstd: a.norm3Rstd.cptr, N: N, C: C)
        }
        v(names[names.count - 1], a.act, dDown, I, C)
        matmulBackward(dinp: dAct.ptr, dweight: nil, dbias: nil, dout: dDown.cptr, inp: a.act.cptr, weight: lwb(w, l, "down"), N: N, C: I, OC: C)
        if arch == "gpt2" || arch == "bert" {
            if arch == "gpt2" { geluTanhBackward(dinp: dUp.ptr, dout: dAct.cptr, inp: a.up.cptr, n: N * I) }
            else { geluBackward(dinp: dUp.ptr, dout: dAct.cptr, inp: a.up.cptr, n: N * I) }
            v(names[names.count - 2], a.ffnIn, dUp, C, I)
            matmulBackward(dinp: dFfnIn.ptr, dweight: nil, dbias: nil, dout: dUp.cptr, inp: a.ffnIn.cptr, weight: lwb(w, l, "up"), N: N, C: C, OC: I)
        } else {
            let dGate = sc.dGate
            swigluBackward(dgate: dGate.ptr, dup: dUp.ptr, dout: dAct.cptr, gate: a.gate.cptr, up: a.up.cptr, n: N * I)
            v("gate_proj", a.ffnIn, dGate, C, I)
            v("up_proj", a.ffnIn, dUp, C, I)
            matmulBackward(dinp: dFfnIn.ptr, dweight: nil, dbias: nil, dout: dGate.cptr, inp: a.ffnIn.cptr, weight: lwb(w, l, "gate"), N: N, C: C, OC: I)
            matmulBackward(dinp: dFfnIn.ptr, dweight: nil, dbias: nil, dout: dUp.cptr, inp: a.ffnIn.cptr, weight: lwb(w, l, "up"),
                           N: N, C: C, OC: I, accumulateInput: true)
        }
        // ---- norm between attention and MLP; residual ----
        switch arch {
        case "bert":  // ffnIn = LN2(resid1); resid2 = ffnIn + down → dFfnIn also gets dDown
            dResid1.zero()
            residual(out: dFfnIn.ptr, a: dFfnIn.cptr, b: dDown.cptr, n: N * C)
            layerNormBackward(dinp: dResid1.ptr, dweight: nil, dbias: nil, dout: dFfnIn.cptr, inp: a.resid1.cptr,
                              weight: lwb(w, l, "attn_out_norm"), mean: a.norm2Mean.cptr, rstd: a.norm2Rstd.cptr, N: N, C: C)
        case "gpt2":
            dResid1.ptr.update(from: dOut.cptr, count: N * C)
            layerNormBackward(dinp: dResid1.ptr, dweight: nil, dbias: nil, dout: dFfnIn.cptr, inp: a.resid1.cptr,
                              weight: lwb(w, l, "ffn_norm"), mean: a.norm2Mean.cptr, rstd: a.norm2Rstd.cptr, N: N, C: C)
        default:
            dResid1.ptr.update(from: dOut.cptr, count: N * C)
            rmsNormBackward(dinp: dResid1.ptr, dweight: nil, dout: dFfnIn.cptr, inp: a.resid1.cptr, weight: lwb(w, l, "ffn_norm"),
                            rstd: a.norm2Rstd.cptr, N: N, C: C)
        }
        // ---- attention ----  resid1 = input + proj
        let oName = arch == "gpt2" ? "attn.c_proj" : (arch == "bert" ? "attention.output.dense" : "o_proj")
        v(oName, a.attnOut, dResid1, qD, C)
        let dAttnOut = sc.dAttnOut
        matmulBackward(dinp: dAttnOut.ptr, dweight: nil, dbias: nil, dout: dResid1.cptr, inp: a.attnOut.cptr, weight: lwb(w, l, "o"), N: N, C: qD, OC: C)
        let dq = sc.dq, dk = sc.dk, dv = sc.dv
        batch.keyMask.withUnsafeBufferPointer { mp in
            attentionBackward(dq: dq.ptr, dk: dk.ptr, dv: dv.ptr, dout: dAttnOut.cptr, q: a.q.cptr, k: a.k.cptr, v: a.v.cptr,
                              att: nil, keyMask: isCausal ? nil : mp.baseAddress, causal: isCausal,
                              B: batch.B, T: batch.T, NH: NH, KVH: KVH, HS: HS)
        }
        let dAttnIn = sc.dAttnIn
        if arch == "gpt2" {
            let dqkv = sc.dqkv
            for n in 0..<N {
                let row = dqkv.ptr + n * 3 * C
                row.update(from: dq.cptr + n * C, count: C)
                (row + C).update(from: dk.cptr + n * C, count: C)
                (row + 2 * C).update(from: dv.cptr + n * C, count: C)
            }
            v("c_attn", a.attnIn, dqkv, C, 3 * C)
            matmulBackward(dinp: dAttnIn.ptr, dweight: nil, dbias: nil, dout: dqkv.cptr, inp: a.attnIn.cptr, weight: lwb(w, l, "qkv"), N: N, C: C, OC: 3 * C)
        } else {
            if arch != "bert" {
                let (cs, sn) = ropeTables(invFreq: invFreq, T: batch.T)
                cs.withUnsafeBufferPointer { cp in
                    sn.withUnsafeBufferPointer { sp in
                        let cpp = cp.baseAddress.unsafelyUnwrapped, spp = sp.baseAddress.unsafelyUnwrapped
                        ropeBackward(dx: dq.ptr, cos: cpp, sin: spp, B: batch.B, T: batch.T, NH: NH, HS: HS, R: rotaryDim)
                        ropeBackward(dx: dk.ptr, cos: cpp, sin: spp, B: batch.B, T: batch.T, NH: KVH, HS: HS, R: rotaryDim)
                    }
                }
            }
            var dqp = dq, dkp = dk
            if arch == "qwen3" {
                dqp = sc.dqp; dkp = sc.dkp; dqp.zero(); dkp.zero()
                rmsNormBackward(dinp: dqp.ptr, dweight: nil, dout: dq.cptr, inp: a.qProj.cptr, weight: lwb(w, l, "q_norm"),
                                rstd: a.qRstd.cptr, N: N * NH, C: HS)
                rmsNormBackward(dinp: dkp.ptr, dweight: nil, dout: dk.cptr, inp: a.kProj.cptr, weight: lwb(w, l, "k_norm"),
                                rstd: a.kRstd.cptr, N: N * KVH, C: HS)
            }
            v(names[0], a.attnIn, dqp, C, qD)
            v(names[1], a.attnIn, dkp, C, kD)
            v(names[2], a.attnIn, dv, C, kD)
            matmulBackward(dinp: dAttnIn.ptr, dweight: nil, dbias: nil, dout: dqp.cptr, inp: a.attnIn.cptr, weight: lwb(w, l, "q"), N: N, C: C, OC: qD)
            for (dd, role) in [(dkp, "k"), (dv, "v")] {
                matmulBackward(dinp: dAttnIn.ptr, dweight: nil, dbias: nil, dout: dd.cptr, inp: a.attnIn.cptr, weight: lwb(w, l, role),
                               N: N, C: C, OC: kD, accumulateInput: true)
            }
        }
        // ---- first norm; residual ----
        dInput.ptr.update(from: dResid1.cptr, count: N * C)
        switch arch {
        case "bert": residual(out: dInput.ptr, a: dInput.cptr, b: dAttnIn.cptr, n: N * C)
        case "gpt2":
            layerNormBackward(dinp: dInput.ptr, dweight: nil, dbias: nil, dout: dAttnIn.cptr, inp: a.input.cptr, weight: lwb(w, l, "attn_norm"),
                              mean: a.norm1Mean.cptr, rstd: a.norm1Rstd.cptr, N: N, C: C)
        default:
            rmsNormBackward(dinp: dInput.ptr, dweight: nil, dout: dAttnIn.cptr, inp: a.input.cptr, weight: lwb(w, l, "attn_norm"),
                            rstd: a.norm1Rstd.cptr, N: N, C: C)
        }
    }
}
