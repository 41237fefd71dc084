// Every kernel: forward against the Float64 reference (and the naive Float reference where a fast path exists),
// backward against central differences of the Float64 forward (tolerances: Reference64.swift header).
import Foundation
import LCKernels
import XCTest

final class KernelTests: XCTestCase {
    var rng = LCG(s: 42)

    func testMatmulForwardBackward() {
        let N = 5, C = 7, OC = 6
        let x = rng.array(N * C), w = rng.array(OC * C), b = rng.array(OC), r = rng.array(N * OC)
        let X = FloatBuffer(x), W = FloatBuffer(w), Bb = FloatBuffer(b), Y = FloatBuffer(count: N * OC), Yn = FloatBuffer(count: N * OC)
        matmul(out: Y.ptr, inp: X.cptr, weight: W.cptr, bias: Bb.cptr, N: N, C: C, OC: OC)
        matmulNaive(out: Yn.ptr, inp: X.cptr, weight: W.cptr, bias: Bb.cptr, N: N, C: C, OC: OC)
        let ref = R64.matmul(d(x), d(w), d(b), N: N, C: C, OC: OC)
        XCTAssertLessThanOrEqual(relErr(Y.array, ref), 1e-5)
        XCTAssertLessThanOrEqual(relErr(Yn.array, ref), 1e-5)
        matmul(out: Y.ptr, inp: X.cptr, weight: W.cptr, bias: nil, N: N, C: C, OC: OC)
        XCTAssertLessThanOrEqual(relErr(Y.array, R64.matmul(d(x), d(w), nil, N: N, C: C, OC: OC)), 1e-5)
        // Backward: blas and naive agree; both match finite differences. dweight/dbias accumulate.
        let dY = FloatBuffer(r)
        let dX = FloatBuffer(count: N * C), dW = FloatBuffer(count: OC * C), dB = FloatBuffer(count: OC)
        let dXn = FloatBuffer(count: N * C), dWn = FloatBuffer(count: OC * C), dBn = FloatBuffer(count: OC)
        matmulBackward(dinp: dX.ptr, dweight: dW.ptr, dbias: dB.ptr, dout: dY.cptr, inp: X.cptr, weight: W.cptr, N: N, C: C, OC: OC)
        matmulBackwardNaive(dinp: dXn.ptr, dweight: dWn.ptr, dbias: dBn.ptr, dout: dY.cptr, inp: X.cptr, weight: W.cptr, N: N, C: C, OC: OC)
        XCTAssertLessThanOrEqual(relErr(dW.array, d(dWn.array)), 1e-5)
        XCTAssertLessThanOrEqual(relErr(dX.array, d(dXn.array)), 1e-5)
        fdCheck("matmul dinp", x, dX.array) { dot(R64.matmul($0, d(w), d(b), N: N, C: C, OC: OC), r) }
        fdCheck("matmul dweight", w, dW.array) { dot(R64.matmul(d(x), $0, d(b), N: N, C: C, OC: OC), r) }
        fdCheck("matmul dbias", b, dB.array) { dot(R64.matmul(d(x), d(w), $0, N: N, C: C, OC: OC), r) }
        matmulBackward(dinp: nil, dweight: dW.ptr, dbias: nil, dout: dY.cptr, inp: X.cptr, weight: W.cptr, N: N, C: C, OC: OC)
        XCTAssertLessThanOrEqual(relErr(dW.array, d(dWn.array).map { 2 * $0 }), 1e-5, "dweight accumulates")
        // accumulateInput: dinp += dout·W (β = 1) onto what is there.
        let prior = rng.array(N * C), dXa = FloatBuffer(prior)
        matmulBackward(dinp: dXa.ptr, dweight: nil, dbias: nil, dout: dY.cptr, inp: X.cptr, weight: W.cptr, N: N, C: C, OC: OC,
                       accumulateInput: true)
        XCTAssertLessThanOrEqual(relErr(dXa.array, zip(prior, dXn.array).map { Double($0) + Double($1) }), 1e-5, "dinp accumulates")
    }

