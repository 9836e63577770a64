/** Adam (Kingma & Ba) with optional decoupled weight decay (AdamW), on a flat vector. */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private step = 0;

  constructor(
    size: number,
    private readonly learningRate: number,
    private readonly weightDecay = 0,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  /** θ ← θ − lr·(m̂/(√v̂ + ε) + λθ), with lr = learningRate × `rate` (a schedule's factor). */
  update(params: Float64Array, grads: Float64Array, rate = 1): void {
    this.step++;
    const { beta1, beta2, epsilon, weightDecay } = this;
    const lr = this.learningRate * rate;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    for (let i = 0; i < params.length; i++) {
      const g = grads[i] as number;
      const m = beta1 * (this.m[i] as number) + (1 - beta1) * g;
      const v = beta2 * (this.v[i] as number) + (1 - beta2) * g * g;
      this.m[i] = m;
      this.v[i] = v;
      const theta = params[i] as number;
      params[i] = theta - lr * (m / c1 / (Math.sqrt(v / c2) + epsilon) + weightDecay * theta);
    }
  }
}
