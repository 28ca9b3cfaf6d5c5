// The convolution entry point for conv-heavy models (the VAEs): picks the fastest kernel for
// the shape. For now every shape goes to im2col + sgemm (conv3d).

/// x: [N, C, T, H, W], weight: [O, C, kt, kh, kw], bias: [O] -> [N, O, T', H', W'].
public func convolution(_ x: Tensor, weight: WeightTensor, bias: WeightTensor?, stride: (Int, Int, Int) = (1, 1, 1),
                        padding: Padding3D = Padding3D()) -> Tensor {
    conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding)
}