    func testRMSNorm() {
        let N = 4, C = 8, eps: Float = 1e-5
        let x = rng.array(N * C), w = rng.array(C).map { 1 + 0.3 * $0 }, r = rng.array(N * C)
        let X = FloatBuffer(x), W = FloatBuffer(w), Y = FloatBuffer(count: N * C), rstd = FloatBuffer(count: N)
        rmsNorm(out: Y.ptr, rstd: rstd.ptr, inp: X.cptr, weight: W.cptr, eps: eps, N: N, C: C)
        XCTAssertLessThanOrEqual(relErr(Y.array, R64.rmsNorm(d(x), d(w), eps: Double(eps), N: N, C: C)), 1e-5)
        let dX = FloatBuffer(count: N * C), dW = FloatBuffer(count: C), dY = FloatBuffer(r)
        rmsNormBackward(dinp: dX.ptr, dweight: dW.ptr, dout: dY.cptr, inp: X.cptr, weight: W.cptr, rstd: rstd.cptr, N: N, C: C)
        fdCheck("rmsNorm dinp", x, dX.array) { dot(R64.rmsNorm($0, d(w), eps: Double(eps), N: N, C: C), r) }
        fdCheck("rmsNorm dweight", w, dW.array) { dot(R64.rmsNorm(d(x), $0, eps: Double(eps), N: N, C: C), r) }
    }

    func testLayerNorm() {
        let N = 4, C = 8, eps: Float = 1e-5
        let x = rng.array(N * C), w = rng.array(C).map { 1 + 0.3 * $0 }, b = rng.array(C), r = rng.array(N * C)
        let X = FloatBuffer(x), W = FloatBuffer(w), Bb = FloatBuffer(b), Y = FloatBuffer(count: N * C)
        let mean = FloatBuffer(count: N), rstd = FloatBuffer(count: N)
        layerNorm(out: Y.ptr, mean: mean.ptr, rstd: rstd.ptr, inp: X.cptr, weight: W.cptr, bias: Bb.cptr, eps: eps, N: N, C: C)
        XCTAssertLessThanOrEqual(relErr(Y.array, R64.layerNorm(d(x), d(w), d(b), eps: Double(eps), N: N, C: C)), 1e-5)
        let dX = FloatBuffer(count: N * C), dW = FloatBuffer(count: C), dB = FloatBuffer(count: C), dY = FloatBuffer(r)
        layerNormBackward(dinp: dX.ptr, dweight: dW.ptr, dbias: dB.ptr, dout: dY.cptr, inp: X.cptr, weight: W.cptr,
                          mean: mean.cptr, rstd: rstd.cptr, N: N, C: C)
        let e = Double(eps)
        fdCheck("layerNorm dinp", x, dX.array) { dot(R64.layerNorm($0, d(w), d(b), eps: e, N: N, C: C), r) }
        fdCheck("layerNorm dweight", w, dW.array) { dot(R64.layerNorm(d(x), $0, d(b), eps: e, N: N, C: C), r) }
        fdCheck("layerNorm dbias", b, dB.array) { dot(R64.layerNorm(d(x), d(w), $0, eps: e, N: N, C: C), r) }
    }

    func testRopeAndLlama3InvFreq() {
        let B = 2, T = 5, NH = 3, HS = 8
        for R in [8, 4] {  // full and partial rotary
            let inv = ropeInvFreq(rotaryDim: R, theta: 10000)
            let (cs, sn) = ropeTables(invFreq: inv, T: T)
            let x = rng.array(B * T * NH * HS), r = rng.array(B * T * NH * HS)
            let X = FloatBuffer(x)
            cs.withUnsafeBufferPointer { c in sn.withUnsafeBufferPointer { s in
                rope(x: X.ptr, cos: c.baseAddress!, sin: s.baseAddress!, B: B, T: T, NH: NH, HS: HS, R: R)
            } }
            XCTAssertLessThanOrEqual(relErr(X.array, R64.rope(d(x), cos: cs, sin: sn, B: B, T: T, NH: NH, HS: HS, R: R)), 1e-6)
            let dX = FloatBuffer(r)
            cs.withUnsafeBufferPointer { c in sn.withUnsafeBufferPointer { s in
                ropeBackward(dx: dX.ptr, cos: c.baseAddress!, sin: s.baseAddress!, B: B, T: T, NH: NH, HS: HS, R: R)
            } }
            fdCheck("rope R=\(R)", x, dX.array) { dot(R64.rope($0, cos: cs, sin: sn, B: B, T: T, NH: NH, HS: HS, R: R), r) }
        }
        // inv_freq: position 0 of each pair is theta^0 = 1; llama3 keeps high frequencies, divides low ones by factor.
        let plain = ropeInvFreq(rotaryDim: 64, theta: 500_000)
        let scaled = ropeInvFreq(rotaryDim: 64, theta: 500_000, llama3: (8, 1, 4, 8192))
        XCTAssertEqual(plain[0], 1)
        XCTAssertEqual(scaled[0], plain[0])
        XCTAssertEqual(Double(scaled[31]), Double(plain[31]) / 8, accuracy: 1e-12)
        for i in 0..<32 {
            let wl = 2 * Double.pi / Double(plain[i])
            if wl >= 8192.0 / 4 && wl <= 8192 { XCTAssertTrue(scaled[i] < plain[i] && scaled[i] > plain[i] / 8) }
        }
    }

