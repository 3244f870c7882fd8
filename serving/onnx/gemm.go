package onnx

import "math"

// Float32 dot products in the order onnxruntime's MLAS SGEMM accumulates them, so that our
// float32 results match its results bit for bit where they can: each output is a chain of
// fused multiply-adds over k, in blocks of strideK(n, k), and each block's sum is added to the
// output (alpha-scaled, onto the bias when there is one).

// strideK is MLAS's SGEMM block length along k for n outputs and k inputs: 128, doubled for
// each halving of the n stride (128 down to 16) that still covers n, when n < k.
func strideK(n, k int) int {
	sn, sk := 128, 128
	if n >= k {
		return max(sk, k)
	}
	for sn > 16 && sn/2 >= n {
		sk *= 2
		sn /= 2
	}
	return sk
}

// fma32 is a float32 fused multiply-add.
func fma32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}

// dotFMA32 is the dot product of x and y[:len(x)] as one chain of float32 FMAs.
func dotFMA32(x, y []float32) float32 {
	y = y[:len(x)]
	var acc float32
	for k, v := range x {
		acc = fma32(v, y[k], acc)
	}
	return acc
}

// gemmRow sets out[j] = alpha·(x · w[j]) (+ out[j] when accumulate is set), where w holds
// len(out) rows of len(x) values. It works on four outputs at a time for instruction-level
// parallelism; each output's arithmetic is still MLAS's chain.
func gemmRow(x, w []float32, out []float32, alpha float32, accumulate bool) {
	k := len(x)
	n := len(out)
	if k == 0 {
		if !accumulate {
			clear(out)
		}
		return
	}
	stride := strideK(n, k)
	for kb := 0; kb < k; kb += stride {
		ke := min(kb+stride, k)
		xb := x[kb:ke]
		first := kb == 0 && !accumulate
		j := 0
		for ; j+4 <= n; j += 4 {
			w0 := w[j*k+kb : j*k+ke]
			w1 := w[(j+1)*k+kb : (j+1)*k+ke]
			w2 := w[(j+2)*k+kb : (j+2)*k+ke]
			w3 := w[(j+3)*k+kb : (j+3)*k+ke]
			var a0, a1, a2, a3 float32
			for i, v := range xb {
				a0 = fma32(v, w0[i], a0)
				a1 = fma32(v, w1[i], a1)
				a2 = fma32(v, w2[i], a2)
				a3 = fma32(v, w3[i], a3)
			}
			o := out[j : j+4]
			if first {
				o[0], o[1], o[2], o[3] = alpha*a0, alpha*a1, alpha*a2, alpha*a3
			} else {
				o[0], o[1], o[2], o[3] = fma32(a0, alpha, o[0]), fma32(a1, alpha, o[1]), fma32(a2, alpha, o[2]), fma32(a3, alpha, o[3])
			}
		}
		for ; j < n; j++ {
			a := dotFMA32(xb, w[j*k+kb:j*k+ke])
			if first {
				out[j] = alpha * a
			} else {
				out[j] = fma32(a, alpha, out[j])
			}
		}
	}
}

// gemm64 is the kernel of the dense operators (Gemm, MatMul) on float32 tensors: out[i][j] =
// alpha·(a[i] · w[j]) + bias(i, j), with a as m rows and w as n rows of k float64 values (the
// float32 inputs, exactly), accumulated in float64 and rounded once. It is at least as
// accurate as onnxruntime's float32 kernel and agrees with it to float32 rounding; it works
// on two rows by four outputs at a time so that each weight load serves two rows.
func gemm64(a, w []float64, m, n, k int, alpha float64, bias func(i, j int) float64, out []float32) {
	var acc [8]float64
	i := 0
	for ; i+2 <= m; i += 2 {
		x0 := a[i*k : (i+1)*k]
		x1 := a[(i+1)*k : (i+2)*k]
		j := 0
		for ; j+4 <= n; j += 4 {
			w0 := w[j*k : (j+1)*k]
			w1 := w[(j+1)*k : (j+2)*k]
			w2 := w[(j+2)*k : (j+3)*k]
			w3 := w[(j+3)*k : (j+4)*k]
			var s00, s01, s02, s03, s10, s11, s12, s13 float64
			for q := range x0 {
				v0, v1 := x0[q], x1[q]
				b0, b1, b2, b3 := w0[q], w1[q], w2[q], w3[q]
				s00 += v0 * b0
				s01 += v0 * b1
				s02 += v0 * b2
				s03 += v0 * b3
				s10 += v1 * b0
				s11 += v1 * b1
				s12 += v1 * b2
				s13 += v1 * b3
			}
			acc = [8]float64{s00, s01, s02, s03, s10, s11, s12, s13}
			for r := range 2 {
				for c := range 4 {
					v := alpha * acc[r*4+c]
					if bias != nil {
						v += bias(i+r, j+c)
					}
					out[(i+r)*n+j+c] = float32(v)
				}
			}
		}
		for ; j < n; j++ {
			wj := w[j*k : (j+1)*k]
			var s0, s1 float64
			for q := range x0 {
				s0 += x0[q] * wj[q]
				s1 += x1[q] * wj[q]
			}
			for r, s := range [2]float64{s0, s1} {
				v := alpha * s
				if bias != nil {
					v += bias(i+r, j)
				}
				out[(i+r)*n+j] = float32(v)
			}
		}
	}
	for ; i < m; i++ {
		x0 := a[i*k : (i+1)*k]
		j := 0
		for ; j+4 <= n; j += 4 {
			w0 := w[j*k : (j+1)*k]
			w1 := w[(j+1)*k : (j+2)*k]
			w2 := w[(j+2)*k : (j+3)*k]
			w3 := w[(j+3)*k : (j+4)*k]
			var s0, s1, s2, s3 float64
			for q, v := range x0 {
				s0 += v * w0[q]
				s1 += v * w1[q]
				s2 += v * w2[q]
				s3 += v * w3[q]
			}
			for c, s := range [4]float64{s0, s1, s2, s3} {
				v := alpha * s
				if bias != nil {
					v += bias(i, j+c)
				}
				out[i*n+j+c] = float32(v)
			}
		}
		for ; j < n; j++ {
			wj := w[j*k : (j+1)*k]
			var s float64
			for q, v := range x0 {
				s += v * wj[q]
			}
			v := alpha * s
			if bias != nil {
				v += bias(i, j)
			}
			out[i*n+j] = float32(v)
		}
	}
}

// widen converts float32 values to float64.
func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