    func attentionCase(causal: Bool, masked: Bool, NH: Int, KVH: Int) {
        let B = 2, T = 5, HS = 4
        let q = rng.array(B * T * NH * HS), k = rng.array(B * T * KVH * HS), v = rng.array(B * T * KVH * HS)
        let r = rng.array(B * T * NH * HS)
        let maskArr: [Float]? = masked ? [1, 1, 1, 1, 1, 1, 1, 1, 0, 0] : nil
        let Q = FloatBuffer(q), K = FloatBuffer(k), Vb = FloatBuffer(v)
        let O = FloatBuffer(count: q.count), On = FloatBuffer(count: q.count)
        let A = FloatBuffer(count: B * NH * T * T), An = FloatBuffer(count: B * NH * T * T)
        let M = FloatBuffer(maskArr ?? [])
        let mp: UnsafePointer<Float>? = masked ? M.cptr : nil
        attention(out: O.ptr, att: A.ptr, q: Q.cptr, k: K.cptr, v: Vb.cptr, keyMask: mp, causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS)
        attentionNaive(out: On.ptr, att: An.ptr, q: Q.cptr, k: K.cptr, v: Vb.cptr, keyMask: mp, causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS)
        let ref = R64.attention(d(q), d(k), d(v), mask: maskArr, causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS)
        let tag = "causal=\(causal) masked=\(masked) NH=\(NH) KVH=\(KVH)"
        XCTAssertLessThanOrEqual(relErr(O.array, ref), 1e-5, tag)
        XCTAssertLessThanOrEqual(relErr(On.array, ref), 1e-5, tag)
        XCTAssertLessThanOrEqual(relErr(A.array, d(An.array)), 1e-5, tag)
        // Without kept probabilities: same output, bit for bit.
        let O2 = FloatBuffer(count: q.count)
        attention(out: O2.ptr, att: nil, q: Q.cptr, k: K.cptr, v: Vb.cptr, keyMask: mp, causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS)
        XCTAssertEqual(O2.array, O.array, tag)
        let dQ = FloatBuffer(count: q.count), dK = FloatBuffer(count: k.count), dV = FloatBuffer(count: v.count)
        let dO = FloatBuffer(r)
        attentionBackward(dq: dQ.ptr, dk: dK.ptr, dv: dV.ptr, dout: dO.cptr, q: Q.cptr, k: K.cptr, v: Vb.cptr,
                          att: A.cptr, keyMask: mp, causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS)
        // Probabilities recomputed in the backward instead of read: the same gradients, bit for bit.
        let dQ2 = FloatBuffer(count: q.count), dK2 = FloatBuffer(rng.array(k.count)), dV2 = FloatBuffer(rng.array(v.count))
        attentionBackward(dq: dQ2.ptr, dk: dK2.ptr, dv: dV2.ptr, dout: dO.cptr, q: Q.cptr, k: K.cptr, v: Vb.cptr,
                          att: nil, keyMask: mp, causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS)
        XCTAssertEqual(dQ2.array, dQ.array, tag); XCTAssertEqual(dK2.array, dK.array, tag); XCTAssertEqual(dV2.array, dV.array, tag)
        let f = { (q: [Double], k: [Double], v: [Double]) in
            dot(R64.attention(q, k, v, mask: maskArr, causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS), r)
        }
        fdCheck("attention dq " + tag, q, dQ.array) { f($0, d(k), d(v)) }
        fdCheck("attention dk " + tag, k, dK.array) { f(d(q), $0, d(v)) }
        fdCheck("attention dv " + tag, v, dV.array) { f(d(q), d(k), $0) }
    }

    func testAttention() {
        attentionCase(causal: true, masked: false, NH: 4, KVH: 2)   // GQA
        attentionCase(causal: true, masked: false, NH: 3, KVH: 3)
        attentionCase(causal: false, masked: true, NH: 2, KVH: 2)   // BERT padding
        attentionCase(causal: false, masked: false, NH: 4, KVH: 1)  // MQA
    }

    func testActivations() {
        let n = 40
        let g = rng.array(n, scale: 4), u = rng.array(n, scale: 2), r = rng.array(n)
        let G = FloatBuffer(g), U = FloatBuffer(u), Y = FloatBuffer(count: n), dG = FloatBuffer(count: n), dU = FloatBuffer(count: n)
        let dY = FloatBuffer(r)
        swiglu(out: Y.ptr, gate: G.cptr, up: U.cptr, n: n)
        XCTAssertLessThanOrEqual(relErr(Y.array, (0..<n).map { R64.silu(Double(g[$0])) * Double(u[$0]) }), 1e-5)
        swigluBackward(dgate: dG.ptr, dup: dU.ptr, dout: dY.cptr, gate: G.cptr, up: U.cptr, n: n)
        fdCheck("swiglu dgate", g, dG.array) { gs in dot((0..<n).map { R64.silu(gs[$0]) * Double(u[$0]) }, r) }
        fdCheck("swiglu dup", u, dU.array) { us in dot((0..<n).map { R64.silu(Double(g[$0])) * us[$0] }, r) }
        for (name, fwd, bwd, ref) in [("gelu", gelu, geluBackward, R64.gelu), ("geluTanh", geluTanh, geluTanhBackward, R64.geluTanh)]
            as [(String, (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
                 (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Void, (Double) -> Double)] {
            fwd(Y.ptr, G.cptr, n)
            XCTAssertLessThanOrEqual(relErr(Y.array, d(g).map(ref)), 1e-5, name)
            bwd(dG.ptr, dY.cptr, G.cptr, n)
            fdCheck(name, g, dG.array) { dot($0.map(ref), r) }
        }
        // gelu_new differs from exact gelu (guards against swapping them).
        XCTAssertGreaterThan(abs(R64.gelu(-1.5) - R64.geluTanh(-1.5)), 1e-5)
    }

    func testSoftmaxAndCrossEntropy() {
        let N = 4, V = 9
        let x = rng.array(N * V, scale: 5), r = rng.array(N * V)
        let targets: [Int32] = [3, -1, 0, 8]
        let X = FloatBuffer(x), P = FloatBuffer(count: N * V), dX = FloatBuffer(count: N * V), dP = FloatBuffer(r)
        softmax(probs: P.ptr, logits: X.cptr, N: N, V: V)
        XCTAssertLessThanOrEqual(relErr(P.array, R64.softmax(d(x), N: N, V: V)), 1e-5)
        softmaxBackward(dlogits: dX.ptr, dprobs: dP.cptr, probs: P.cptr, N: N, V: V)
        fdCheck("softmax", x, dX.array) { dot(R64.softmax($0, N: N, V: V), r) }
        let L = FloatBuffer(count: N), dL = FloatBuffer([0.5, 0.5, 0.25, 1])
        let total = targets.withUnsafeBufferPointer { crossEntropy(losses: L.ptr, logits: X.cptr, targets: $0.baseAddress!, N: N, V: V) }
        let ref = R64.crossEntropy(d(x), targets, N: N, V: V)
        XCTAssertLessThanOrEqual(relErr(L.array, ref), 1e-5)
        XCTAssertEqual(total, ref.reduce(0, +), accuracy: 1e-4)
        XCTAssertEqual(L.array[1], 0)
        targets.withUnsafeBufferPointer {
            crossEntropyBackward(dlogits: dX.ptr, dlosses: dL.cptr, logits: X.cptr, targets: $0.baseAddress!, N: N, V: V)
        }
        fdCheck("crossEntropy", x, dX.array) { dot(R64.crossEntropy($0, targets, N: N, V: V), dL.array) }
        // The fused kernel equals the two separate ones, also in place (dlogits = the logits buffer).
        for inPlace in [false, true] {
            let X2 = FloatBuffer(x), L2 = FloatBuffer(count: N), dX2 = inPlace ? X2 : FloatBuffer(count: N * V)
            let t2 = targets.withUnsafeBufferPointer {
                crossEntropyForwardBackward(losses: L2.ptr, dlogits: dX2.ptr, dlosses: dL.cptr, logits: X2.cptr, targets: $0.baseAddress!, N: N, V: V)
            }
            // fastExp (fused) vs expf (separate): ≤ 1.2e-7 relative per exponential.
            XCTAssertEqual(t2, total, accuracy: 1e-6 * abs(total), "in place: \(inPlace)")
            for i in 0..<N { XCTAssertEqual(L2.array[i], L.array[i], accuracy: 1e-6 * max(1, abs(L.array[i])), "loss[\(i)]") }
            for i in 0..<(N * V) { XCTAssertEqual(dX2.array[i], dX.array[i], accuracy: 3e-7, "dlogits[\(i)] in place: \(inPlace)") }
        }
        // Large logits do not overflow (max shift).
        let big = FloatBuffer([1000, 0, -1000]), lb = FloatBuffer(count: 1)
        [Int32(1)].withUnsafeBufferPointer { _ = crossEntropy(losses: lb.ptr, logits: big.cptr, targets: $0.baseAddress!, N: 1, V: 3) }
        XCTAssertEqual(lb.array[0], 1000, accuracy: 1e-3)
    }

    func testEmbeddingAndResidual() {
        let B = 2, T = 3, C = 4, V = 5
        let wte = rng.array(V * C), wpe = rng.array(T * C), ty = rng.array(C), r = rng.array(B * T * C)
        let tokens: [Int32] = [4, 0, 4, 1, 2, 3]
        let E = FloatBuffer(wte), P = FloatBuffer(wpe), Ty = FloatBuffer(ty), Y = FloatBuffer(count: B * T * C)
        tokens.withUnsafeBufferPointer {
            embedding(out: Y.ptr, tokens: $0.baseAddress!, wte: E.cptr, wpe: P.cptr, typeRow: Ty.cptr, B: B, T: T, C: C, V: V)
        }
        func ref(_ e: [Double], _ p: [Double], _ t: [Double]) -> [Double] {
            (0..<(B * T * C)).map { i in
                let bt = i / C, c = i % C
                return e[Int(tokens[bt]) * C + c] + p[(bt % T) * C + c] + t[c]
            }
        }
        XCTAssertLessThanOrEqual(relErr(Y.array, ref(d(wte), d(wpe), d(ty))), 1e-6)
        let dE = FloatBuffer(count: V * C), dP = FloatBuffer(count: T * C), dT = FloatBuffer(count: C), dY = FloatBuffer(r)
        tokens.withUnsafeBufferPointer {
            embeddingBackward(dwte: dE.ptr, dwpe: dP.ptr, dtypeRow: dT.ptr, dout: dY.cptr, tokens: $0.baseAddress!, B: B, T: T, C: C)
        }
        fdCheck("embedding dwte", wte, dE.array) { dot(ref($0, d(wpe), d(ty)), r) }
        fdCheck("embedding dwpe", wpe, dP.array) { dot(ref(d(wte), $0, d(ty)), r) }
        fdCheck("embedding dtype", ty, dT.array) { dot(ref(d(wte), d(wpe), $0), r) }
        let a = FloatBuffer([1, 2]), b = FloatBuffer([3, 4]), o = FloatBuffer(count: 2)
        residual(out: o.ptr, a: a.cptr, b: b.cptr, n: 2)
        XCTAssertEqual(o.array, [4, 6])
        residualBackward(da: a.ptr, db: b.ptr, dout: o.cptr, n: 2)
        XCTAssertEqual(a.array, [5, 8]); XCTAssertEqual(b.array, [7, 10])
    }

    /// The per-head tasks split over threads (single-threaded BLAS inside) give the serial results, for causal GQA
    /// and masked bidirectional attention, and leave the OpenBLAS thread count as it was.
    func testAttentionSplitOverThreadsMatchesSerial() {
        let B = 3, T = 17, HS = 8, before = Threads.current, workers = Parallel.workers
        defer { Threads.set(before); Parallel.workers = workers }
        for (NH, KVH, causal) in [(4, 2, true), (6, 3, false)] {
            let q = rng.array(B * T * NH * HS), k = rng.array(B * T * KVH * HS), v = rng.array(B * T * KVH * HS)
            let dout = rng.array(B * T * NH * HS)
            var mask = [Float](repeating: 1, count: B * T); for t in 12..<T { mask[T + t] = 0 }
            func run(threads: Int) -> [[Float]] {
                Threads.set(threads)
                let O = FloatBuffer(count: B * T * NH * HS), A = FloatBuffer(count: B * NH * T * T)
                let dQ = FloatBuffer(count: q.count), dK = FloatBuffer(rng.array(k.count)), dV = FloatBuffer(rng.array(v.count))
                let Q = FloatBuffer(q), K = FloatBuffer(k), Vb = FloatBuffer(v), dO = FloatBuffer(dout)
                mask.withUnsafeBufferPointer { mp in
                    attention(out: O.ptr, att: A.ptr, q: Q.cptr, k: K.cptr, v: Vb.cptr, keyMask: causal ? nil : mp.baseAddress,
                              causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS)
                }
                XCTAssertEqual(Threads.current, threads)
                let dQ2 = FloatBuffer(count: q.count), dK2 = FloatBuffer(count: k.count), dV2 = FloatBuffer(count: v.count)
                mask.withUnsafeBufferPointer { mp in
                    let m = causal ? nil : mp.baseAddress
                    attentionBackward(dq: dQ.ptr, dk: dK.ptr, dv: dV.ptr, dout: dO.cptr, q: Q.cptr, k: K.cptr, v: Vb.cptr,
                                      att: A.cptr, keyMask: m, causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS)
                    attentionBackward(dq: dQ2.ptr, dk: dK2.ptr, dv: dV2.ptr, dout: dO.cptr, q: Q.cptr, k: K.cptr, v: Vb.cptr,
                                      att: nil, keyMask: m, causal: causal, B: B, T: T, NH: NH, KVH: KVH, HS: HS)
                }
                XCTAssertEqual(Threads.current, threads)
                return [O.array, A.array, dQ.array, dK.array, dV.array, dQ2.array, dK2.array, dV2.array]
            }
            let serial = run(threads: 1), split = run(threads: 2)
            for i in 2..<5 { XCTAssertEqual(serial[i + 3], serial[i]); XCTAssertEqual(split[i + 3], split[i]) }  // recomputed P
            for (i, name) in ["out", "att", "dq", "dk", "dv"].enumerated() {
                XCTAssertLessThanOrEqual(relErr(split[i], serial[i].map(Double.init)), 1e-6, "\(name) NH \(NH) KVH \(KVH)")
            }
        }
    }

    /// fastExp against a Float64 exp over the whole useful range, and its edge cases.
    func testFastExp() {
        var worst = 0.0, x: Float = -87
        while x < 88.5 {
            let ref = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(fastExp(x)) - ref) / ref)
            x += 0.000731
        }
        XCTAssertLessThanOrEqual(worst, 1.2e-7)
        XCTAssertEqual(fastExp(0), 1)
        XCTAssertTrue(fastExp(.nan).isNaN)
        XCTAssertLessThanOrEqual(fastExp(-.infinity), 1.2e-38)
        XCTAssertLessThanOrEqual(fastExp(-1000), 1.2e-38)
        XCTAssertGreaterThanOrEqual(fastExp(.infinity), 3.3e38)
        XCTAssertGreaterThanOrEqual(fastExp(89), 3.3e38)
        // A plain loop over it (the vectorized form) gives the same values element by element.
        let xs = (0..<1000).map { Float($0) * 0.173 - 86.5 }
        var ys = [Float](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { xp in ys.withUnsafeMutableBufferPointer { yp in for i in 0..<xs.count { yp[i] = fastExp(xp[i]) } } }
        for i in xs.indices { XCTAssertEqual(ys[i], fastExp(xs[i])) }
    }

    /// Carved buffers: the asked counts, zeroed, 64-byte aligned, disjoint, and usable after the others are gone.
    func testCarvedBuffersAreDisjointZeroedAndKeepTheirMemory() {
        let counts = [5, 0, 1 << 20, 17, 3]
        let last: FloatBuffer = {
            let v = FloatBuffer.carve(counts)
            XCTAssertEqual(v.map(\.count), counts)
            for (i, b) in v.enumerated() {
                XCTAssertEqual(Int(bitPattern: b.ptr) % 64, 0, "view \(i) alignment")
                XCTAssertTrue(b.array.allSatisfy { $0 == 0 }, "view \(i) zeroed")
                for j in 0..<b.count { b.ptr[j] = Float(i + 1) }
            }
            for (i, b) in v.enumerated() { XCTAssertTrue(b.array.allSatisfy { $0 == Float(i + 1) }, "view \(i) overwritten by another") }
            return v[4]
        }()
        // The other views are gone; the last one still owns its memory (a big allocation in between churns the heap).
        _ = FloatBuffer(count: 1 << 21)
        last.ptr[2] = 42
        XCTAssertEqual(last.array, [5, 5, 42])
    }

    func testThreads() {
        let before = Threads.current
        Threads.set(1)
        XCTAssertEqual(Threads.current, 1)
        Threads.set(before)
    }
}
